// HTTPS end to end: the real binary with certificates made by a test CA (the openssl command).
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "coordinator_process.h"
#include "http_test_client.h"
#include "https_test_client.h"
#include "test_pki.h"

namespace lmcache::testing {
namespace {

using boost::beast::http::verb;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestPki::openssl_available()) GTEST_SKIP() << "the openssl command is not installed";
    pki_.emplace();
    server_ = pki_->server("server", 2);
  }

  // The coordinator serving HTTPS with server_, plus `args`.
  std::unique_ptr<CoordinatorProcess> start(std::vector<std::string> args = {}) {
    std::vector<std::string> all{"--tls-cert", server_.cert, "--tls-key", server_.key};
    all.insert(all.end(), args.begin(), args.end());
    return std::make_unique<CoordinatorProcess>(all);
  }

  static HttpsOutcome get(const CoordinatorProcess& process, const TlsClientOptions& options) {
    return https_request(process.port(), options, verb::get, "/healthz");
  }

  std::optional<TestPki> pki_;
  CertificatePair server_;
};

TEST_F(TlsTest, ServesHttpsWithTheGivenCertificate) {
  auto process = start();
  EXPECT_TRUE(process->wait_for_log("listening on https://127.0.0.1:"));
  const HttpsOutcome outcome = get(*process, {pki_->ca_cert()});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.response.status, 200U);
  EXPECT_EQ(outcome.server_serial, "02");
  // A request with a body, over the same kind of connection.
  const HttpsOutcome registered =
      https_request(process->port(), {pki_->ca_cert()}, verb::post, "/instances",
                    R"({"instance_id":"a","ip":"127.0.0.1","http_port":1})");
  ASSERT_EQ(registered.error, "");
  EXPECT_EQ(registered.response.status, 200U) << registered.response.body;
  EXPECT_EQ(registered.response.body, R"({"instance_id":"a","re_registered":false})");
}

TEST_F(TlsTest, RefusesTlsOlderThanOnePointTwo) {
  auto process = start();
  // The client offers TLS 1.1 (or 1.0) at OpenSSL security level 0: the refusal is the server's.
  for (const int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    const HttpsOutcome old = get(*process, {pki_->ca_cert(), "", "", version});
    EXPECT_EQ(old.error.rfind("handshake:", 0), 0U) << version << ": " << old.error;
  }
  const HttpsOutcome tls12 = get(*process, {pki_->ca_cert(), "", "", TLS1_2_VERSION});
  ASSERT_EQ(tls12.error, "");
  EXPECT_EQ(tls12.protocol, "TLSv1.2");
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsClosedAndTheServerKeepsServing) {
  auto process = start();
  const auto started = std::chrono::steady_clock::now();
  const std::string answer = send_raw(
      process->port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", std::chrono::seconds(5));
  // Closed at once (at most a TLS alert comes back), not left to a timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
  EXPECT_EQ(answer.find("HTTP/1.1"), std::string::npos) << answer;
  const HttpsOutcome outcome = get(*process, {pki_->ca_cert()});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.response.status, 200U);
}

TEST_F(TlsTest, AHandshakeThatDoesNotBeginIsClosedAfterTheKeepAliveTimeout) {
  auto process = start({"--timeout-keep-alive", "0.5"});
  const auto started = std::chrono::steady_clock::now();
  const std::string answer = send_raw(process->port(), "", std::chrono::seconds(10));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer, "");
  EXPECT_GE(waited, std::chrono::milliseconds(450));
  EXPECT_LT(waited, std::chrono::seconds(5));  // closed by the server, not by send_raw's timeout
}

TEST_F(TlsTest, ClientCaRequiresACertificateItSigned) {
  const auto client = pki_->client("client", "node-7");
  const auto stranger = pki_->self_signed("stranger", "node-7");
  auto process = start({"--tls-client-ca", pki_->ca_cert()});

  const HttpsOutcome without = get(*process, {pki_->ca_cert()});
  EXPECT_NE(without.error, "") << without.response.status;
  const HttpsOutcome self_signed = get(*process, {pki_->ca_cert(), stranger.cert, stranger.key});
  EXPECT_NE(self_signed.error, "") << self_signed.response.status;
  const HttpsOutcome signed_by_ca = get(*process, {pki_->ca_cert(), client.cert, client.key});
  ASSERT_EQ(signed_by_ca.error, "");
  EXPECT_EQ(signed_by_ca.response.status, 200U);
}

TEST_F(TlsTest, SighupServesNewConnectionsWithTheNewCertificate) {
  auto process = start();
  ASSERT_EQ(get(*process, {pki_->ca_cert()}).server_serial, "02");

  const auto renewed = pki_->server("renewed", 3);
  namespace fs = std::filesystem;
  fs::copy_file(renewed.cert, server_.cert, fs::copy_options::overwrite_existing);
  fs::copy_file(renewed.key, server_.key, fs::copy_options::overwrite_existing);
  ASSERT_EQ(kill(process->pid(), SIGHUP), 0);
  ASSERT_TRUE(process->wait_for_log("TLS certificates reloaded"));
  EXPECT_EQ(get(*process, {pki_->ca_cert()}).server_serial, "03");

  // A broken file on the next reload: logged, and the renewed certificate stays.
  std::ofstream(server_.key) << "not a key\n";
  ASSERT_EQ(kill(process->pid(), SIGHUP), 0);
  ASSERT_TRUE(process->wait_for_log("TLS reload failed, keeping the previous certificates"));
  const HttpsOutcome outcome = get(*process, {pki_->ca_cert()});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.server_serial, "03");
}

TEST_F(TlsTest, UnusableFilesAtStartExitTwoNamingTheFile) {
  const std::string missing = pki_->dir() + "/missing.pem";
  const auto other = pki_->server("other", 4);
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const Case cases[] = {
      {{"--tls-cert", missing, "--tls-key", server_.key}, "'" + missing + "': cannot be read"},
      {{"--tls-cert", server_.cert, "--tls-key", other.key}, "does not match the certificate"},
      {{"--tls-cert", server_.cert, "--tls-key", server_.key, "--tls-client-ca", server_.key},
       "holds no PEM certificate"},
      {{"--tls-cert", server_.cert}, "needs --tls-key"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args{"coordinator", "--host",       "127.0.0.1", "--port",
                                  "0",           "--state-path", ":memory:"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    const ProcessResult result = run_lmcache(args);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(bad.expected), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace lmcache::testing
