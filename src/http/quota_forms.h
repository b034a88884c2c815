// What both quota dialects (seed-era /l2/quota, /l2/status and v2 /quota) share: the path salt,
// the limit in GiB, and the JSON forms of a quota answer and a salt's status.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/quota_store.h"
#include "core/usage_ledger.h"
#include "http/request_validation.h"
#include "http/route_request.h"

namespace lmcache::http {

// The salt named by the path parameter `salt`: "_default" is the empty salt. nullopt (with a
// 422 error at ["path","salt"]) when the salt is not a valid cache_salt.
std::optional<std::string> path_salt(const RouteRequest& request, ValidationErrors& errors);

// A limit in GiB as bytes (floor(gib * 2^30)). nullopt, with a 422 error at `loc`, when the byte
// count does not fit in 63 bits: a limit is never silently stored smaller than asked.
std::optional<uint64_t> limit_bytes_of(double limit_gb, const boost::json::array& loc,
                                       ValidationErrors& errors);

// {"cache_salt","quota_limit_gb","quota_exists","usage_gb"}; `quota` is an explicit quota (a
// default limit is never reported here, as upstream does).
boost::json::object salt_status(std::string_view salt, std::optional<uint64_t> quota,
                                uint64_t usage);

// {"total_gb","by_cache_salt":[salt_status...]}: one row per salt with usage above 0 bytes or
// an explicit quota, sorted by salt; total_gb sums the usage.
boost::json::object status_listing(const std::vector<core::SaltUsage>& usage,
                                   const core::QuotaMap& quotas);

// 200 {"cache_salt","limit_gb","status"}: the answer to a quota PUT or DELETE.
HttpResponse quota_response(std::string_view salt, double limit_gb, std::string_view state);

// 503 {"detail"} for a quota write the database refused; logs "cannot <what>: <error>".
HttpResponse quota_store_failure(const core::QuotaStoreError& error, std::string_view what);

// Stores the quota of `salt` (durably, before answering) and answers as both dialects do, echoing
// `limit_gb` as sent. Logs the change as an audit line of `request`.
HttpResponse store_quota(const RouteRequest& request, core::QuotaStore& quotas,
                         const std::string& salt, uint64_t limit_bytes, double limit_gb);

// Removes the quota of `salt` (durably, before answering) and answers as both dialects do:
// limit_gb 0.0 and status "removed" or "not_found". Logs a removal as an audit line of `request`.
HttpResponse remove_quota(const RouteRequest& request, core::QuotaStore& quotas,
                          const std::string& salt);

// How an audit line shows a limit: "<n> bytes", or "none".
std::string audit_limit(std::optional<uint64_t> limit_bytes);

}  // namespace lmcache::http
