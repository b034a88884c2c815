#include "client/mp_client.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <utility>
#include <vector>

#include "wire/delete_keys_body.h"

namespace lmcache::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{64} * 1024;

// One request on its own connection: resolve -> connect -> write -> read.
// Every handler holds a shared_ptr to the session, so it lives exactly as long
// as some operation is pending; when the io_context drops its handlers the
// session goes with them.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(const asio::any_io_executor& executor, MpClient::Timeouts timeouts, MpEndpoint to,
          http::request<http::string_body> request, MpClient::Callback done,
          MpClient::DispatchGate gate)
      : strand_(asio::make_strand(executor)),
        resolver_(strand_),
        resolve_timer_(strand_),
        stream_(strand_),
        timeouts_(timeouts),
        to_(std::move(to)),
        request_(std::move(request)),
        done_(std::move(done)),
        gate_(std::move(gate)) {
    parser_.body_limit(MpClient::kMaxResponseBodyBytes);
    parser_.header_limit(kMaxResponseHeaderBytes);
  }

  // Starts on the strand, never inline in the caller's stack.
  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->begin(); });
  }

 private:
  void begin() {
    const auto now = Clock::now();
    request_deadline_ = now + timeouts_.request;
    connect_deadline_ = std::min(now + timeouts_.connect, request_deadline_);

    const std::string host = to_.bare_host();
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      connect({tcp::endpoint(address, to_.port)});
      return;
    }
    // getaddrinfo cannot be interrupted, so the resolve deadline is a separate
    // timer that completes the request early; a late resolve result is ignored.
    resolve_timer_.expires_at(connect_deadline_);
    resolve_timer_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (wait_ec) return;  // cancelled: the resolve finished first
      self->resolver_.cancel();
      self->fail(beast::error::timeout, "resolve");
    });
    resolver_.async_resolve(
        host, std::to_string(to_.port), tcp::resolver::numeric_service,
        [self = shared_from_this()](boost::system::error_code resolve_ec,
                                    const tcp::resolver::results_type& results) {
          self->resolve_timer_.cancel();
          if (self->finished_) return;
          if (resolve_ec) return self->fail(resolve_ec, "resolve");
          std::vector<tcp::endpoint> endpoints;
          for (const auto& entry : results) {
            endpoints.push_back(entry.endpoint());
          }
          self->connect(std::move(endpoints));
        });
  }

  void connect(std::vector<tcp::endpoint> endpoints) {
    endpoints_ = std::move(endpoints);
    stream_.expires_at(connect_deadline_);
    stream_.async_connect(endpoints_, [self = shared_from_this()](boost::system::error_code ec,
                                                                  const tcp::endpoint&) {
      if (ec) return self->fail(ec, "connect");
      self->write();
    });
  }

  void write() {
    // Fencing: a leader that lost its lease while connecting sends nothing.
    if (gate_ && !gate_()) return fail(asio::error::operation_aborted, "fenced: not the leader");
    stream_.expires_at(request_deadline_);
    http::async_write(stream_, request_,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->fail(ec, "write");
                        self->read();
                      });
  }

  void read() {
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->fail(ec, "read");
                       self->succeed();
                     });
  }

  void succeed() {
    auto response = parser_.release();
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    MpResponse result;
    result.status = response.result_int();
    for (const auto& field : response) {
      result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    result.body = std::move(response.body());
    finish(std::move(result));
  }

  void fail(boost::system::error_code ec, const char* step) {
    stream_.close();
    MpResponse result;
    result.error = ec;
    result.error_text = std::string(step) + ": " + ec.message();
    finish(std::move(result));
  }

  void finish(MpResponse result) {
    if (finished_) return;
    finished_ = true;
    auto done = std::move(done_);
    if (done) done(std::move(result));
  }

  // Serialises this session's handlers, even on a multi-threaded io_context.
  asio::strand<asio::any_io_executor> strand_;
  tcp::resolver resolver_;
  // Bounds name resolution (see begin()).
  asio::steady_timer resolve_timer_;
  beast::tcp_stream stream_;
  MpClient::Timeouts timeouts_;
  MpEndpoint to_;
  http::request<http::string_body> request_;
  // Called once, then emptied.
  MpClient::Callback done_;
  // Asked again right before writing (empty: no fencing).
  MpClient::DispatchGate gate_;
  // Set when done_ has been called; later completions are ignored.
  bool finished_ = false;
  Clock::time_point connect_deadline_;
  Clock::time_point request_deadline_;
  // Candidates for connect; owned here because async_connect reads them.
  std::vector<tcp::endpoint> endpoints_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

std::string MpEndpoint::bare_host() const {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

std::string MpEndpoint::host_header() const {
  std::string bare = bare_host();
  if (bare.find(':') == std::string::npos) return bare + ":" + std::to_string(port);
  // IPv6 literal; a zone id's '%' is written "%25" (RFC 6874).
  std::string out = "[";
  for (char c : bare) {
    if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
  return out + "]:" + std::to_string(port);
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

MpClient::MpClient(boost::asio::any_io_executor executor, Timeouts timeouts)
    : executor_(std::move(executor)), timeouts_(timeouts) {}

void MpClient::request(http::verb method, const MpEndpoint& to, std::string_view target,
                       std::string json_body, Callback done) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, to.host_header());
  req.set(http::field::user_agent, "lmcache-coordinator");
  req.set(http::field::accept, "application/json");
  if (!json_body.empty()) req.set(http::field::content_type, "application/json");
  req.keep_alive(false);
  req.body() = std::move(json_body);
  req.prepare_payload();
  start(to, std::move(req), std::move(done));
}

void MpClient::send(http::verb method, const MpEndpoint& to, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& fields,
                    std::string body, Callback done) {
  http::request<http::string_body> req{method, target, 11};
  for (const auto& [name, value] : fields) req.insert(name, value);
  req.set(http::field::host, to.host_header());
  req.keep_alive(false);
  req.body() = std::move(body);
  req.prepare_payload();
  start(to, std::move(req), std::move(done));
}

void MpClient::start(const MpEndpoint& to, http::request<http::string_body> req, Callback done) {
  if (gate_) {
    const std::optional<uint64_t> epoch = gate_();
    if (!epoch) {
      asio::post(executor_, [done = std::move(done)] {
        MpResponse result;
        result.error = asio::error::operation_aborted;
        result.error_text = "fenced: not the leader";
        if (done) done(std::move(result));
      });
      return;
    }
    req.set(kEpochHeader, std::to_string(*epoch));
  }
  std::make_shared<Session>(executor_, timeouts_, to, std::move(req), std::move(done), gate_)
      ->start();
}

void MpClient::delete_keys(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys,
                           Callback done) {
  request(http::verb::delete_, to, "/l2", wire::encode_delete_keys_body(keys), std::move(done));
}

void MpClient::delete_objects(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys,
                              DeleteObjectsCallback done) {
  send_delete_objects(to, wire::encode_delete_keys_body(keys), std::move(done));
}

void MpClient::delete_objects(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys,
                              std::string_view tier, bool force, DeleteObjectsCallback done) {
  send_delete_objects(to, wire::encode_delete_objects_body(keys, tier, force), std::move(done));
}

void MpClient::send_delete_objects(const MpEndpoint& to, std::string body,
                                   DeleteObjectsCallback done) {
  request(http::verb::delete_, to, "/cache/objects", std::move(body),
          [done = std::move(done)](MpResponse response) {
            MpDeleteObjectsResult result;
            if (!response.ok()) {
              result.error = response.error_text;
            } else if (!response.success()) {
              result.error = "HTTP " + std::to_string(response.status);
            } else {
              wire::DeleteObjectsAnswerResult decoded =
                  wire::decode_delete_objects_answer(response.body);
              result.answer = std::move(decoded.answer);
              if (result.answer && !result.answer->ok) {
                result.error =
                    "ok:false: " + (result.answer->error.empty() ? std::string("no error given")
                                                                 : result.answer->error);
              }
            }
            result.response = std::move(response);
            if (done) done(std::move(result));
          });
}

void MpClient::get_keys_page(const MpEndpoint& to, std::size_t page_size,
                             const std::optional<std::string>& page_token, KeysPageCallback done) {
  std::string target = "/l2/keys?page_size=" + std::to_string(page_size);
  if (page_token) target += "&page_token=" + percent_encode(*page_token);
  request(http::verb::get, to, target, {}, [done = std::move(done)](MpResponse response) {
    MpKeysPageResult result;
    if (!response.ok()) {
      result.error = response.error_text;
    } else if (!response.success()) {
      result.error = "HTTP " + std::to_string(response.status);
    } else {
      wire::KeysPageResult decoded = wire::decode_keys_page(response.body);
      result.page = std::move(decoded.page);
      result.error = std::move(decoded.error);
    }
    result.response = std::move(response);
    if (done) done(std::move(result));
  });
}

void MpClient::submit_prefetch(const MpEndpoint& to, std::string json_body, Callback done) {
  request(http::verb::post, to, "/l2/prefetch", std::move(json_body), std::move(done));
}

void MpClient::poll_prefetch(const MpEndpoint& to, std::string_view request_id, Callback done) {
  request(http::verb::get, to, "/l2/prefetch/" + percent_encode(request_id), {}, std::move(done));
}

void MpClient::submit_cache_prefetch(const MpEndpoint& to, std::string json_body, Callback done) {
  request(http::verb::post, to, "/cache/prefetches", std::move(json_body), std::move(done));
}

void MpClient::poll_cache_prefetch(const MpEndpoint& to, std::string_view request_id,
                                   Callback done) {
  request(http::verb::get, to, "/cache/prefetches/" + percent_encode(request_id), {},
          std::move(done));
}

}  // namespace lmcache::client
