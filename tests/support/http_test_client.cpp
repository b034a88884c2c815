#include "http_test_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <stdexcept>

namespace lmcache::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

boost::json::value TestResponse::json() const { return boost::json::parse(body); }

std::string TestResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpTestClient::HttpTestClient(uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

HttpTestClient::~HttpTestClient() { close(); }

void HttpTestClient::close() {
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
  }
}

bool HttpTestClient::connected() {
  if (!stream_) return false;
  // A closed peer shows as readable with zero bytes available.
  auto& socket = stream_->socket();
  socket.non_blocking(true);
  char byte;
  beast::error_code ec;
  const size_t n = socket.receive(net::buffer(&byte, 1), tcp::socket::message_peek, ec);
  socket.non_blocking(false);
  if (ec == net::error::would_block) return true;
  return !ec && n > 0;
}

void HttpTestClient::ensure_connected() {
  if (stream_) return;
  stream_.emplace(io_);
  stream_->expires_after(timeout_);
  stream_->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  ++connections_opened_;
}

TestResponse HttpTestClient::request(http::verb method, const std::string& target,
                                     const std::string& body,
                                     const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = stream_.has_value();
    ensure_connected();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method == http::verb::post || method == http::verb::put) {
      if (req[http::field::content_type].empty()) {
        req.set(http::field::content_type, "application/json");
      }
      req.body() = body;
      req.prepare_payload();
    }
    beast::error_code ec;
    stream_->expires_after(timeout_);
    http::write(*stream_, req, ec);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{256} * 1024 * 1024);
    if (!ec) http::read(*stream_, buffer, parser, ec);
    if (ec) {
      close();
      // A pooled connection the server closed meanwhile: retry once on a new one.
      if (reused && attempt == 0) continue;
      throw std::runtime_error("http request " + target + " failed: " + ec.message());
    }
    auto res = parser.release();
    TestResponse out;
    out.status = res.result_int();
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    if (!out.keep_alive) close();
    return out;
  }
  throw std::runtime_error("unreachable");
}

std::string send_raw(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::error_code ec;
  net::write(stream.socket(), net::buffer(bytes), ec);
  std::string received;
  char chunk[4096];
  while (true) {
    stream.expires_after(timeout);
    const size_t n = stream.read_some(net::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
  }
  return received;
}

}  // namespace lmcache::testing
