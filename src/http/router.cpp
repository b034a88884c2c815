#include "http/router.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <memory>
#include <optional>

#include "http/json_response.h"

namespace lmcache::http {

std::optional<std::string> percent_decode(std::string_view text) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

void Router::add(beast_http::verb method, std::string_view pattern, SyncHandler handler) {
  Route route{{method, std::string(pattern)}, {}, std::move(handler), {}};
  for (std::string_view segment : split_path(pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
}

void Router::add_async(beast_http::verb method, std::string_view pattern, AsyncHandler handler) {
  Route route{{method, std::string(pattern)}, {}, {}, std::move(handler)};
  for (std::string_view segment : split_path(pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
}

void Router::set_observer(Observer observer) { observer_ = std::move(observer); }

void Router::set_guard(Guard guard) { guard_ = std::move(guard); }

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.push_back(route.info);
  return out;
}

Router::Segments Router::split_path(std::string_view path) {
  Segments segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool Router::match(const Route& route, const Segments& segments, PathParams* params) {
  if (route.segments.size() != segments.size()) return false;
  const size_t kept = params != nullptr ? params->size() : 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& expected = route.segments[i];
    const bool parameter = expected.size() > 2 && expected.front() == '{';
    if (parameter ? segments[i].empty() : expected != segments[i]) {
      if (params != nullptr) params->resize(kept);
      return false;
    }
    if (parameter && params != nullptr) {
      auto decoded = percent_decode(segments[i]);
      params->emplace_back(expected.substr(1, expected.size() - 2),
                           decoded ? std::move(*decoded) : std::string(segments[i]));
    }
  }
  return true;
}

void Router::set_front(Front front) { front_ = std::move(front); }

void Router::dispatch(HttpRequest request, const boost::asio::ip::address& peer,
                      std::string client_subject, Respond respond) const {
  const auto started = std::chrono::steady_clock::now();
  std::string_view target = request.target();
  const size_t query = target.find('?');
  const auto segments = split_path(target.substr(0, query));
  const beast_http::verb method = request.method();

  // One pass: a route of the request's method collects its parameters as it
  // matches; the others only tell whether they would have (for Allow).
  const Route* found = nullptr;
  size_t found_index = kNoRoute;
  PathParams params;
  boost::container::small_vector<beast_http::verb, 8> allowed;  // methods of other routes that fit
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = routes_[i];
    if (route.info.method == method) {
      if (!match(route, segments, &params)) continue;
      found = &route;
      found_index = i;
      break;
    }
    if (!match(route, segments, nullptr)) continue;
    // Two patterns may fit one path (/quota/config and /quota/{salt}): name each method once.
    if (std::find(allowed.begin(), allowed.end(), route.info.method) == allowed.end()) {
      allowed.push_back(route.info.method);
    }
  }

  RouteRequest routed{std::move(request), std::move(params), peer, std::move(client_subject)};
  if (found != nullptr && guard_) {
    if (std::optional<HttpResponse> refused = guard_(routed)) {
      observe(found_index, method, *refused, started);
      respond(std::move(*refused));
      return;
    }
  }

  // HA mode: a follower relays the request to the leader, once this node's access control
  // let it through.
  if (front_ && front_(routed.message, respond)) return;

  if (found != nullptr && found->sync_handler) {  // answered here: no wrapping of `respond`
    HttpResponse response = found->sync_handler(routed);
    observe(found_index, method, response, started);
    respond(std::move(response));
    return;
  }

  Respond observed = std::move(respond);
  if (observer_) {
    observed = [this, found_index, method, started,
                respond = std::move(observed)](HttpResponse response) {
      observe(found_index, method, response, started);
      respond(std::move(response));
    };
  }

  if (found == nullptr) {
    if (allowed.empty()) {
      observed(detail_response(beast_http::status::not_found, "Not Found"));
    } else {
      std::string allow;
      for (const beast_http::verb verb : allowed) {
        if (!allow.empty()) allow += ", ";
        allow += beast_http::to_string(verb);
      }
      HttpResponse response =
          detail_response(beast_http::status::method_not_allowed, "Method Not Allowed");
      response.set(beast_http::field::allow, allow);
      observed(std::move(response));
    }
    return;
  }
  found->async_handler(std::move(routed), std::move(observed));
}

void Router::observe(size_t route, beast_http::verb method, const HttpResponse& response,
                     std::chrono::steady_clock::time_point started) const {
  if (observer_) {
    observer_(route, method, response.result_int(), std::chrono::steady_clock::now() - started);
  }
}

}  // namespace lmcache::http
