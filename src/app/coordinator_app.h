#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "app/coordinator_config.h"
#include "http/router.h"

namespace lmcache::app {

// Wires configuration, domain state, background loops and the HTTP server
// together, and runs them until SIGINT or SIGTERM.
class CoordinatorApp {
 public:
  // Opens the durable state and binds the listening socket. Throws
  // std::runtime_error (or boost::system::system_error) with a message fit
  // for the operator when either fails.
  explicit CoordinatorApp(CoordinatorConfig config);
  ~CoordinatorApp();
  CoordinatorApp(const CoordinatorApp&) = delete;
  CoordinatorApp& operator=(const CoordinatorApp&) = delete;

  // Serves until a stop signal or request_stop(), then stops gracefully.
  // Returns the exit code.
  int run();

  // The port the server is bound to (the one picked when configured with 0).
  uint16_t port() const;

  // The routes the server serves (method and pattern), in the order the router tries them.
  std::vector<http::Router::RouteInfo> routes() const;

  // Stops run() as a stop signal would. Safe to call from any thread, also
  // before run() (it then stops as soon as it has started).
  void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmcache::app
