#include "core/victim_router.h"

#include <memory>
#include <random>

namespace lmcache::core {

namespace {

VictimRouter::RandomIndex seeded_random_index() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(*rng); };
}

}  // namespace

VictimRouter::VictimRouter() : VictimRouter(seeded_random_index()) {}

VictimRouter::VictimRouter(RandomIndex random_index) : random_index_(std::move(random_index)) {}

const InstanceRecord* VictimRouter::choose(std::string_view owner,
                                           const std::vector<InstanceRecord>& instances,
                                           Clock::time_point now) {
  if (instances.empty()) return nullptr;
  if (!owner.empty() && !recently_failed(owner, now)) {
    for (const auto& instance : instances) {
      if (instance.instance_id == owner) return &instance;
    }
  }
  std::vector<const InstanceRecord*> healthy;
  healthy.reserve(instances.size());
  for (const auto& instance : instances) {
    if (!recently_failed(instance.instance_id, now)) healthy.push_back(&instance);
  }
  if (healthy.empty()) return &instances[random_index_(instances.size())];
  return healthy[random_index_(healthy.size())];
}

void VictimRouter::record_failure(const std::string& instance_id, Clock::time_point when) {
  failed_at_[instance_id] = when;
}

bool VictimRouter::recently_failed(std::string_view instance_id, Clock::time_point now) const {
  auto it = failed_at_.find(instance_id);
  return it != failed_at_.end() && now - it->second < kAvoidFailedFor;
}

}  // namespace lmcache::core
