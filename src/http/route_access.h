// Who may call a route: the classification of every (method, path) as data, in one table.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <span>
#include <string_view>

namespace lmcache::http {

// What a route is, for access control.
enum class RouteAccess {
  kOpen,        // health, the instance list, pages: never restricted
  kFleet,       // what MP servers call (register, heartbeat, events, blend, prefetch):
                // no credentials (unmodified servers cannot send any); --fleet-cidr limits it
  kOperator,    // changes to quotas, pins and the cache: a bearer token when tokens are set
  kTenantRead,  // reads that reveal tenants' usage: a token when --protect-reads is set too
};

std::string_view to_string(RouteAccess access);

// One line of the table. `methods` is "*" for any method, else method names separated by
// spaces ("PUT DELETE"). `pattern` is matched segment by segment: a literal segment matches
// itself, "*" any one non-empty segment, and a final "**" any number of segments (also none),
// so "/quota/**" covers /quota, /quota/config and /quota/{salt}.
struct RouteAccessRule {
  std::string_view methods;
  std::string_view pattern;
  RouteAccess access;
};

// The coordinator's table; the first matching rule wins, and a path no rule matches is open.
// Routes added later fall under the rules of their prefix (a new /directory/... route is a
// tenant read, a new /cache/pins/... one an operator route).
std::span<const RouteAccessRule> route_access_rules();

// The class of `method` on `path` (without the query string) by `rules`.
RouteAccess classify_route(std::span<const RouteAccessRule> rules, boost::beast::http::verb method,
                           std::string_view path);

// The same by route_access_rules().
RouteAccess classify_route(boost::beast::http::verb method, std::string_view path);

}  // namespace lmcache::http
