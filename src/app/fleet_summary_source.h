#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "app/eviction_loop.h"
#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/fleet_routes.h"

namespace lmcache::app {

// Gathers GET /fleet/summary from the core objects, the eviction loop and the blend match
// requests it is told of. Each call reads every source afresh (no caching), each under its own
// lock, so the parts are each consistent but not taken at one instant.
//
// Thread-safe. The objects must outlive this one.
class FleetSummarySource {
 public:
  using Clock = std::chrono::steady_clock;

  // `eviction` may be null (counted as no activity).
  FleetSummarySource(const core::InstanceRegistry& registry, const core::L2Accounting& l2,
                     const core::QuotaStore& quotas, const core::EventIngest& events,
                     const core::BlendIndex& blend, const EvictionLoop* eviction,
                     Clock::duration instance_timeout);

  // Tells the HA role and leader at the time of a summary; nullopt outside HA mode.
  using HaStatus = std::function<std::optional<http::FleetHa>()>;
  // Set before the summary is first served (not synchronised with collect()). Without it, the
  // summary reports "ha": null.
  void set_ha_status(HaStatus ha_status) { ha_status_ = std::move(ha_status); }

  // Counts one answered POST /blend/match that found `matches` matches.
  void record_blend_match(size_t matches);

  // The summary at `now` (heartbeat ages are measured from it).
  http::FleetSummary collect(Clock::time_point now) const;

 private:
  const core::InstanceRegistry& registry_;
  const core::L2Accounting& l2_;
  const core::QuotaStore& quotas_;
  const core::EventIngest& events_;
  const core::BlendIndex& blend_;
  const EvictionLoop* eviction_;
  const Clock::duration instance_timeout_;
  HaStatus ha_status_;
  std::atomic<uint64_t> match_requests_{0};
  std::atomic<uint64_t> matches_{0};
  std::atomic<uint64_t> requests_with_match_{0};
};

}  // namespace lmcache::app
