#include "app/eviction_loop.h"

#include <spdlog/spdlog.h>

#include <random>

namespace lmcache::app {

namespace {

// How long an instance whose dispatch failed is passed over.
constexpr auto kAvoidFailedFor = std::chrono::seconds(30);

// Views of the victims' keys, for the DELETE /l2 body.
std::vector<core::ObjectKeyView> keys_of(const std::vector<core::TrackedKey>& victims) {
  std::vector<core::ObjectKeyView> keys;
  keys.reserve(victims.size());
  for (const auto& victim : victims) keys.emplace_back(victim.key);
  return keys;
}

}  // namespace

EvictionLoop::EvictionLoop(core::L2Accounting& l2, core::QuotaStore& quotas,
                           core::InstanceRegistry& registry, client::MpClient& client)
    : l2_(l2), quotas_(quotas), registry_(registry), client_(client) {}

size_t EvictionLoop::sweep(Clock::time_point now) {
  const std::vector<core::InstanceRecord> instances = registry_.list();
  if (instances.empty()) return 0;  // nobody to send deletes to: skip the sweep
  core::EvictionPlan plan = l2_.plan_eviction(quotas_.all(), now);
  {
    std::lock_guard lock(mutex_);
    ++stats_.sweeps;
  }
  for (const auto& salt : plan.salts) {
    spdlog::info(
        "salt '{}' over quota: usage {} B, limit {} B, {} keys; evicting {} ({} in flight)",
        salt.cache_salt, salt.usage_bytes, salt.limit_bytes, salt.keys, salt.chosen,
        salt.in_flight);
  }
  if (plan.victims.empty()) return 0;

  // Group by destination, keeping LRU order within each group.
  std::vector<Batch> batches;
  boost::unordered_flat_map<std::string, size_t> batch_of;
  for (auto& victim : plan.victims) {
    const core::InstanceRecord* to = destination(victim, instances, now);
    auto [it, added] = batch_of.try_emplace(to->instance_id, batches.size());
    if (added) batches.push_back(Batch{*to, {}});
    Batch& batch = batches[it->second];
    batch.victims.push_back(std::move(victim));
    if (batch.victims.size() == kMaxKeysPerRequest) {
      dispatch(std::move(batch));
      batch = Batch{*to, {}};
    }
  }
  for (auto& batch : batches) {
    if (!batch.victims.empty()) dispatch(std::move(batch));
  }
  return plan.victims.size();
}

const core::InstanceRecord* EvictionLoop::destination(
    const core::TrackedKey& victim, const std::vector<core::InstanceRecord>& instances,
    Clock::time_point now) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mutex_);
  auto recently_failed = [&](const std::string& id) {
    auto it = failed_at_.find(id);
    return it != failed_at_.end() && now - it->second < kAvoidFailedFor;
  };
  if (!victim.owner.empty()) {
    for (const auto& instance : instances) {
      if (instance.instance_id == victim.owner && !recently_failed(instance.instance_id)) {
        return &instance;
      }
    }
  }
  // A random registered instance, preferring those that have not just failed.
  std::vector<const core::InstanceRecord*> healthy;
  for (const auto& instance : instances) {
    if (!recently_failed(instance.instance_id)) healthy.push_back(&instance);
  }
  if (healthy.empty()) {
    std::uniform_int_distribution<size_t> pick(0, instances.size() - 1);
    return &instances[pick(rng)];
  }
  std::uniform_int_distribution<size_t> pick(0, healthy.size() - 1);
  return healthy[pick(rng)];
}

void EvictionLoop::dispatch(Batch batch) {
  {
    std::lock_guard lock(mutex_);
    ++stats_.dispatches;
    stats_.victims_dispatched += batch.victims.size();
  }
  spdlog::info("eviction: sending {} keys to instance {} at {}:{}", batch.victims.size(),
               batch.instance.instance_id, batch.instance.ip, batch.instance.http_port);
  const client::MpEndpoint endpoint{batch.instance.ip, batch.instance.http_port};
  auto shared = std::make_shared<Batch>(std::move(batch));
  client_.delete_keys(
      endpoint, keys_of(shared->victims), [this, shared](const client::MpResponse& response) {
        if (response.success()) return;
        const std::string why =
            response.ok() ? "HTTP " + std::to_string(response.status) : response.error_text;
        spdlog::warn("eviction: DELETE /l2 to instance {} failed ({}); {} keys will be retried",
                     shared->instance.instance_id, why, shared->victims.size());
        record_failure(shared->instance.instance_id, Clock::now());
        l2_.release(shared->victims);
      });
}

void EvictionLoop::record_failure(const std::string& instance_id, Clock::time_point when) {
  std::lock_guard lock(mutex_);
  ++stats_.dispatch_failures;
  failed_at_[instance_id] = when;
}

EvictionStats EvictionLoop::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace lmcache::app
