// A watch of one etcd key prefix over etcd's v3 JSON gateway: tells its owner when a key under
// the prefix changed, so the owner can reread the prefix at once instead of polling for it.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/mp_client.h"

namespace lmcache::client {

// One `POST /v3/watch` to one etcd endpoint, reporting every change under `prefix` from
// `start_revision` on (earlier changes still in etcd's history are replayed first). The gateway
// answers with a response that never ends, one JSON message a line; it is read as it arrives,
// asynchronously on the executor (no thread of its own).
//
// Promises:
//  - on_change(revision) for each message that carries events, with the newest event's
//    revision, in increasing order. It says "something under the prefix changed at or before
//    `revision`", not what: the owner rereads the prefix.
//  - on_closed(reason) exactly once when the watch ends for any reason other than stop():
//    connect or resolve failure or timeout, a non-200 answer, the connection closing, a message
//    over kMaxMessageBytes or not JSON, etcd canceling the watch, or `start_revision` being
//    compacted away ("compacted" in the reason; the owner must reread before it watches again).
//    Nothing is called after on_closed. It does not reconnect: one watch is one connection.
//  - After stop(), neither callback is called.
//
// A connection that goes silent without closing (a member cut off from the network) is found
// by TCP keep-alive within about half a minute. A member that is alive but stalled (a hung or
// stopped process: the kernel still answers keep-alive) is not found; the owner needs another
// way to notice changes meanwhile (EtcdReadCopy polls).
//
// `executor` must run handlers one at a time (a strand, or an io_context with one thread); the
// callbacks run on it, and start() and stop() must be called on it.
class EtcdWatch : public std::enable_shared_from_this<EtcdWatch> {
 public:
  using ChangeCallback = std::function<void(int64_t revision)>;
  using ClosedCallback = std::function<void(const std::string& reason)>;

  // A longer line from etcd closes the watch (the prefix's messages are a few keys each).
  static constexpr size_t kMaxMessageBytes = size_t{1} << 20;

  // `start_revision` 0: changes from now on.
  EtcdWatch(const boost::asio::any_io_executor& executor, MpEndpoint endpoint,
            std::string_view prefix, int64_t start_revision, ChangeCallback on_change,
            ClosedCallback on_closed,
            std::chrono::milliseconds connect_timeout = std::chrono::seconds(2));
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Connects and creates the watch; call once.
  void start();
  // Closes the connection; no callback follows.
  void stop();

  // etcd confirmed the watch (its "created" message arrived).
  bool created() const { return created_; }
  const MpEndpoint& endpoint() const { return endpoint_; }

 private:
  void resolve();
  void connect(std::vector<boost::asio::ip::tcp::endpoint> endpoints);
  void write();
  void read_header();
  void read_body();
  // Takes `bytes` of the body; false once the watch has closed.
  bool take(std::string_view bytes);
  // One message (a line); false once the watch has closed.
  bool handle(std::string_view line);
  void close(const std::string& reason);
  void shut();

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  // Bounds everything up to etcd's response header (resolve, connect, write, header).
  boost::asio::steady_timer deadline_;
  const MpEndpoint endpoint_;
  const std::chrono::milliseconds connect_timeout_;
  ChangeCallback on_change_;
  ClosedCallback on_closed_;

  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;  // candidates for connect
  boost::beast::http::request<boost::beast::http::string_body> request_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  std::array<char, 16384> chunk_{};  // where each read of the body lands
  std::string line_;                 // the message being received, up to its newline
  int64_t last_reported_ = 0;        // the revision on_change was last called with
  bool answered_ = false;            // the response header arrived
  bool created_ = false;
  bool finished_ = false;  // closed or stopped: nothing more is reported
};

}  // namespace lmcache::client
