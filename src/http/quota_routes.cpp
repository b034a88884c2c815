#include "http/quota_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "core/gib.h"
#include "http/audit_log.h"
#include "http/json_response.h"
#include "http/query_params.h"
#include "http/quota_forms.h"
#include "http/request_validation.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// Upstream's Tier enum. Quotas are enforced on L2 only; usage is read per concrete tier.
enum class Tier { kL1, kL2, kAll };

constexpr std::string_view kTierChoices = "'l1', 'l2' or 'all'";

std::string_view tier_name(Tier tier) {
  switch (tier) {
    case Tier::kL1:
      return "l1";
    case Tier::kL2:
      return "l2";
    case Tier::kAll:
      break;
  }
  return "all";
}

// A tier value, or nullopt with pydantic's `enum` error at `loc` (422).
std::optional<Tier> tier_of(const json::value& value, json::array loc, ValidationErrors& errors) {
  if (const json::string* text = value.if_string()) {
    if (*text == "l1") return Tier::kL1;
    if (*text == "l2") return Tier::kL2;
    if (*text == "all") return Tier::kAll;
  }
  errors.add("enum", std::move(loc), "Input should be " + std::string(kTierChoices), value,
             json::object{{"expected", kTierChoices}});
  return std::nullopt;
}

// The `tier` query parameter; l2 when absent.
std::optional<Tier> query_tier(const RouteRequest& request, ValidationErrors& errors) {
  auto text = query_param(request.message, "tier");
  if (!text) return Tier::kL2;
  return tier_of(json::string(*text), json::array{"query", "tier"}, errors);
}

// The body's `tier` field; l2 when absent.
std::optional<Tier> body_tier(FieldReader& fields) {
  const json::value* value = fields.raw("tier");
  if (value == nullptr) return Tier::kL2;
  return tier_of(*value, fields.loc("tier"), fields.errors());
}

// 400 unless `tier` is l2, the only tier quotas are enforced on (writes and the config).
std::optional<HttpResponse> require_quota_tier(Tier tier) {
  if (tier == Tier::kL2) return std::nullopt;
  return detail_response(status::bad_request, "quotas apply to tier 'l2' only, not '" +
                                                  std::string(tier_name(tier)) + "'");
}

// 400 for `all`: a key held in both tiers would be counted twice.
std::optional<HttpResponse> require_accounted_tier(Tier tier) {
  if (tier != Tier::kAll) return std::nullopt;
  return detail_response(status::bad_request,
                         "tier 'all' has no usage accounting; only 'l1', 'l2'");
}

HttpResponse put_config(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  std::optional<Tier> tier;
  std::optional<double> limit_gb;  // nullopt: exempt (null or absent, upstream's default)
  std::optional<uint64_t> limit_bytes;
  if (auto body = parse_json_body(request.message.body(), errors)) {
    if (const json::object* object = body_object(*body, errors)) {
      FieldReader fields(*object, json::array{"body"}, errors);
      const json::value* raw = fields.raw("default_limit_gb");
      if (raw != nullptr && !raw->is_null()) {
        limit_gb = fields.number("default_limit_gb", {}, 0.0);
        if (limit_gb) {
          limit_bytes = limit_bytes_of(*limit_gb, fields.loc("default_limit_gb"), errors);
        }
      }
      tier = body_tier(fields);
    }
  }
  if (!errors.empty()) return errors.to_response();
  if (auto refused = require_quota_tier(*tier)) return std::move(*refused);

  const core::DefaultLimit before = quotas.default_limit();
  try {
    quotas.set_default_limit(limit_bytes);
  } catch (const core::QuotaStoreError& error) {
    return quota_store_failure(error, "set the default quota");
  }
  // "none": salts without a quota are exempt from eviction.
  log_audit(request, "default quota", audit_limit(before), audit_limit(limit_bytes));
  // Echoed as sent, like the per-salt PUT.
  return json_response(
      status::ok,
      json::object{{"default_limit_gb", limit_gb ? json::value(*limit_gb) : json::value(nullptr)}});
}

