#pragma once

#include <atomic>
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

namespace lmcache::app {

// Counters of the eviction loop, for metrics.
struct EvictionStats {
  uint64_t sweeps = 0;              // sweeps that ran (an instance was registered)
  uint64_t victims_dispatched = 0;  // keys sent in DELETE /l2 requests
  uint64_t dispatches = 0;          // DELETE /l2 requests sent
  uint64_t dispatch_failures = 0;   // requests that failed or answered non-2xx
};

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

  EvictionLoop(core::L2Accounting& l2, core::QuotaStore& quotas, core::InstanceRegistry& registry,
               client::MpClient& client);

  // Runs one sweep at `now`; returns the number of victims dispatched.
  size_t sweep(Clock::time_point now);

  EvictionStats stats() const;

 private:
  struct Batch {
    core::InstanceRecord instance;
    std::vector<core::TrackedKey> victims;
  };

  // Where a victim goes, given the registered instances.
  const core::InstanceRecord* destination(const core::TrackedKey& victim,
                                          const std::vector<core::InstanceRecord>& instances,
                                          Clock::time_point now) EXCLUDES(mutex_);
  void dispatch(Batch batch) EXCLUDES(mutex_);
  void record_failure(const std::string& instance_id, Clock::time_point when) EXCLUDES(mutex_);

  core::L2Accounting& l2_;
  core::QuotaStore& quotas_;
  core::InstanceRegistry& registry_;
  client::MpClient& client_;

  mutable core::Mutex mutex_;  // guards what dispatch callbacks touch
  EvictionStats stats_ GUARDED_BY(mutex_);
  // Instances whose last dispatch failed, and when; avoided for a retry delay.
  boost::unordered_flat_map<std::string, Clock::time_point> failed_at_ GUARDED_BY(mutex_);
};

}  // namespace lmcache::app
