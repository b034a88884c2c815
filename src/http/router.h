#pragma once

#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/route_request.h"

namespace lmcache::http {

// A handler that answers later (forwards to another server, say).
using AsyncHandler = std::function<void(RouteRequest request, Respond respond)>;
// A handler that answers at once.
using SyncHandler = std::function<HttpResponse(const RouteRequest& request)>;

// Maps (method, path) to handlers. Patterns are literal segments and
// `{name}` segments that match exactly one non-empty path segment.
//
// Unknown paths get FastAPI's 404 body, known paths with another method its
// 405 body with an Allow header. The query string is ignored for matching.
// Routes are added before the server starts; dispatch is then thread-safe.
// The router must outlive the requests it dispatches, also those answered later.
class Router {
 public:
  // The route index an observer is given when no route matched.
  static constexpr size_t kNoRoute = static_cast<size_t>(-1);

  // A route as added.
  struct RouteInfo {
    beast_http::verb method;
    std::string pattern;
  };

  // Called once per answered request with the index of the matched route in
  // routes() (kNoRoute when none matched), the request's method, the status
  // and the handling time.
  using Observer = std::function<void(size_t route, beast_http::verb method, unsigned status,
                                      std::chrono::nanoseconds elapsed)>;

  // Sees every request before it is routed (HA mode: a follower forwards it to the leader).
  // It either answers the request itself and returns true, having taken `request` and
  // `respond`, or returns false to let routing go on, possibly with `respond` wrapped.
  using Front = std::function<bool(HttpRequest& request, Respond& respond)>;

  void add(beast_http::verb method, std::string_view pattern, SyncHandler handler);
  void add_async(beast_http::verb method, std::string_view pattern, AsyncHandler handler);
  void set_observer(Observer observer);
  void set_front(Front front);

  // Decides, before a matched route's handler runs, whether the request may reach it: returns
  // the answer to send instead (401, 403), or nullopt to go on. It may fill in the request's
  // `caller`. Not called for unknown paths or methods (404, 405). Observed like any answer.
  using Guard = std::function<std::optional<HttpResponse>(RouteRequest& request)>;
  void set_guard(Guard guard);

  // The routes in the order added; a route's index never changes.
  std::vector<RouteInfo> routes() const;

  // Answers `request` from `peer` through `respond` (exactly once); `client_subject` is that
  // of the client certificate verified by TLS, empty without one (RouteRequest has both).
  void dispatch(HttpRequest request, const boost::asio::ip::address& peer,
                std::string client_subject, Respond respond) const;
  // The same without a client certificate.
  void dispatch(HttpRequest request, const boost::asio::ip::address& peer, Respond respond) const {
    dispatch(std::move(request), peer, {}, std::move(respond));
  }
  // The same for a request with no peer address (tests, fuzzing).
  void dispatch(HttpRequest request, Respond respond) const {
    dispatch(std::move(request), {}, {}, std::move(respond));
  }

 private:
  // The segments of a request path; paths of up to 8 segments need no allocation.
  using Segments = boost::container::small_vector<std::string_view, 8>;

  struct Route {
    RouteInfo info;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    SyncHandler sync_handler;           // set for routes added with add()
    AsyncHandler async_handler;         // set for routes added with add_async()
  };

  static Segments split_path(std::string_view path);
  // Whether `segments` fit the route's pattern; when they do and `params` is
  // not null, the route's parameters are appended to it, percent-decoded.
  static bool match(const Route& route, const Segments& segments, PathParams* params);
  // Calls the observer (if any) about a request answered with `response`.
  void observe(size_t route, beast_http::verb method, const HttpResponse& response,
               std::chrono::steady_clock::time_point started) const;

  std::vector<Route> routes_;
  Observer observer_;
  Guard guard_;
  Front front_;  // empty: every request is routed here
};

// Percent-decodes one path segment; nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace lmcache::http
