#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
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

// What a session speaks: plain HTTP, or HTTPS. Session is a template over them, so the plain
// path has no TLS test or indirection in it.
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the session table and its sweep know of a session, whatever its stream.
class SessionBase {
 public:
  SessionBase() = default;
  virtual ~SessionBase() = default;
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // Called by the sweep: cancels the wait in progress if it is past its deadline.
  virtual void expire_if_due(Clock::time_point now) = 0;

 protected:
  // Between a request read whole and its answer handed to the write; a flag of the session's own
  // rather than a server-wide count, which every request on every thread would contend for.
  std::atomic<bool> handling_{false};

  friend class SessionTable;
};

// The sessions whose waits have deadlines, checked together by the listener's periodic sweep.
//
// A per-operation Asio timer (beast::tcp_stream::expires_after) costs a locked timer-queue
// insertion and removal for every socket read and write: 13 % of the heartbeat rate on 2 cores.
// A session instead stores its deadline in an atomic, and one sweep every few hundred
// milliseconds cancels the waits that are past theirs. A wait is thus never cut short, and
// ends at most one sweep period after its deadline.
class SessionTable {
 public:
  void add(SessionBase* session, std::weak_ptr<SessionBase> handle) {
    core::MutexLock lock(mutex_);
    sessions_.emplace(session, std::move(handle));
  }
  void remove(SessionBase* session) {
    core::MutexLock lock(mutex_);
    sessions_.erase(session);
  }
  // How many sessions are handling a request right now (read complete, answer not yet written).
  size_t handling() const;

  // The live sessions, for a sweep.
  std::vector<std::shared_ptr<SessionBase>> live() const {
    std::vector<std::shared_ptr<SessionBase>> out;
    core::MutexLock lock(mutex_);
    out.reserve(sessions_.size());
    for (const auto& [raw, handle] : sessions_) {
      if (auto session = handle.lock()) out.push_back(std::move(session));
    }
    return out;
  }

 private:
  mutable core::Mutex mutex_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_ GUARDED_BY(mutex_);
};

