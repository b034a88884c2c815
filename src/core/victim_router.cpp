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

VictimRouter::Sweep VictimRouter::sweep(const std::vector<InstanceRecord>& instances,
                                        Clock::time_point now) const {
  Sweep sweep(instances, random_index_);
  sweep.healthy_.reserve(instances.size());
  for (const auto& instance : instances) {
    if (recently_failed(instance.instance_id, now)) continue;
    sweep.healthy_.push_back(&instance);
    sweep.healthy_by_id_.emplace(instance.instance_id, &instance);
  }
  return sweep;
}

const InstanceRecord* VictimRouter::Sweep::choose(std::string_view owner) const {
  if (instances_.empty()) return nullptr;
  if (!owner.empty()) {
    if (auto it = healthy_by_id_.find(owner); it != healthy_by_id_.end()) return it->second;
  }
  if (healthy_.empty()) return &instances_[random_index_(instances_.size())];
  return healthy_[random_index_(healthy_.size())];
}

void VictimRouter::record_failure(const std::string& instance_id, Clock::time_point when) {
  failed_at_[instance_id] = when;
}

bool VictimRouter::recently_failed(std::string_view instance_id, Clock::time_point now) const {
  auto it = failed_at_.find(instance_id);
  return it != failed_at_.end() && now - it->second < kAvoidFailedFor;
}

}  // namespace lmcache::core
