#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <string>

#include "core/instance_registry.h"

namespace lmcache::app {

// The membership health sweep: drops instances whose heartbeat is older than
// the timeout. When the sweep itself runs much later than scheduled, the
// coordinator was stalled and heartbeats may be sitting unread in socket
// buffers, so every instance gets a fresh grace period instead.
class HealthSweep {
 public:
  using Clock = std::chrono::steady_clock;

  // Called with the id of each instance a sweep removes, after its removal.
  using RemovalHook = std::function<void(const std::string& instance_id)>;

  // Registers its counter of removed instances in `metrics`.
  HealthSweep(core::InstanceRegistry& registry, Clock::duration instance_timeout,
              Clock::duration interval, prometheus::Registry& metrics, RemovalHook on_removed = {});

  // A sweep that is later than this is treated as a coordinator stall.
  Clock::duration stall_threshold() const { return stall_threshold_; }

  // One sweep at `now`, `lateness` behind its schedule. Returns the number of
  // instances removed.
  size_t run(Clock::time_point now, Clock::duration lateness);

 private:
  core::InstanceRegistry& registry_;
  Clock::duration instance_timeout_;
  Clock::duration stall_threshold_;
  prometheus::Counter& removed_;  // instances removed since start
  RemovalHook on_removed_;
};

}  // namespace lmcache::app
