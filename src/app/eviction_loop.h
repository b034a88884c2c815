#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/mp_client.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/mutex.h"
#include "core/quota_store.h"
#include "core/thread_annotations.h"
#include "core/victim_router.h"

namespace lmcache::app {

// One eviction sweep: plan victims over quota (pure, in L2Accounting), then
// dispatch them as delete requests. Each victim goes to the instance that
// last stored it while that instance is registered and has not just failed,
// otherwise to a random registered instance. Each instance gets the delete of
// its dialect: DELETE /cache/objects when it speaks v2 (it has posted
// /events, core::EventIngest::speaks_v2), DELETE /l2 otherwise; the body is
// {"keys":[...]} either way. Requests carry at most 10,000 keys. Dispatch is
// asynchronous: a sweep never waits for an MP server.
//
// At-least-once: victims stay tracked until their `delete` events come back.
// A failed request releases its victims, so the next sweep sends them again,
// to another instance when there is one. Failed means a transport error, a
// non-2xx answer, or a v2 answer saying "ok": false (the server's storage
// adapter raised, so the keys may still be stored).
class EvictionLoop {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeysPerRequest = 10000;

  // Registers its counters (sweeps, keys and requests sent, failed requests) in `metrics`.
  // `events` tells each instance's dialect.
  EvictionLoop(core::L2Accounting& l2, core::QuotaStore& quotas, core::InstanceRegistry& registry,
               const core::EventIngest& events, client::MpClient& client,
               prometheus::Registry& metrics);

  // Runs one sweep at `now`; returns the number of victims dispatched.
  size_t sweep(Clock::time_point now);

  // What the loop has done since start, as its counters read now.
  struct Activity {
    uint64_t sweeps = 0;
    uint64_t victims_dispatched = 0;
    uint64_t dispatches = 0;
    uint64_t dispatch_failures = 0;
  };
  Activity activity() const;

 private:
  struct Batch {
    core::InstanceRecord instance;
    bool v2 = false;  // the instance speaks v2: DELETE /cache/objects
    std::vector<core::TrackedKey> victims;
  };

  // Where this sweep's victims go, given the registered instances (see core::VictimRouter).
  // Its random choices are made by the sweeping thread alone.
  core::VictimRouter::Sweep route_sweep(const std::vector<core::InstanceRecord>& instances,
                                        Clock::time_point now) EXCLUDES(mutex_);
  void dispatch(Batch batch);
  // The request failed for `why`: its victims are released and the instance avoided.
  void dispatch_failed(const Batch& batch, const std::string& why) EXCLUDES(mutex_);

  core::L2Accounting& l2_;
  core::QuotaStore& quotas_;
  core::InstanceRegistry& registry_;
  const core::EventIngest& events_;
  client::MpClient& client_;
  prometheus::Counter& sweeps_;              // sweeps that ran (an instance was registered)
  prometheus::Counter& victims_dispatched_;  // keys sent in delete requests
  prometheus::Counter& dispatches_;          // delete requests sent, of either dialect
  prometheus::Counter& dispatch_failures_;   // requests that failed or answered non-2xx

  mutable core::Mutex mutex_;  // guards what dispatch callbacks touch
  // Chooses destinations; remembers instances whose last dispatch failed.
  core::VictimRouter router_ GUARDED_BY(mutex_);
};

}  // namespace lmcache::app
