#include "http/access_policy.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <string>

#include "http/json_response.h"

namespace lmcache::http {

namespace {

using status = beast_http::status;

// The path of a request target, without its query.
std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

HttpResponse unauthorized(std::string_view detail) {
  HttpResponse response = detail_response(status::unauthorized, detail);
  response.set(beast_http::field::www_authenticate, "Bearer");
  return response;
}

}  // namespace

AccessPolicy::AccessPolicy(AccessPolicyOptions options) : options_(std::move(options)) {}

std::optional<HttpResponse> AccessPolicy::check(RouteRequest& request) const {
  const RouteAccess access =
      classify_route(request.message.method(), target_path(request.message.target()));
  switch (access) {
    case RouteAccess::kFleet:
      if (options_.fleet_networks && !options_.fleet_networks->contains(request.peer)) {
        return detail_response(status::forbidden,
                               "fleet routes answer only the networks of --fleet-cidr; " +
                                   request.peer.to_string() + " is not in them");
      }
      return std::nullopt;
    case RouteAccess::kOperator:
      return check_token(request);
    case RouteAccess::kTenantRead:
      if (options_.protect_reads) return check_token(request);
      return std::nullopt;
    case RouteAccess::kOpen:
      break;
  }
  return std::nullopt;
}

std::optional<HttpResponse> AccessPolicy::check_token(RouteRequest& request) const {
  if (options_.tokens == nullptr) return std::nullopt;
  const auto header = request.message.find(beast_http::field::authorization);
  if (header == request.message.end()) {
    return unauthorized("this route needs an operator token: Authorization: Bearer <token>");
  }
  std::string_view value(header->value().data(), header->value().size());
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size() ||
      !boost::beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
    return unauthorized("the Authorization header must be: Bearer <token>");
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return unauthorized("the Authorization header carries no token");
  std::optional<std::string> fingerprint = options_.tokens->match(value);
  if (!fingerprint) {
    return detail_response(status::forbidden, "the operator token is not valid");
  }
  request.caller = "token:" + *fingerprint;
  return std::nullopt;
}

void AccessPolicy::guard(Router& router) const {
  router.set_guard([this](RouteRequest& request) { return check(request); });
}

}  // namespace lmcache::http
