#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/router.h"
#include "http/tls_context.h"

namespace lmcache::http {

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 9300;  // 0 picks a free port
  // An idle keep-alive connection (and a request whose headers have not all
  // arrived) is closed after this long.
  std::chrono::milliseconds keep_alive_timeout{10000};
  // The body of a request must arrive within this long after its headers.
  std::chrono::milliseconds body_timeout{30000};
  // Writing a response must finish within this long.
  std::chrono::milliseconds write_timeout{30000};
  size_t header_limit = size_t{16} * 1024;       // larger headers: 431
  size_t body_limit = size_t{64} * 1024 * 1024;  // larger bodies: 413
  // Set: HTTPS only, with these files (a TLS handshake has keep_alive_timeout, like a read).
  std::optional<TlsFiles> tls;
};

// The inbound HTTP/1.1 server: accepts connections and runs one session per
// connection (read -> dispatch -> write -> read) on the io_context's threads.
// Every wait has a deadline, so a silent or slow client cannot hold a
// connection forever. With options.tls it speaks HTTPS only. Handlers see the
// client's address and, with mTLS, its verified certificate's subject.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Throws boost::system::system_error when the
  // address cannot be bound, TlsSetupError when a TLS file cannot be used.
  void start();

  // Whether connections speak TLS (options.tls was set).
  bool serves_tls() const;

  // Reads the TLS files again: new connections use them, open ones keep what
  // they began with. When a file cannot be used, logs an error and keeps the
  // previous files' context; returns whether the new files were taken.
  // Does nothing (returns false) without TLS. Thread-safe.
  bool reload_tls();

  // The port actually bound (after start()).
  uint16_t port() const;

  // Stops accepting new connections. Sessions finish their current request.
  void stop_accepting();

  // Requests being handled right now (read complete, response not yet written).
  size_t requests_in_flight() const;

 private:
  class Listener;
  std::shared_ptr<Listener> listener_;
};

}  // namespace lmcache::http
