#include "http/l2_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>

#include "core/gib.h"
#include "core/object_key.h"
#include "http/json_response.h"
#include "http/l2_event_decoder.h"
#include "http/request_validation.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// The path segment that names the empty (default) salt.
constexpr std::string_view kDefaultSaltSegment = "_default";

// The salt named by the request path; nullopt (with a 422 error at ["path","salt"]) when the
// salt is not a valid cache_salt.
std::optional<std::string> path_salt(const RouteRequest& request, ValidationErrors& errors) {
  const std::string& segment = request.param("salt");
  if (segment == kDefaultSaltSegment) return std::string();
  if (auto problem = core::check_cache_salt(segment)) {
    errors.add("value_error", json::array{"path", "salt"}, "Value error, " + *problem,
               json::string(segment), json::object{{"error", *problem}});
    return std::nullopt;
  }
  return segment;
}

json::object salt_status(std::string_view salt, std::optional<uint64_t> quota, uint64_t usage) {
  return json::object{{"cache_salt", salt},
                      {"quota_limit_gb", core::bytes_to_gib(quota.value_or(0))},
                      {"quota_exists", quota.has_value()},
                      {"usage_gb", core::bytes_to_gib(usage)}};
}

HttpResponse quota_response(std::string_view salt, double limit_gb, std::string_view state) {
  return json_response(
      status::ok, json::object{{"cache_salt", salt}, {"limit_gb", limit_gb}, {"status", state}});
}

HttpResponse quota_store_failure(const core::QuotaStoreError& error, std::string_view action,
                                 std::string_view salt) {
  spdlog::error("cannot {} the quota of cache_salt '{}': {}", action, salt, error.what());
  return detail_response(status::service_unavailable,
                         std::string("quota store unavailable: ") + error.what());
}

HttpResponse post_events(core::L2Accounting& l2, const RouteRequest& request) {
  ValidationErrors errors;
  auto batch = decode_l2_event_batch(request.message.body(), errors);
  if (!batch) return errors.to_response();

  const core::L2BatchOutcome outcome =
      l2.apply_batch(batch->instance_id, batch->seq, batch->events);
  if (outcome.duplicate) {
    return json_response(status::ok, json::object{{"recorded", 0}, {"duplicate", true}});
  }
  if (outcome.gap) {
    spdlog::warn("L2 events of instance {}: batch seq {} follows a gap; earlier events were lost",
                 batch->instance_id, batch->seq);
  }
  json::object body{{"recorded", outcome.recorded}};
  if (!batch->rejected.empty()) {
    l2.record_rejected(batch->rejected.size());
    json::array rejected;
    rejected.reserve(batch->rejected.size());
    for (const auto& item : batch->rejected) {
      rejected.push_back(json::object{{"index", item.index}, {"error", item.error}});
    }
    spdlog::warn("L2 events of instance {} seq {}: {} rejected, first at index {}: {}",
                 batch->instance_id, batch->seq, batch->rejected.size(),
                 batch->rejected.front().index, batch->rejected.front().error);
    body["rejected"] = std::move(rejected);
  }
  return json_response(status::ok, body);
}

HttpResponse put_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  std::optional<double> limit_gb;
  if (auto body = parse_json_body(request.message.body(), errors)) {
    if (const json::object* object = body_object(*body, errors)) {
      limit_gb = FieldReader(*object, json::array{"body"}, errors).number("limit_gb", {}, 0.0);
    }
  }
  std::optional<uint64_t> limit_bytes;
  if (limit_gb) {
    limit_bytes = core::gib_to_bytes(*limit_gb);
    if (!limit_bytes) {
      const std::string problem = "limit_gb is too large: its byte count must fit in 63 bits";
      errors.add("value_error", json::array{"body", "limit_gb"}, "Value error, " + problem,
                 *limit_gb, json::object{{"error", problem}});
    }
  }
  if (!errors.empty()) return errors.to_response();

  try {
    quotas.set(*salt, *limit_bytes);
  } catch (const core::QuotaStoreError& error) {
    return quota_store_failure(error, "set", *salt);
  }
  spdlog::info("quota of cache_salt '{}' set to {} bytes", *salt, *limit_bytes);
  // The answer echoes the limit as sent, as the original does; the status routes report the
  // stored byte count.
  return quota_response(*salt, *limit_gb, "ok");
}

HttpResponse delete_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  if (!salt) return errors.to_response();
  bool removed = false;
  try {
    removed = quotas.remove(*salt);
  } catch (const core::QuotaStoreError& error) {
    return quota_store_failure(error, "remove", *salt);
  }
  if (removed) spdlog::info("quota of cache_salt '{}' removed", *salt);
  return quota_response(*salt, 0.0, removed ? "removed" : "not_found");
}

HttpResponse get_salt_status(const core::L2Accounting& l2, const core::QuotaStore& quotas,
                             const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  if (!salt) return errors.to_response();
  return json_response(status::ok, salt_status(*salt, quotas.get(*salt), l2.usage_bytes(*salt)));
}

HttpResponse get_status(const core::L2Accounting& l2, const core::QuotaStore& quotas) {
  struct Row {
    std::optional<uint64_t> quota;
    uint64_t usage = 0;
  };
  std::map<std::string, Row, std::less<>> rows;  // sorted by salt
  uint64_t total = 0;
  for (const auto& usage : l2.salts()) {
    // A salt that holds only 0-byte keys is listed only when it has a quota, as in the original.
    if (usage.bytes == 0) continue;
    rows[usage.cache_salt].usage = usage.bytes;
    total += usage.bytes;
  }
  for (const auto& [salt, limit] : quotas.all()) rows[salt].quota = limit;

  json::array by_salt;
  by_salt.reserve(rows.size());
  for (const auto& [salt, row] : rows) by_salt.push_back(salt_status(salt, row.quota, row.usage));
  return json_response(status::ok, json::object{{"total_gb", core::bytes_to_gib(total)},
                                                {"by_cache_salt", std::move(by_salt)}});
}

}  // namespace

void add_l2_routes(Router& router, core::L2Accounting& l2, core::QuotaStore& quotas) {
  router.add(verb::post, "/l2/events",
             [&l2](const RouteRequest& request) { return post_events(l2, request); });
  router.add(verb::put, "/l2/quota/{salt}",
             [&quotas](const RouteRequest& request) { return put_quota(quotas, request); });
  router.add(verb::delete_, "/l2/quota/{salt}",
             [&quotas](const RouteRequest& request) { return delete_quota(quotas, request); });
  router.add(verb::get, "/l2/status",
             [&l2, &quotas](const RouteRequest&) { return get_status(l2, quotas); });
  router.add(verb::get, "/l2/status/{salt}", [&l2, &quotas](const RouteRequest& request) {
    return get_salt_status(l2, quotas, request);
  });
}

}  // namespace lmcache::http
