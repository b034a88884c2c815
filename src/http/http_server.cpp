#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "http/json_response.h"

namespace lmcache::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Beast reads at most this much per socket read, whatever the buffer holds. A connection's read
// buffer is sized up to this for a body and kept between requests.
constexpr size_t kMaxReadSize = size_t{64} * 1024;

using Clock = std::chrono::steady_clock;

class Session;

// The sessions whose waits have deadlines, checked together by the listener's periodic sweep.
//
// A per-operation Asio timer (beast::tcp_stream::expires_after) costs a locked timer-queue
// insertion and removal for every socket read and write: 13 % of the heartbeat rate on 2 cores.
// A session instead stores its deadline in an atomic, and one sweep every few hundred
// milliseconds cancels the waits that are past theirs. A wait is thus never cut short, and
// ends at most one sweep period after its deadline.
class SessionTable {
 public:
  void add(Session* session, std::weak_ptr<Session> handle) {
    core::MutexLock lock(mutex_);
    sessions_.emplace(session, std::move(handle));
  }
  void remove(Session* session) {
    core::MutexLock lock(mutex_);
    sessions_.erase(session);
  }
  // How many sessions are handling a request right now (read complete, answer not yet written).
  size_t handling() const;

  // The live sessions, for a sweep.
  std::vector<std::shared_ptr<Session>> live() const {
    std::vector<std::shared_ptr<Session>> out;
    core::MutexLock lock(mutex_);
    out.reserve(sessions_.size());
    for (const auto& [raw, handle] : sessions_) {
      if (auto session = handle.lock()) out.push_back(std::move(session));
    }
    return out;
  }

 private:
  mutable core::Mutex mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_ GUARDED_BY(mutex_);
};

