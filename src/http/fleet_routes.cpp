#include "http/fleet_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <utility>

#include "http/json_response.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

json::value optional_bytes(const std::optional<uint64_t>& bytes) {
  return bytes ? json::value(*bytes) : json::value(nullptr);
}

std::string address(const core::InstanceRecord& record) {
  const bool v6 = record.ip.find(':') != std::string::npos;
  return (v6 ? "[" + record.ip + "]" : record.ip) + ":" + std::to_string(record.http_port);
}

json::object instance_json(const FleetInstance& instance) {
  const core::InstanceRecord& record = instance.record;
  json::object metadata;
  for (const auto& [key, value] : record.metadata) metadata[key] = value;
  return {{"instance_id", record.instance_id},
          {"address", address(record)},
          {"ip", record.ip},
          {"http_port", record.http_port},
          {"registration_time", record.registration_time},
          {"metadata", std::move(metadata)},
          {"heartbeat_age_s", instance.heartbeat_age_s},
          {"dialect", instance.v2 ? "v2" : "seed"}};
}

json::object salt_json(const FleetSalt& salt, const core::DefaultLimit& default_limit) {
  // The limit that applies: the salt's own quota, else the default (null: exempt).
  const std::optional<uint64_t> limit = salt.quota_bytes ? salt.quota_bytes : default_limit;
  return {{"cache_salt", salt.cache_salt},
          {"usage_bytes", salt.usage_bytes},
          {"keys", salt.keys},
          {"in_flight", salt.in_flight},
          {"quota_bytes", optional_bytes(salt.quota_bytes)},
          {"limit_bytes", optional_bytes(limit)}};
}

json::object l2_json(const core::L2Counters& l2) {
  return {{"tracked_keys", l2.tracked_keys},
          {"stored_bytes", l2.total_bytes},
          {"events", {{"store", l2.events[0]}, {"lookup", l2.events[1]}, {"delete", l2.events[2]}}},
          {"rejected_events", l2.rejected_events},
          {"duplicate_batches", l2.duplicate_batches},
          {"gap_batches", l2.gap_batches},
          {"missed_batches", l2.missed_batches}};
}

json::object blend_json(const FleetBlend& blend) {
  json::value rate = nullptr;  // no requests yet: no rate
  if (blend.match_requests > 0) {
    rate =
        static_cast<double>(blend.requests_with_match) / static_cast<double>(blend.match_requests);
  }
  return {{"entries", blend.entries},
          {"memory_bytes", blend.memory_bytes},
          {"match_requests", blend.match_requests},
          {"matches", blend.matches},
          {"requests_with_match", blend.requests_with_match},
          {"match_rate", std::move(rate)}};
}

}  // namespace

json::value fleet_summary_json(const FleetSummary& summary) {
  json::array instances;
  instances.reserve(summary.instances.size());
  for (const auto& instance : summary.instances) instances.emplace_back(instance_json(instance));
  json::array salts;
  salts.reserve(summary.salts.size());
  for (const auto& salt : summary.salts) {
    salts.emplace_back(salt_json(salt, summary.default_quota_bytes));
  }
  const core::EventIngest::Counters& events = summary.events;
  const FleetEviction& eviction = summary.eviction;
  json::value ha = nullptr;
  if (summary.ha) ha = json::object{{"role", summary.ha->role}, {"leader", summary.ha->leader}};
  return json::object{{"time", summary.time},
                      {"instance_timeout_s", summary.instance_timeout_s},
                      {"instances", std::move(instances)},
                      {"salts", std::move(salts)},
                      {"default_quota_bytes", optional_bytes(summary.default_quota_bytes)},
                      {"l2", l2_json(summary.l2)},
                      {"events",
                       {{"applied", events.batches.admitted},
                        {"duplicate", events.batches.duplicates},
                        {"stale", events.batches.stale},
                        {"rejected", events.rejected},
                        {"gaps", events.batches.gaps},
                        {"fences", events.batches.fences},
                        {"cursors", summary.event_cursors}}},
                      {"eviction",
                       {{"sweeps", eviction.sweeps},
                        {"victims_dispatched", eviction.victims_dispatched},
                        {"dispatches", eviction.dispatches},
                        {"dispatch_failures", eviction.dispatch_failures},
                        {"victims_in_flight", eviction.victims_in_flight}}},
                      {"blend", blend_json(summary.blend)},
                      {"ha", std::move(ha)}};
}

void add_fleet_routes(Router& router, std::string_view page,
                      std::function<FleetSummary()> summarize) {
  auto serve_page = [page](const RouteRequest&) {
    HttpResponse response{status::ok, 11};
    response.set(beast_http::field::content_type, "text/html; charset=utf-8");
    response.set(beast_http::field::cache_control, "no-cache");
    response.body() = std::string(page);
    response.prepare_payload();
    return response;
  };
  router.add(verb::get, "/", serve_page);
  router.add(verb::get, "/ui", serve_page);
  router.add(verb::get, "/fleet/summary", [summarize = std::move(summarize)](const RouteRequest&) {
    return json_response(status::ok, fleet_summary_json(summarize()));
  });
}

}  // namespace lmcache::http
