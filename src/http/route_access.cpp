#include "http/route_access.h"

#include <array>
#include <ostream>  // verb.hpp streams a verb: its operator<< needs a complete std::ostream

namespace lmcache::http {

namespace {

using enum RouteAccess;

// Order matters: the specific lines come before the prefixes that also cover them.
constexpr std::array kRules = {
    // MP servers: registration, heartbeats, deregistration, events, blend and prefetch.
    RouteAccessRule{"POST", "/instances", kFleet},
    RouteAccessRule{"PUT", "/instances/*/heartbeat", kFleet},
    RouteAccessRule{"DELETE", "/instances/*", kFleet},
    RouteAccessRule{"POST", "/events", kFleet},
    RouteAccessRule{"POST", "/l2/events", kFleet},
    RouteAccessRule{"*", "/blend/**", kFleet},
    RouteAccessRule{"*", "/directory/blend-lookup", kFleet},
    RouteAccessRule{"*", "/l2/prefetch/**", kFleet},
    RouteAccessRule{"*", "/cache/prefetches/**", kFleet},
    // Coordinators: a follower tails the HA leader's mutation log (peers are in the fleet).
    RouteAccessRule{"*", "/cluster/log", kFleet},
    RouteAccessRule{"*", "/cluster/snapshot", kFleet},
    // Operator changes: quotas and the default quota (both dialects), pins, cache deletes.
    RouteAccessRule{"PUT DELETE POST PATCH", "/l2/quota/**", kOperator},
    RouteAccessRule{"PUT DELETE POST PATCH", "/quota/**", kOperator},
    RouteAccessRule{"*", "/cache/pins/**", kOperator},
    RouteAccessRule{"*", "/cache/delete/**", kOperator},
    // Reads that name tenants or show their usage.
    RouteAccessRule{"*", "/l2/status/**", kTenantRead},
    RouteAccessRule{"GET HEAD", "/quota/**", kTenantRead},
    RouteAccessRule{"*", "/directory/**", kTenantRead},
    RouteAccessRule{"*", "/metrics", kTenantRead},
    RouteAccessRule{"*", "/instances/usage/**", kTenantRead},
    RouteAccessRule{"*", "/instances/*/usage/**", kTenantRead},
    RouteAccessRule{"*", "/fleet/**", kTenantRead},
};

// Whether `name` is one of the space-separated `methods` (or they are "*").
bool method_listed(std::string_view methods, std::string_view name) {
  if (methods == "*") return true;
  while (!methods.empty()) {
    const size_t space = methods.find(' ');
    if (methods.substr(0, space) == name) return true;
    methods.remove_prefix(space == std::string_view::npos ? methods.size() : space + 1);
  }
  return false;
}

// The next segment of `path` (which starts after a '/'), consumed; nullopt at the end.
bool next_segment(std::string_view& path, std::string_view& segment) {
  if (path.empty()) return false;
  if (path.front() == '/') path.remove_prefix(1);
  const size_t slash = path.find('/');
  segment = path.substr(0, slash);
  path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  return true;
}

bool pattern_matches(std::string_view pattern, std::string_view path) {
  // "/quota" has one segment "quota"; "/" has none. A trailing slash is a segment of its own
  // (empty), as in the router.
  while (true) {
    std::string_view expected;
    std::string_view actual;
    const bool more_expected = next_segment(pattern, expected);
    if (more_expected && expected == "**") return true;
    const bool more_actual = next_segment(path, actual);
    if (!more_expected || !more_actual) return more_expected == more_actual;
    if (expected == "*" ? actual.empty() : expected != actual) return false;
  }
}

}  // namespace

std::string_view to_string(RouteAccess access) {
  switch (access) {
    case kFleet:
      return "fleet";
    case kOperator:
      return "operator";
    case kTenantRead:
      return "tenant-read";
    case kOpen:
      break;
  }
  return "open";
}

std::span<const RouteAccessRule> route_access_rules() { return kRules; }

RouteAccess classify_route(std::span<const RouteAccessRule> rules, boost::beast::http::verb method,
                           std::string_view path) {
  const std::string_view name = boost::beast::http::to_string(method);
  for (const RouteAccessRule& rule : rules) {
    if (method_listed(rule.methods, name) && pattern_matches(rule.pattern, path)) {
      return rule.access;
    }
  }
  return kOpen;
}

RouteAccess classify_route(boost::beast::http::verb method, std::string_view path) {
  return classify_route(route_access_rules(), method, path);
}

}  // namespace lmcache::http
