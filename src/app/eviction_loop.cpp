#include "app/eviction_loop.h"

#include <spdlog/spdlog.h>

namespace lmcache::app {

namespace {

prometheus::Counter& counter(prometheus::Registry& metrics, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(metrics).Add({});
}

// Views of the victims' keys, for the delete body.
std::vector<core::ObjectKeyView> keys_of(const std::vector<core::TrackedKey>& victims) {
  std::vector<core::ObjectKeyView> keys;
  keys.reserve(victims.size());
  for (const auto& victim : victims) keys.emplace_back(victim.key);
  return keys;
}

}  // namespace

EvictionLoop::EvictionLoop(core::L2Accounting& l2, core::QuotaStore& quotas,
                           core::InstanceRegistry& registry, const core::EventIngest& events,
                           client::MpClient& client, prometheus::Registry& metrics)
    : l2_(l2),
      quotas_(quotas),
      registry_(registry),
      events_(events),
      client_(client),
      sweeps_(
          counter(metrics, "lmcache_coordinator_eviction_sweeps_total", "Eviction sweeps run.")),
      victims_dispatched_(counter(metrics, "lmcache_coordinator_eviction_victims_dispatched_total",
                                  "Keys sent to MP servers in delete requests.")),
      dispatches_(counter(metrics, "lmcache_coordinator_eviction_dispatches_total",
                          "Delete requests sent (DELETE /l2 or DELETE /cache/objects).")),
      dispatch_failures_(counter(metrics, "lmcache_coordinator_eviction_dispatch_failures_total",
                                 "Delete requests that failed or were refused.")) {}

size_t EvictionLoop::sweep(Clock::time_point now) {
  const std::vector<core::InstanceRecord> instances = registry_.list();
  if (instances.empty()) return 0;  // nobody to send deletes to: skip the sweep
  core::EvictionPlan plan = l2_.plan_eviction(quotas_.limits(), now);
  sweeps_.Increment();
  for (const auto& salt : plan.salts) {
    spdlog::info(
        "salt '{}' over quota: usage {} B, limit {} B, {} keys; evicting {} ({} in flight)",
        salt.cache_salt, salt.usage_bytes, salt.limit_bytes, salt.keys, salt.chosen,
        salt.in_flight);
  }
  if (plan.victims.empty()) return 0;

  // Group by destination, keeping LRU order within each group.
  const core::VictimRouter::Sweep routes = route_sweep(instances, now);
  std::vector<Batch> batches;
  boost::unordered_flat_map<std::string, size_t> batch_of;
  for (auto& victim : plan.victims) {
    const core::InstanceRecord* to = routes.choose(victim.owner);
    auto [it, added] = batch_of.try_emplace(to->instance_id, batches.size());
    if (added) batches.push_back(Batch{*to, events_.speaks_v2(to->instance_id), {}});
    Batch& batch = batches[it->second];
    batch.victims.push_back(std::move(victim));
    if (batch.victims.size() == kMaxKeysPerRequest) {
      const bool v2 = batch.v2;
      dispatch(std::move(batch));
      batch = Batch{*to, v2, {}};
    }
  }
  for (auto& batch : batches) {
    if (!batch.victims.empty()) dispatch(std::move(batch));
  }
  return plan.victims.size();
}

EvictionLoop::Activity EvictionLoop::activity() const {
  auto count = [](const prometheus::Counter& counter) {
    return static_cast<uint64_t>(counter.Value());
  };
  return {count(sweeps_), count(victims_dispatched_), count(dispatches_),
          count(dispatch_failures_)};
}

core::VictimRouter::Sweep EvictionLoop::route_sweep(
    const std::vector<core::InstanceRecord>& instances, Clock::time_point now) {
  core::MutexLock lock(mutex_);
  return router_.sweep(instances, now);
}

void EvictionLoop::dispatch(Batch batch) {
  dispatches_.Increment();
  victims_dispatched_.Increment(static_cast<double>(batch.victims.size()));
  spdlog::info("eviction: sending {} keys to instance {} at {}:{} ({})", batch.victims.size(),
               batch.instance.instance_id, batch.instance.ip, batch.instance.http_port,
               batch.v2 ? "DELETE /cache/objects" : "DELETE /l2");
  const client::MpEndpoint endpoint{batch.instance.ip, batch.instance.http_port};
  auto shared = std::make_shared<Batch>(std::move(batch));
  if (shared->v2) {
    client_.delete_objects(endpoint, keys_of(shared->victims),
                           [this, shared](const client::MpDeleteObjectsResult& result) {
                             if (!result.ok()) return dispatch_failed(*shared, result.error);
                             if (!result.answer) {
                               spdlog::warn(
                                   "eviction: DELETE /cache/objects to instance {} answered "
                                   "HTTP {} without a readable answer; counted as sent",
                                   shared->instance.instance_id, result.response.status);
                             }
                           });
    return;
  }
  client_.delete_keys(
      endpoint, keys_of(shared->victims), [this, shared](const client::MpResponse& response) {
        if (response.success()) return;
        dispatch_failed(*shared, response.ok() ? "HTTP " + std::to_string(response.status)
                                               : response.error_text);
      });
}

void EvictionLoop::dispatch_failed(const Batch& batch, const std::string& why) {
  spdlog::warn("eviction: {} to instance {} failed ({}); {} keys will be retried",
               batch.v2 ? "DELETE /cache/objects" : "DELETE /l2", batch.instance.instance_id, why,
               batch.victims.size());
  dispatch_failures_.Increment();
  {
    core::MutexLock lock(mutex_);
    router_.record_failure(batch.instance.instance_id, Clock::now());
  }
  l2_.release(batch.victims);
}

}  // namespace lmcache::app
