#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/mp_client.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/mutex.h"
#include "core/quota_store.h"
#include "core/thread_annotations.h"
#include "core/victim_router.h"

namespace lmcache::app {

// One eviction sweep: plan victims over quota (pure, in L2Accounting), then
// dispatch them as DELETE /l2 requests. Each victim goes to the instance that
// last stored it while that instance is registered and has not just failed,
// otherwise to a random registered instance. Requests carry at most 10,000
// keys. Dispatch is asynchronous: a sweep never waits for an MP server.
//
// At-least-once: victims stay tracked until their `delete` events come back.
// A failed request releases its victims, so the next sweep sends them again,
// to another instance when there is one.
class EvictionLoop {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeysPerRequest = 10000;

  // Registers its counters (sweeps, keys and requests sent, failed requests) in `metrics`.
  EvictionLoop(core::L2Accounting& l2, core::QuotaStore& quotas, core::InstanceRegistry& registry,
               client::MpClient& client, prometheus::Registry& metrics);

  // Runs one sweep at `now`; returns the number of victims dispatched.
  size_t sweep(Clock::time_point now);

 private:
  struct Batch {
    core::InstanceRecord instance;
    std::vector<core::TrackedKey> victims;
  };

  // Where this sweep's victims go, given the registered instances (see core::VictimRouter).
  // Its random choices are made by the sweeping thread alone.
  core::VictimRouter::Sweep route_sweep(const std::vector<core::InstanceRecord>& instances,
                                        Clock::time_point now) EXCLUDES(mutex_);
  void dispatch(Batch batch);
  void record_failure(const std::string& instance_id, Clock::time_point when) EXCLUDES(mutex_);

  core::L2Accounting& l2_;
  core::QuotaStore& quotas_;
  core::InstanceRegistry& registry_;
  client::MpClient& client_;
  prometheus::Counter& sweeps_;              // sweeps that ran (an instance was registered)
  prometheus::Counter& victims_dispatched_;  // keys sent in DELETE /l2 requests
  prometheus::Counter& dispatches_;          // DELETE /l2 requests sent
  prometheus::Counter& dispatch_failures_;   // requests that failed or answered non-2xx

  mutable core::Mutex mutex_;  // guards what dispatch callbacks touch
  // Chooses destinations; remembers instances whose last dispatch failed.
  core::VictimRouter router_ GUARDED_BY(mutex_);
};

}  // namespace lmcache::app
