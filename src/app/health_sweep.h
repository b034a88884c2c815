#pragma once

#include <atomic>
#include <chrono>

#include "core/instance_registry.h"

namespace lmcache::app {

// The membership health sweep: drops instances whose heartbeat is older than
// the timeout. When the sweep itself runs much later than scheduled, the
// coordinator was stalled and heartbeats may be sitting unread in socket
// buffers, so every instance gets a fresh grace period instead.
class HealthSweep {
 public:
  using Clock = std::chrono::steady_clock;

  HealthSweep(core::InstanceRegistry& registry, Clock::duration instance_timeout,
              Clock::duration interval);

  // A sweep that is later than this is treated as a coordinator stall.
  Clock::duration stall_threshold() const { return stall_threshold_; }

  // One sweep at `now`, `lateness` behind its schedule. Returns the number of
  // instances removed.
  size_t run(Clock::time_point now, Clock::duration lateness);

  // Instances removed since start (for metrics).
  uint64_t removed_total() const { return removed_total_.load(); }

 private:
  core::InstanceRegistry& registry_;
  Clock::duration instance_timeout_;
  Clock::duration stall_threshold_;
  std::atomic<uint64_t> removed_total_{0};
};

}  // namespace lmcache::app
