#include "http/quota_forms.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <functional>
#include <map>

#include "core/gib.h"
#include "core/object_key.h"
#include "http/audit_log.h"
#include "http/json_response.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// The path segment that names the empty (default) salt.
constexpr std::string_view kDefaultSaltSegment = "_default";

}  // namespace

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

std::optional<uint64_t> limit_bytes_of(double limit_gb, const json::array& loc,
                                       ValidationErrors& errors) {
  auto bytes = core::gib_to_bytes(limit_gb);
  if (!bytes) {
    const json::string* name = loc.empty() ? nullptr : loc.back().if_string();
    const std::string field = name != nullptr ? std::string(*name) : "limit";
    const std::string problem = field + " is too large: its byte count must fit in 63 bits";
    errors.add("value_error", loc, "Value error, " + problem, limit_gb,
               json::object{{"error", problem}});
  }
  return bytes;
}

json::object salt_status(std::string_view salt, std::optional<uint64_t> quota, uint64_t usage) {
  return json::object{{"cache_salt", salt},
                      {"quota_limit_gb", core::bytes_to_gib(quota.value_or(0))},
                      {"quota_exists", quota.has_value()},
                      {"usage_gb", core::bytes_to_gib(usage)}};
}

json::object status_listing(const std::vector<core::SaltUsage>& usage,
                            const core::QuotaMap& quotas) {
  struct Row {
    std::optional<uint64_t> quota;
    uint64_t usage = 0;
  };
  std::map<std::string, Row, std::less<>> rows;  // sorted by salt
  uint64_t total = 0;
  for (const auto& salt : usage) {
    // A salt that holds only 0-byte keys is listed only when it has a quota, as in the original.
    if (salt.bytes == 0) continue;
    rows[salt.cache_salt].usage = salt.bytes;
    total += salt.bytes;
  }
  for (const auto& [salt, limit] : quotas) rows[salt].quota = limit;

  json::array by_salt;
  by_salt.reserve(rows.size());
  for (const auto& [salt, row] : rows) by_salt.push_back(salt_status(salt, row.quota, row.usage));
  return json::object{{"total_gb", core::bytes_to_gib(total)},
                      {"by_cache_salt", std::move(by_salt)}};
}

HttpResponse quota_response(std::string_view salt, double limit_gb, std::string_view state) {
  return json_response(
      beast_http::status::ok,
      json::object{{"cache_salt", salt}, {"limit_gb", limit_gb}, {"status", state}});
}

HttpResponse quota_store_failure(const core::QuotaStoreError& error, std::string_view what) {
  spdlog::error("cannot {}: {}", what, error.what());
  return detail_response(beast_http::status::service_unavailable,
                         std::string("quota store unavailable: ") + error.what());
}

std::string audit_limit(std::optional<uint64_t> limit_bytes) {
  return limit_bytes ? std::to_string(*limit_bytes) + " bytes" : "none";
}

HttpResponse store_quota(const RouteRequest& request, core::QuotaStore& quotas,
                         const std::string& salt, uint64_t limit_bytes, double limit_gb) {
  const std::optional<uint64_t> before = quotas.get(salt);
  try {
    quotas.set(salt, limit_bytes);
  } catch (const core::QuotaStoreError& error) {
    return quota_store_failure(error, "set the quota of cache_salt '" + salt + "'");
  }
  log_audit(request, "quota of cache_salt '" + salt + "'", audit_limit(before),
            audit_limit(limit_bytes));
  // The answer echoes the limit as sent, as the original does; the status routes report the
  // stored byte count.
  return quota_response(salt, limit_gb, "ok");
}

HttpResponse remove_quota(const RouteRequest& request, core::QuotaStore& quotas,
                          const std::string& salt) {
  const std::optional<uint64_t> before = quotas.get(salt);
  bool removed = false;
  try {
    removed = quotas.remove(salt);
  } catch (const core::QuotaStoreError& error) {
    return quota_store_failure(error, "remove the quota of cache_salt '" + salt + "'");
  }
  if (removed) {
    log_audit(request, "quota of cache_salt '" + salt + "'", audit_limit(before), "none");
  }
  return quota_response(salt, 0.0, removed ? "removed" : "not_found");
}

}  // namespace lmcache::http
