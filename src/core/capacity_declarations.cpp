#include "core/capacity_declarations.h"

#include <algorithm>
#include <tuple>

namespace lmcache::core {

CapacityDeclarations::Outcome CapacityDeclarations::declare(std::string_view instance_id,
                                                            uint64_t incarnation, uint64_t revision,
                                                            CacheTier tier,
                                                            std::string_view backend,
                                                            uint64_t capacity_bytes, bool shared) {
  MutexLock lock(mutex_);
  auto it = by_instance_.find(instance_id);
  Outcome outcome = Outcome::kReplaced;
  if (it == by_instance_.end()) {
    it = by_instance_.emplace(std::string(instance_id), CapacityDeclaration{}).first;
  } else {
    const auto stamp = std::tie(incarnation, revision);
    const auto held = std::tie(it->second.incarnation, it->second.revision);
    if (stamp < held) return Outcome::kIgnored;
    if (stamp == held) outcome = Outcome::kUpdated;
  }
  CapacityDeclaration& declaration = it->second;
  if (outcome == Outcome::kReplaced) {
    declaration = CapacityDeclaration{incarnation, revision, {}};
  }
  auto compartment = std::find_if(
      declaration.compartments.begin(), declaration.compartments.end(),
      [&](const CapacityCompartment& c) { return c.tier == tier && c.backend == backend; });
  if (compartment == declaration.compartments.end()) {
    declaration.compartments.push_back({tier, std::string(backend), capacity_bytes, shared});
  } else {
    compartment->capacity_bytes = capacity_bytes;
    compartment->shared = shared;
  }
  return outcome;
}

bool CapacityDeclarations::forget(std::string_view instance_id) {
  MutexLock lock(mutex_);
  auto it = by_instance_.find(instance_id);
  if (it == by_instance_.end()) return false;
  by_instance_.erase(it);
  return true;
}

std::optional<CapacityDeclaration> CapacityDeclarations::find(std::string_view instance_id) const {
  MutexLock lock(mutex_);
  auto it = by_instance_.find(instance_id);
  if (it == by_instance_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, CapacityDeclaration>> CapacityDeclarations::all() const {
  MutexLock lock(mutex_);
  return {by_instance_.begin(), by_instance_.end()};
}

}  // namespace lmcache::core