// One connection: owns its stream, buffer and the request being read.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Strand = net::strand<net::io_context::executor_type>;

  Session(tcp::socket socket, const HttpServerOptions& options, const Router& router,
          std::shared_ptr<SessionTable> table)
      : stream_(std::move(socket)), options_(options), router_(router), table_(std::move(table)) {
    // target() points into the executor it is called on: keep that executor alive meanwhile.
    const auto executor = stream_.get_executor();
    if (const auto* strand = executor.target<Strand>()) strand_ = *strand;
    boost::system::error_code ec;
    peer_ = stream_.socket().remote_endpoint(ec).address();  // for access control and audit
  }
  ~Session() { table_->remove(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    table_->add(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Called by the sweep: cancels the wait in progress if it is past its deadline.
  void expire_if_due(Clock::time_point now) {
    if (!due(now)) return;
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      // Re-checked on the strand: the wait may have ended and a new one begun meanwhile.
      if (self->due(Clock::now())) self->stream_.cancel();  // the wait ends operation_aborted
    });
  }

 private:
  static constexpr Clock::rep kNoDeadline = std::numeric_limits<Clock::rep>::max();

  // The deadline of the wait about to begin; disarm() when nothing is awaited.
  void arm(std::chrono::milliseconds timeout) {
    deadline_.store((Clock::now() + timeout).time_since_epoch().count(), std::memory_order_relaxed);
  }
  void disarm() { deadline_.store(kNoDeadline, std::memory_order_relaxed); }
  bool due(Clock::time_point now) const {
    return deadline_.load(std::memory_order_relaxed) <= now.time_since_epoch().count();
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    parser_->body_limit(options_.body_limit);
    arm(options_.keep_alive_timeout);
    beast_http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return fail_read(ec);
    // A Content-Length over body_limit never gets here: the parser fails the header read with
    // error::body_limit, answered 413 by fail_read.
    const auto& header = parser_->get();
    if (beast::iequals(header[beast_http::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<beast_http::response<beast_http::empty_body>>(
          beast_http::status::continue_, header.version());
      arm(options_.write_timeout);
      beast_http::async_write(stream_, *cont,
                              [self = shared_from_this(), cont](beast::error_code wec, size_t) {
                                if (wec) return self->close();
                                self->read_body();
                              });
      return;
    }
    if (parser_->is_done()) return on_body({});  // no body (a heartbeat): nothing more to read
    read_body();
  }

  void read_body() {
    // The parser reads at most what the buffer can hold at a time; a 512-byte buffer would take
    // a hundred reads for one 58 KB batch of events. Size it for the body, up to one socket read.
    if (auto length = parser_->content_length(); length && *length > buffer_.capacity()) {
      buffer_.reserve(std::min<uint64_t>(*length, kMaxReadSize));
    }
    arm(options_.body_timeout);
    beast_http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return fail_read(ec);
    disarm();
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    handling_.store(true, std::memory_order_relaxed);
    router_.dispatch(std::move(request), peer_, [self = shared_from_this()](HttpResponse response) {
      // A handler that answers at once runs on this session's strand: write without another
      // hop through the executor. One that answers later is brought back onto the strand.
      if (self->strand_ && self->strand_->running_in_this_thread()) {
        return self->on_response(std::move(response));
      }
      net::dispatch(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->on_response(std::move(response));
      });
    });
  }

  void on_response(HttpResponse response) {
    handling_.store(false, std::memory_order_relaxed);
    write(std::move(response), keep_alive_);
  }

  // A read ended with an error: a normal close, a timeout or a limit.
  void fail_read(beast::error_code ec) {
    if (ec == beast_http::error::header_limit) {
      return reject(beast_http::status::request_header_fields_too_large,
                    "Request header fields too large");
    }
    if (ec == beast_http::error::body_limit) {
      return reject(beast_http::status::payload_too_large, "Request body too large");
    }
    if (ec == beast_http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset) {
      return close();
    }
    if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
        buffer_.size() > 0) {
      // Unparsable request line or headers.
      return reject(beast_http::status::bad_request, "Invalid HTTP request");
    }
    spdlog::debug("http read failed: {}", ec.message());
    close();
  }

  // Answers a request that could not be read whole, then closes.
  void reject(beast_http::status status, std::string_view detail) {
    HttpResponse response = detail_response(status, detail);
    version_ = 11;
    write(std::move(response), false);
  }

  void write(HttpResponse response, bool keep_alive) {
    response.version(version_ == 10 ? 10 : 11);
    response.keep_alive(keep_alive);
    response_ = std::move(response);
    arm(options_.write_timeout);
    beast_http::async_write(
        stream_, *response_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    const bool keep = !ec && response_ && response_->keep_alive();
    response_.reset();
    if (!keep) return close();
    read_header();
  }

  void close() {
    disarm();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::optional<Strand> strand_;  // the strand stream_'s handlers run on (the listener makes one)
  net::ip::address peer_;         // the client's address, unspecified if the socket had none
  const HttpServerOptions options_;  // a copy: a session may outlive the listener
  const Router& router_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::optional<HttpResponse> response_;  // the response being written
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<SessionTable> table_;            // where the sweep finds this session
  std::atomic<Clock::rep> deadline_{kNoDeadline};  // of the wait in progress, steady clock
  // Between a request read whole and its answer handed to the write; a flag of the session's own
  // rather than a server-wide count, which every request on every thread would contend for.
  std::atomic<bool> handling_{false};

  friend class SessionTable;
};

size_t SessionTable::handling() const {
  core::MutexLock lock(mutex_);
  size_t count = 0;
  for (const auto& [session, handle] : sessions_) {
    // A session in the table is alive: it removes itself in its destructor, under this lock.
    if (session->handling_.load(std::memory_order_relaxed)) ++count;
  }
  return count;
}

}  // namespace

class HttpServer::Listener : public std::enable_shared_from_this<HttpServer::Listener> {
 public:
  Listener(net::io_context& io, HttpServerOptions options, const Router& router)
      : io_(io),
        acceptor_(net::make_strand(io)),
        sweep_timer_(acceptor_.get_executor()),
        options_(std::move(options)),
        router_(router),
        sweep_period_(sweep_period(options_)) {}

  void start() {
    const auto address = net::ip::make_address(options_.host);
    const tcp::endpoint endpoint{address, options_.port};
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    if (address.is_v6()) acceptor_.set_option(net::ip::v6_only(false));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    accept();
    schedule_sweep();
  }

  void stop() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

  uint16_t port() const { return port_; }
  size_t in_flight() const { return sessions_->handling(); }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(io_),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  // A tenth of the shortest timeout, between 10 ms and 250 ms: a wait ends at most that long
  // after its deadline.
  static Clock::duration sweep_period(const HttpServerOptions& options) {
    const auto shortest =
        std::min({options.keep_alive_timeout, options.body_timeout, options.write_timeout});
    return std::clamp<Clock::duration>(shortest / 10, std::chrono::milliseconds(10),
                                       std::chrono::milliseconds(250));
  }

  // Runs until the io_context stops (also after stop(): open connections keep their deadlines).
  void schedule_sweep() {
    sweep_timer_.expires_after(sweep_period_);
    sweep_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      for (const auto& session : self->sessions_->live()) session->expire_if_due(now);
      self->schedule_sweep();
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("http accept failed: {}", ec.message());
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), options_, router_, sessions_)->start();
    }
    accept();
  }

  net::io_context& io_;
  tcp::acceptor acceptor_;
  net::steady_timer sweep_timer_;  // on the acceptor's strand
  HttpServerOptions options_;
  const Router& router_;
  const Clock::duration sweep_period_;
  std::shared_ptr<SessionTable> sessions_ = std::make_shared<SessionTable>();
  uint16_t port_ = 0;
};

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options, const Router& router)
    : listener_(std::make_shared<Listener>(io, std::move(options), router)) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() { listener_->start(); }

uint16_t HttpServer::port() const { return listener_->port(); }

void HttpServer::stop_accepting() { listener_->stop(); }

size_t HttpServer::requests_in_flight() const { return listener_->in_flight(); }

}  // namespace lmcache::http
