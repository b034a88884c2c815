#include "client/etcd_watch.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <utility>

#include "client/etcd_client.h"
#include "client/etcd_json_fields.h"

namespace lmcache::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

using etcd_json::bool_field;
using etcd_json::int_field;
using etcd_json::object_field;
using etcd_json::string_field;

// The revision a message's events reach: the newest event's (each event's kv carries the revision
// of its put or delete), or the header's when an event has none; 0 without events.
int64_t events_revision(const json::object& result) {
  const json::value* events = result.if_contains("events");
  if (events == nullptr || !events->is_array() || events->get_array().empty()) return 0;
  int64_t newest = 0;
  bool every_event_has_one = true;
  for (const json::value& event : events->get_array()) {
    const json::object* object = event.if_object();
    const json::object* kv = object != nullptr ? object_field(*object, "kv") : nullptr;
    const int64_t revision = kv != nullptr ? int_field(*kv, "mod_revision") : 0;
    if (revision <= 0) every_event_has_one = false;
    newest = std::max(newest, revision);
  }
  if (const json::object* header = object_field(result, "header");
      header != nullptr && !every_event_has_one) {
    newest = std::max(newest, int_field(*header, "revision"));
  }
  return std::max<int64_t>(newest, 1);
}

// Lets the kernel find a connection whose peer vanished: probes after 10 s of silence, every
// 5 s, 3 times.
void keep_alive(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::socket::keep_alive(true), ignored);
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(10), ignored);
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(5), ignored);
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ignored);
#endif
}

}  // namespace

EtcdWatch::EtcdWatch(const asio::any_io_executor& executor, MpEndpoint endpoint,
                     std::string_view prefix, int64_t start_revision, ChangeCallback on_change,
                     ClosedCallback on_closed, std::chrono::milliseconds connect_timeout)
    : executor_(executor),
      resolver_(executor),
      socket_(executor),
      deadline_(executor),
      endpoint_(std::move(endpoint)),
      connect_timeout_(connect_timeout),
      on_change_(std::move(on_change)),
      on_closed_(std::move(on_closed)) {
  json::object create{{"key", etcd_base64_encode(prefix)},
                      {"range_end", etcd_base64_encode(etcd_prefix_end(prefix))}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  request_ = {http::verb::post, "/v3/watch", 11};
  request_.set(http::field::host, endpoint_.host_header());
  request_.set(http::field::content_type, "application/json");
  request_.body() = json::serialize(json::object{{"create_request", std::move(create)}});
  request_.prepare_payload();
  parser_.header_limit(64 * 1024);
  parser_.body_limit(boost::none);  // the body never ends; each message is bounded instead
}

void EtcdWatch::start() {
  asio::post(executor_, [self = shared_from_this()] { self->resolve(); });
}

void EtcdWatch::stop() {
  finished_ = true;
  on_change_ = nullptr;
  on_closed_ = nullptr;
  shut();
}

void EtcdWatch::shut() {
  boost::system::error_code ignored;
  deadline_.cancel();
  resolver_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void EtcdWatch::close(const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  shut();
  on_change_ = nullptr;
  ClosedCallback closed = std::move(on_closed_);
  on_closed_ = nullptr;
  if (closed) closed(reason);
}

void EtcdWatch::resolve() {
  if (finished_) return;
  deadline_.expires_after(connect_timeout_);
  deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->answered_) self->close("no answer from etcd within the connect timeout");
  });
  const std::string host = endpoint_.bare_host();
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) return connect({tcp::endpoint(address, endpoint_.port)});
  resolver_.async_resolve(host, std::to_string(endpoint_.port), tcp::resolver::numeric_service,
                          [self = shared_from_this()](boost::system::error_code resolve_ec,
                                                      const tcp::resolver::results_type& results) {
                            if (self->finished_) return;
                            if (resolve_ec) return self->close("resolve: " + resolve_ec.message());
                            std::vector<tcp::endpoint> endpoints;
                            for (const auto& entry : results) endpoints.push_back(entry.endpoint());
                            self->connect(std::move(endpoints));
                          });
}

void EtcdWatch::connect(std::vector<tcp::endpoint> endpoints) {
  endpoints_ = std::move(endpoints);
  asio::async_connect(
      socket_, endpoints_,
      [self = shared_from_this()](boost::system::error_code ec, const tcp::endpoint&) {
        if (self->finished_) return;
        if (ec) return self->close("connect: " + ec.message());
        keep_alive(self->socket_);
        self->write();
      });
}

void EtcdWatch::write() {
  http::async_write(socket_, request_,
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      if (self->finished_) return;
                      if (ec) return self->close("write: " + ec.message());
                      self->read_header();
                    });
}

void EtcdWatch::read_header() {
  http::async_read_header(socket_, buffer_, parser_,
                          [self = shared_from_this()](boost::system::error_code ec, size_t) {
                            if (self->finished_) return;
                            if (ec) return self->close("read: " + ec.message());
                            self->answered_ = true;
                            self->deadline_.cancel();
                            const unsigned status = self->parser_.get().result_int();
                            if (status != 200) return self->close("HTTP " + std::to_string(status));
                            self->read_body();
                          });
}

void EtcdWatch::read_body() {
  parser_.get().body().data = chunk_.data();
  parser_.get().body().size = chunk_.size();
  parser_.get().body().more = true;
  http::async_read_some(socket_, buffer_, parser_,
                        [self = shared_from_this()](boost::system::error_code ec, size_t) {
                          if (self->finished_) return;
                          // need_buffer: the chunk buffer is full; take it and read on.
                          if (ec == http::error::need_buffer) ec = {};
                          if (ec) return self->close("read: " + ec.message());
                          const size_t got = self->chunk_.size() - self->parser_.get().body().size;
                          if (!self->take(std::string_view(self->chunk_.data(), got))) return;
                          if (self->parser_.is_done()) return self->close("etcd ended the watch");
                          self->read_body();
                        });
}

bool EtcdWatch::take(std::string_view bytes) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view part = bytes.substr(0, newline);
    if (line_.size() + part.size() > kMaxMessageBytes) {
      close("a watch message over " + std::to_string(kMaxMessageBytes) + " bytes");
      return false;
    }
    line_.append(part);
    if (newline == std::string_view::npos) return true;
    bytes.remove_prefix(newline + 1);
    std::string line = std::move(line_);
    line_.clear();
    if (!handle(line)) return false;
  }
  return true;
}

bool EtcdWatch::handle(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;
  boost::system::error_code ec;
  const json::value value = json::parse(line, ec);
  const json::object* message = value.if_object();
  if (ec || message == nullptr) {
    close("a watch message that is not a JSON object");
    return false;
  }
  if (const json::object* error = object_field(*message, "error")) {
    close("etcd: " + string_field(*error, "message"));
    return false;
  }
  const json::object* result = object_field(*message, "result");
  if (result == nullptr) {
    close("a watch message without a result");
    return false;
  }
  if (const int64_t compacted = int_field(*result, "compact_revision"); compacted > 0) {
    close("compacted: etcd keeps revisions from " + std::to_string(compacted) + " on");
    return false;
  }
  if (bool_field(*result, "canceled")) {
    close("etcd canceled the watch: " + string_field(*result, "cancel_reason"));
    return false;
  }
  if (bool_field(*result, "created")) created_ = true;
  const int64_t revision = events_revision(*result);
  if (revision == 0 || revision <= last_reported_) return true;  // no news (created, progress)
  last_reported_ = revision;
  // A copy: the callback may stop() this watch, which drops on_change_.
  if (ChangeCallback change = on_change_) change(revision);
  return !finished_;
}

}  // namespace lmcache::client
