// HttpServer over TLS, in process: what handlers learn of the peer, and reload_tls().
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "http/http_server.h"
#include "http/router.h"
#include "https_test_client.h"
#include "test_pki.h"

namespace lmcache::http {
namespace {

namespace net = boost::asio;
using testing::HttpsOutcome;
using testing::TestPki;
using testing::TlsClientOptions;

class HttpServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestPki::openssl_available()) GTEST_SKIP() << "the openssl command is not installed";
    pki_.emplace();
    // Answers "<client subject>|<client address>".
    router_.add(beast_http::verb::get, "/peer", [](const RouteRequest& request) {
      HttpResponse response{beast_http::status::ok, 11};
      response.body() = request.client_subject + "|" + request.peer.to_string();
      response.prepare_payload();
      return response;
    });
  }

  void TearDown() override {
    if (server_) server_->stop_accepting();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void start(TlsFiles files) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.tls = std::move(files);
    server_.emplace(io_, options, router_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  HttpsOutcome get(const TlsClientOptions& options) {
    return testing::https_request(server_->port(), options, beast_http::verb::get, "/peer");
  }

  std::optional<TestPki> pki_;
  Router router_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  std::optional<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTlsTest, HandlersSeeTheAddressAndNoSubjectWithoutClientCertificates) {
  const auto server = pki_->server("server", 2);
  start({server.cert, server.key, ""});
  EXPECT_TRUE(server_->serves_tls());
  const HttpsOutcome outcome = get({pki_->ca_cert()});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.response.status, 200U);
  EXPECT_EQ(outcome.response.body, "|127.0.0.1");
  EXPECT_EQ(outcome.protocol, "TLSv1.3");
}

TEST_F(HttpServerTlsTest, HandlersSeeTheVerifiedClientCertificateSubject) {
  const auto server = pki_->server("server", 2);
  const auto client = pki_->client("client", "node-7");
  start({server.cert, server.key, pki_->ca_cert()});
  const HttpsOutcome outcome = get({pki_->ca_cert(), client.cert, client.key});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.response.body, "CN=node-7|127.0.0.1");
}

TEST_F(HttpServerTlsTest, TlsTwelveIsServedAndOlderVersionsAreRefused) {
  const auto server = pki_->server("server", 2);
  start({server.cert, server.key, ""});
  const HttpsOutcome tls12 = get({pki_->ca_cert(), "", "", TLS1_2_VERSION});
  ASSERT_EQ(tls12.error, "");
  EXPECT_EQ(tls12.protocol, "TLSv1.2");
  // The client would speak TLS 1.1 (security level 0): the refusal is the server's.
  const HttpsOutcome tls11 = get({pki_->ca_cert(), "", "", TLS1_1_VERSION});
  EXPECT_NE(tls11.error.find("handshake"), std::string::npos) << tls11.error;
  const HttpsOutcome tls10 = get({pki_->ca_cert(), "", "", TLS1_VERSION});
  EXPECT_NE(tls10.error.find("handshake"), std::string::npos) << tls10.error;
}

TEST_F(HttpServerTlsTest, ReloadServesNewConnectionsWithTheNewFilesAndKeepsTheOldOnesOnError) {
  const auto first = pki_->server("first", 11);
  start({first.cert, first.key, ""});
  EXPECT_EQ(get({pki_->ca_cert()}).server_serial, "0B");

  // The files at the configured paths change.
  const auto second = pki_->server("second", 12);
  std::filesystem::copy_file(second.cert, first.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(second.key, first.key,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(server_->reload_tls());
  EXPECT_EQ(get({pki_->ca_cert()}).server_serial, "0C");

  // A connection opened before the next reload keeps the certificate it began with.
  testing::HttpsTestConnection open_before(server_->port(), {pki_->ca_cert()});
  ASSERT_EQ(open_before.open(), "");
  const auto third = pki_->server("third", 13);
  std::filesystem::copy_file(third.cert, first.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(third.key, first.key,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(server_->reload_tls());
  for (int i = 0; i < 2; ++i) {
    const HttpsOutcome kept = open_before.request(beast_http::verb::get, "/peer");
    ASSERT_EQ(kept.error, "");
    EXPECT_EQ(kept.response.status, 200U);
    EXPECT_EQ(kept.server_serial, "0C");
  }
  EXPECT_EQ(get({pki_->ca_cert()}).server_serial, "0D");

  std::ofstream(first.cert) << "broken\n";
  EXPECT_FALSE(server_->reload_tls());
  const HttpsOutcome outcome = get({pki_->ca_cert()});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.server_serial, "0D");
}

}  // namespace
}  // namespace lmcache::http
