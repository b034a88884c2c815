#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "http_test_client.h"

namespace lmcache::testing {

// How an HTTPS test client connects.
struct TlsClientOptions {
  TlsClientOptions(std::string ca = "", std::string cert = "", std::string key = "",
                   int max_protocol = 0)
      : ca_file(std::move(ca)),
        cert_file(std::move(cert)),
        key_file(std::move(key)),
        max_version(max_protocol) {}

  std::string ca_file;    // verify the server against this CA (with its name 127.0.0.1)
  std::string cert_file;  // with key_file: present this client certificate
  std::string key_file;
  // Non-zero (TLS1_1_VERSION, say): offer no newer protocol than this. Also lowers the
  // client's OpenSSL security level to 0, so a refusal comes from the server.
  int max_version = 0;
};

// What one request over a fresh HTTPS connection came to.
struct HttpsOutcome {
  std::string error;  // empty: the handshake and the exchange succeeded
  TestResponse response;
  std::string server_serial;  // hex serial of the certificate the server presented
  std::string protocol;       // "TLSv1.3", say
};

// One HTTPS keep-alive connection to 127.0.0.1:port. Every step has `timeout`; failures are
// returned, not thrown.
class HttpsTestConnection {
 public:
  HttpsTestConnection(uint16_t port, const TlsClientOptions& options,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpsTestConnection();
  HttpsTestConnection(const HttpsTestConnection&) = delete;
  HttpsTestConnection& operator=(const HttpsTestConnection&) = delete;

  // Connects and runs the TLS handshake; "" when both succeeded, else what failed.
  std::string open();
  // One request on the open connection (error "not open" without one).
  HttpsOutcome request(boost::beast::http::verb method, const std::string& target,
                       const std::string& body = "");
  // Sends a close_notify and closes; nothing when not open.
  void close();

 private:
  struct State;  // OpenSSL and Asio objects, kept out of this header
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
  std::string setup_error_;  // a client file that could not be loaded
  std::string server_serial_;
  std::string protocol_;
};

// Connects to 127.0.0.1:port, runs the TLS handshake and one request, then closes (with a
// close_notify). Every step has `timeout`; a failure is returned, not thrown.
HttpsOutcome https_request(uint16_t port, const TlsClientOptions& options,
                           boost::beast::http::verb method, const std::string& target,
                           const std::string& body = "",
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lmcache::testing