// One connection: owns its stream, buffer and the request being read. Over TLS it begins with
// the handshake and ends with a close_notify after a last answer.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  using Strand = net::strand<net::io_context::executor_type>;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `tls` is the context the connection is served with (null for plain HTTP); the session keeps
  // it alive, so a reload does not pull it from under an open connection.
  Session(tcp::socket socket, const HttpServerOptions& options, const Router& router,
          std::shared_ptr<SessionTable> table, std::shared_ptr<net::ssl::context> tls)
      : tls_context_(std::move(tls)),
        stream_(make_stream(std::move(socket), tls_context_.get())),
        options_(options),
        router_(router),
        table_(std::move(table)) {
    // target() points into the executor it is called on: keep that executor alive meanwhile.
    const auto executor = stream_.get_executor();
    if (const auto* strand = executor.template target<Strand>()) strand_ = *strand;
    beast::error_code ignored;
    peer_ = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored).address();
  }
  ~Session() override { table_->remove(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    table_->add(this, this->weak_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->handshake();
      } else {
        self->read_header();
      }
    });
  }

  void expire_if_due(Clock::time_point now) override {
    if (!due(now)) return;
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      // Re-checked on the strand: the wait may have ended and a new one begun meanwhile.
      if (self->due(Clock::now())) {
        beast::get_lowest_layer(self->stream_).cancel();  // the wait ends operation_aborted
      }
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

  static Stream make_stream(tcp::socket socket, net::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  // A handshake has the deadline of a read: a client that connects and says nothing is closed
  // as an idle one would be.
  void handshake() {
    arm(options_.keep_alive_timeout);
    stream_.async_handshake(
        net::ssl::stream_base::server,
        [self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      // A plain HTTP request, an old protocol version, a missing or untrusted client certificate.
      spdlog::debug("tls handshake with {} failed: {}", peer_.to_string(), ec.message());
      return close_socket();
    }
    handshake_done_ = true;
    client_subject_ = client_certificate_subject(stream_.native_handle());
    read_header();
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    parser_->body_limit(options_.body_limit);
    arm(options_.keep_alive_timeout);
    beast_http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
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
      beast_http::async_write(
          stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code wec, size_t) {
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
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return fail_read(ec);
    disarm();
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    handling_.store(true, std::memory_order_relaxed);
    router_.dispatch(std::move(request), peer_, client_subject_,
                     [self = this->shared_from_this()](HttpResponse response) {
                       // A handler that answers at once runs on this session's strand: write
                       // without another hop through the executor. One that answers later is
                       // brought back onto the strand.
                       if (self->strand_ && self->strand_->running_in_this_thread()) {
                         return self->on_response(std::move(response));
                       }
                       net::dispatch(self->stream_.get_executor(),
                                     [self, response = std::move(response)]() mutable {
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
        ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated) {
      return close_socket();  // nothing more to say, or no one listening
    }
    if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
        buffer_.size() > 0) {
      // Unparsable request line or headers.
      return reject(beast_http::status::bad_request, "Invalid HTTP request");
    }
    spdlog::debug("http read failed: {}", ec.message());
    close_socket();
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
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    const bool keep = !ec && response_ && response_->keep_alive();
    response_.reset();
    if (!keep) return close();
    read_header();
  }

  // Ends the connection after an answer: over TLS with a close_notify first (bounded like a
  // write), so the client can tell the end from a cut.
  void close() {
    if constexpr (kTls) {
      if (handshake_done_) {
        handshake_done_ = false;  // one close_notify
        arm(options_.write_timeout);
        stream_.async_shutdown(
            [self = this->shared_from_this()](beast::error_code) { self->close_socket(); });
        return;
      }
    }
    close_socket();
  }

  void close_socket() {
    disarm();
    beast::error_code ignored;
    auto& tcp_stream = beast::get_lowest_layer(stream_);
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_stream.close();
  }

  // Declared before stream_, which refers to it.
  const std::shared_ptr<net::ssl::context> tls_context_;
  Stream stream_;
  std::optional<Strand> strand_;  // the strand stream_'s handlers run on (the listener makes one)
  const HttpServerOptions options_;  // a copy: a session may outlive the listener
  const Router& router_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::optional<HttpResponse> response_;  // the response being written
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<SessionTable> table_;            // where the sweep finds this session
  std::atomic<Clock::rep> deadline_{kNoDeadline};  // of the wait in progress, steady clock
  net::ip::address peer_;        // the client's address, unspecified if the socket had none
  std::string client_subject_;   // of the client certificate verified by TLS; empty without one
  bool handshake_done_ = false;  // TLS: a close_notify is owed at the end
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
    if (options_.tls) {
      auto context = make_server_tls_context(*options_.tls);
      core::MutexLock lock(tls_mutex_);
      tls_context_ = std::move(context);
    }
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
  bool serves_tls() const { return options_.tls.has_value(); }

  bool reload_tls() {
    if (!options_.tls) return false;
    try {
      auto context = make_server_tls_context(*options_.tls);
      {
        core::MutexLock lock(tls_mutex_);
        tls_context_ = std::move(context);  // open sessions hold on to the one they began with
      }
      spdlog::info("TLS certificates reloaded from '{}'", options_.tls->cert);
      return true;
    } catch (const TlsSetupError& error) {
      spdlog::error("TLS reload failed, keeping the previous certificates: {}", error.what());
      return false;
    }
  }

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
      if (options_.tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), options_, router_, sessions_,
                                             tls_context())
            ->start();
      } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), options_, router_, sessions_,
                                               nullptr)
            ->start();
      }
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
  std::shared_ptr<net::ssl::context> tls_context() const {
    core::MutexLock lock(tls_mutex_);
    return tls_context_;
  }
  mutable core::Mutex tls_mutex_;
  // What new connections are served with (options_.tls); replaced by reload_tls().
  std::shared_ptr<net::ssl::context> tls_context_ GUARDED_BY(tls_mutex_);
};

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options, const Router& router)
    : listener_(std::make_shared<Listener>(io, std::move(options), router)) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() { listener_->start(); }

uint16_t HttpServer::port() const { return listener_->port(); }

void HttpServer::stop_accepting() { listener_->stop(); }

size_t HttpServer::requests_in_flight() const { return listener_->in_flight(); }

bool HttpServer::serves_tls() const { return listener_->serves_tls(); }

bool HttpServer::reload_tls() { return listener_->reload_tls(); }

}  // namespace lmcache::http
