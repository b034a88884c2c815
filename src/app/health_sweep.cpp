#include "app/health_sweep.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace lmcache::app {

HealthSweep::HealthSweep(core::InstanceRegistry& registry, Clock::duration instance_timeout,
                         Clock::duration interval, prometheus::Registry& metrics,
                         RemovalHook on_removed)
    : registry_(registry),
      instance_timeout_(instance_timeout),
      // Late by more than one interval and more than 1 s: not jitter, a stall.
      stall_threshold_(std::max<Clock::duration>(interval, std::chrono::seconds(1))),
      removed_(prometheus::BuildCounter()
                   .Name("lmcache_coordinator_instance_evictions_total")
                   .Help("Instances removed by the health sweep for missing heartbeats.")
                   .Register(metrics)
                   .Add({})),
      on_removed_(std::move(on_removed)) {}

size_t HealthSweep::run(Clock::time_point now, Clock::duration lateness) {
  if (lateness > stall_threshold_) {
    spdlog::warn(
        "health sweep ran {:.1f} s late (coordinator stalled); granting every instance a "
        "fresh grace period",
        std::chrono::duration<double>(lateness).count());
    registry_.refresh_all(now);
    return 0;
  }
  const auto removed = registry_.remove_lapsed(now, instance_timeout_);
  for (const auto& id : removed) {
    if (on_removed_) on_removed_(id);
    spdlog::warn("evicted instance {}: no heartbeat for more than {:.1f} s", id,
                 std::chrono::duration<double>(instance_timeout_).count());
  }
  removed_.Increment(static_cast<double>(removed.size()));
  return removed.size();
}

}  // namespace lmcache::app
