#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace lmcache::testing {

struct TestResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = true;

  // The body parsed as JSON (throws when it is not JSON).
  boost::json::value json() const;
  std::string header(const std::string& lower_name) const;
};

// A blocking HTTP/1.1 client for tests: one keep-alive connection to
// 127.0.0.1:port, reopened when the server closed it. Every call has a
// deadline, so a broken server fails a test instead of hanging it.
class HttpTestClient {
 public:
  explicit HttpTestClient(uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpTestClient();

  TestResponse request(boost::beast::http::verb method, const std::string& target,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
  TestResponse get(const std::string& target) {
    return request(boost::beast::http::verb::get, target);
  }
  TestResponse post(const std::string& target, const std::string& body) {
    return request(boost::beast::http::verb::post, target, body);
  }
  TestResponse put(const std::string& target, const std::string& body = "") {
    return request(boost::beast::http::verb::put, target, body);
  }
  TestResponse del(const std::string& target, const std::string& body = "") {
    return request(boost::beast::http::verb::delete_, target, body);
  }

  // Whether the current connection is open (false after the server closed it).
  bool connected();

  // Number of TCP connections opened so far (to check keep-alive reuse).
  int connections_opened() const { return connections_opened_; }

  void close();

 private:
  void ensure_connected();

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  std::optional<boost::beast::tcp_stream> stream_;
  int connections_opened_ = 0;
};

// Sends raw bytes on a fresh connection and returns everything the server
// sends back until it closes or `timeout` passes (for malformed-request tests).
std::string send_raw(uint16_t port, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace lmcache::testing
