// AccessPolicy: who may reach which route (operator tokens, --fleet-cidr), decided before the
// router runs a handler.
#pragma once

#include <optional>

#include "core/admin_tokens.h"
#include "http/fleet_networks.h"
#include "http/route_access.h"
#include "http/route_request.h"
#include "http/router.h"

namespace lmcache::http {

struct AccessPolicyOptions {
  // The operator tokens; null: operator routes are open (the default, as upstream).
  const core::AdminTokens* tokens = nullptr;
  // Tenant reads need a token too (only with `tokens`).
  bool protect_reads = false;
  // Fleet routes answer only these networks; nullopt: any address.
  std::optional<FleetNetworks> fleet_networks;
};

// Applies route_access_rules():
// - fleet routes from outside `fleet_networks`: 403 {"detail"};
// - operator routes (and tenant reads with protect_reads), when tokens are set: without an
//   `Authorization: Bearer <token>` header 401 {"detail"} with `WWW-Authenticate: Bearer`; with
//   a token that is not one of them 403 {"detail"}; with one of them the request's caller
//   becomes "token:<fingerprint>".
// A token is never logged or echoed.
class AccessPolicy {
 public:
  explicit AccessPolicy(AccessPolicyOptions options);

  // The answer refusing `request`, or nullopt when it may go on (its caller then set).
  std::optional<HttpResponse> check(RouteRequest& request) const;

  // Makes check() the router's guard. The policy must outlive the router's dispatching.
  void guard(Router& router) const;

 private:
  std::optional<HttpResponse> check_token(RouteRequest& request) const;

  AccessPolicyOptions options_;
};

}  // namespace lmcache::http
