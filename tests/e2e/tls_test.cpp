#include <gtest/gtest.h>

#include "coordinator_process.h"
#include "https_test_client.h"
#include "test_pki.h"

namespace lmcache::testing {
namespace {

TEST(TlsTest, Scratch) {
  TestPki pki;
  const auto server = pki.server("server", 2);
  CoordinatorProcess process({"--tls-cert", server.cert, "--tls-key", server.key, "--log-level", "debug"});
  const HttpsOutcome outcome = https_request(process.port(), {pki.ca_cert()}, boost::beast::http::verb::get, "/health");
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.response.status, 404U);
  std::cerr << process.log();
}

}  // namespace
}  // namespace lmcache::testing
