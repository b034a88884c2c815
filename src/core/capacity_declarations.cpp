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

void CapacityDeclarations::save(SnapshotWriter& out) const {
  out.u64(by_instance_.size());
  for (const auto& [instance_id, declaration] : by_instance_) {
    out.str(instance_id);
    out.u64(declaration.incarnation);
    out.u64(declaration.revision);
    out.u64(declaration.compartments.size());
    for (const CapacityCompartment& compartment : declaration.compartments) {
      out.u8(static_cast<uint8_t>(compartment.tier));
      out.str(compartment.backend);
      out.u64(compartment.capacity_bytes);
    }
  }
}

void CapacityDeclarations::clear() {
  MutexLock lock(mutex_);
  by_instance_.clear();
}

bool CapacityDeclarations::load(SnapshotReader& in) {
  MutexLock lock(mutex_);
  const uint64_t n = in.count(28);
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const std::string_view instance_id = in.str();
    CapacityDeclaration declaration;
    declaration.incarnation = in.u64();
    declaration.revision = in.u64();
    const uint64_t compartments = in.count(13);
    for (uint64_t c = 0; c < compartments && in.ok(); ++c) {
      const uint8_t tier = in.u8();
      if (tier > static_cast<uint8_t>(CacheTier::kL2)) return false;
      CapacityCompartment compartment;
      compartment.tier = static_cast<CacheTier>(tier);
      compartment.backend = std::string(in.str());
      compartment.capacity_bytes = in.u64();
      declaration.compartments.push_back(std::move(compartment));
    }
    if (in.ok()) by_instance_.insert_or_assign(std::string(instance_id), std::move(declaration));
  }
  return in.ok();
}

}  // namespace lmcache::core