HttpResponse get_config(const core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto tier = query_tier(request, errors);
  if (!tier) return errors.to_response();
  if (auto refused = require_quota_tier(*tier)) return std::move(*refused);
  const core::DefaultLimit limit = quotas.default_limit();
  return json_response(
      status::ok, json::object{{"default_limit_gb", limit ? json::value(core::bytes_to_gib(*limit))
                                                          : json::value(nullptr)}});
}

HttpResponse put_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  std::optional<Tier> tier;
  std::optional<double> limit_gb;
  std::optional<uint64_t> limit_bytes;
  if (auto body = parse_json_body(request.message.body(), errors)) {
    if (const json::object* object = body_object(*body, errors)) {
      FieldReader fields(*object, json::array{"body"}, errors);
      limit_gb = fields.number("limit_gb", {}, 0.0);
      if (limit_gb) limit_bytes = limit_bytes_of(*limit_gb, fields.loc("limit_gb"), errors);
      tier = body_tier(fields);
    }
  }
  if (!errors.empty()) return errors.to_response();
  if (auto refused = require_quota_tier(*tier)) return std::move(*refused);

  return store_quota(request, quotas, *salt, *limit_bytes, *limit_gb);
}

HttpResponse delete_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  auto tier = query_tier(request, errors);
  if (!errors.empty()) return errors.to_response();
  if (auto refused = require_quota_tier(*tier)) return std::move(*refused);

  return remove_quota(request, quotas, *salt);
}

HttpResponse get_salt_status(const core::L2Accounting& l2, const core::QuotaStore& quotas,
                             const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  auto tier = query_tier(request, errors);
  if (!errors.empty()) return errors.to_response();
  if (auto refused = require_accounted_tier(*tier)) return std::move(*refused);
  if (*tier == Tier::kL1) {
    // Quotas are L2-only, so an L1 row never shows one. L1 usage is not tracked yet: the key
    // directory (POST /events, tier l1) is where it will come from.
    return json_response(status::ok, salt_status(*salt, std::nullopt, 0));
  }
  return json_response(status::ok, salt_status(*salt, quotas.get(*salt), l2.usage_bytes(*salt)));
}

HttpResponse get_status(const core::L2Accounting& l2, const core::QuotaStore& quotas,
                        const RouteRequest& request) {
  ValidationErrors errors;
  auto tier = query_tier(request, errors);
  if (!tier) return errors.to_response();
  if (auto refused = require_accounted_tier(*tier)) return std::move(*refused);
  if (*tier == Tier::kL1) {
    // No quota rows on L1, and no L1 usage yet: the key directory (POST /events, tier l1) will
    // fill this listing. Until then it is empty with a total of 0.
    return json_response(status::ok, status_listing({}, {}));
  }
  return json_response(status::ok, status_listing(l2.salts(), quotas.all()));
}

}  // namespace

void add_quota_routes(Router& router, const core::L2Accounting& l2, core::QuotaStore& quotas) {
  // /quota/config first: the router takes the first route that matches.
  router.add(verb::put, "/quota/config",
             [&quotas](const RouteRequest& request) { return put_config(quotas, request); });
  router.add(verb::get, "/quota/config",
             [&quotas](const RouteRequest& request) { return get_config(quotas, request); });
  router.add(verb::get, "/quota", [&l2, &quotas](const RouteRequest& request) {
    return get_status(l2, quotas, request);
  });
  router.add(verb::put, "/quota/{salt}",
             [&quotas](const RouteRequest& request) { return put_quota(quotas, request); });
  router.add(verb::delete_, "/quota/{salt}",
             [&quotas](const RouteRequest& request) { return delete_quota(quotas, request); });
  router.add(verb::get, "/quota/{salt}", [&l2, &quotas](const RouteRequest& request) {
    return get_salt_status(l2, quotas, request);
  });
}

}  // namespace lmcache::http
