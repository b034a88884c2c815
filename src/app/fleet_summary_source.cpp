#include "app/fleet_summary_source.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace lmcache::app {

namespace {

double seconds_between(FleetSummarySource::Clock::time_point from,
                       FleetSummarySource::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double wall_clock_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

FleetSummarySource::FleetSummarySource(const core::InstanceRegistry& registry,
                                       const core::L2Accounting& l2, const core::QuotaStore& quotas,
                                       const core::EventIngest& events,
                                       const core::BlendIndex& blend, const EvictionLoop* eviction,
                                       Clock::duration instance_timeout)
    : registry_(registry),
      l2_(l2),
      quotas_(quotas),
      events_(events),
      blend_(blend),
      eviction_(eviction),
      instance_timeout_(instance_timeout) {}

void FleetSummarySource::record_blend_match(size_t matches) {
  match_requests_.fetch_add(1, std::memory_order_relaxed);
  matches_.fetch_add(matches, std::memory_order_relaxed);
  if (matches > 0) requests_with_match_.fetch_add(1, std::memory_order_relaxed);
}

http::FleetSummary FleetSummarySource::collect(Clock::time_point now) const {
  http::FleetSummary summary;
  summary.time = wall_clock_now();
  summary.instance_timeout_s = std::chrono::duration<double>(instance_timeout_).count();
  for (auto& status : registry_.statuses()) {
    const bool v2 = events_.speaks_v2(status.record.instance_id);
    // A heartbeat stamped by another thread after `now` was taken reads as age 0, not negative.
    const double age = std::max(0.0, seconds_between(status.last_heartbeat, now));
    summary.instances.push_back({std::move(status.record), age, v2});
  }

  // Salts with usage or an explicit quota, sorted by salt (as the metrics report them).
  std::map<std::string, http::FleetSalt> salts;
  for (auto& usage : l2_.salts()) {
    http::FleetSalt& salt = salts[usage.cache_salt];
    salt.usage_bytes = usage.bytes;
    salt.keys = usage.keys;
    salt.in_flight = usage.in_flight;
    summary.eviction.victims_in_flight += usage.in_flight;
  }
  const core::QuotaLimits limits = quotas_.limits();
  for (const auto& [name, limit] : limits.explicit_limits) salts[name].quota_bytes = limit;
  summary.default_quota_bytes = limits.default_limit;
  summary.salts.reserve(salts.size());
  for (auto& [name, salt] : salts) {
    salt.cache_salt = name;
    summary.salts.push_back(std::move(salt));
  }

  summary.l2 = l2_.counters();
  summary.events = events_.counters();
  summary.event_cursors = events_.gate().cursor_count();
  if (eviction_ != nullptr) {
    const EvictionLoop::Activity activity = eviction_->activity();
    summary.eviction.sweeps = activity.sweeps;
    summary.eviction.victims_dispatched = activity.victims_dispatched;
    summary.eviction.dispatches = activity.dispatches;
    summary.eviction.dispatch_failures = activity.dispatch_failures;
  }
  summary.blend.entries = blend_.entry_count();
  summary.blend.memory_bytes = blend_.memory_bytes();
  summary.blend.match_requests = match_requests_.load(std::memory_order_relaxed);
  summary.blend.matches = matches_.load(std::memory_order_relaxed);
  summary.blend.requests_with_match = requests_with_match_.load(std::memory_order_relaxed);
  if (ha_status_) summary.ha = ha_status_();
  return summary;
}

}  // namespace lmcache::app
