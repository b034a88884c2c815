#include "core/pins.h"

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <vector>

namespace lmcache::core {

Pins::Pins(QuotaStore& store) : store_(store) {
  const std::vector<PinCount> stored = store_.read_pins();
  keys_.apply(stored);
}

PinOutcome Pins::pin(std::span<const ObjectKey> keys) { return change(keys, +1); }

PinOutcome Pins::unpin(std::span<const ObjectKey> keys) { return change(keys, -1); }

PinOutcome Pins::drop(std::span<const ObjectKey> keys) {
  MutexLock lock(writer_mu_);
  boost::unordered_flat_map<ObjectKeyView, bool, ObjectKeyViewHash, ObjectKeyViewEqual> seen;
  std::vector<PinCount> changed;
  for (const ObjectKey& key : keys) {
    if (keys_.count(key) == 0 || !seen.try_emplace(ObjectKeyView(key), true).second) continue;
    changed.push_back({key, 0});
  }
  if (!changed.empty()) {
    store_.write_pins(changed);
    keys_.apply(changed);
  }
  return {changed.size()};
}

PinOutcome Pins::change(std::span<const ObjectKey> keys, int delta) {
  MutexLock lock(writer_mu_);
  // Occurrences per distinct key, in first-seen order (keys_ changes only under writer_mu_, so
  // the counts read here stay current until apply()).
  boost::unordered_flat_map<ObjectKeyView, size_t, ObjectKeyViewHash, ObjectKeyViewEqual> index;
  std::vector<PinCount> changes;
  std::vector<uint64_t> occurrences;
  index.reserve(keys.size());
  for (const ObjectKey& key : keys) {
    auto [it, added] = index.try_emplace(ObjectKeyView(key), changes.size());
    if (added) {
      changes.push_back({key, keys_.count(key)});
      occurrences.push_back(0);
    }
    ++occurrences[it->second];
  }
  std::vector<PinCount> changed;
  changed.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    const uint64_t before = changes[i].count;
    const uint64_t after = delta > 0 ? before + occurrences[i]
                                     : (before > occurrences[i] ? before - occurrences[i] : 0);
    if (after == before) continue;
    changes[i].count = after;
    changed.push_back(std::move(changes[i]));
  }
  if (!changed.empty()) {
    store_.write_pins(changed);
    keys_.apply(changed);
  }
  return {changed.size()};
}

void Pins::replace_all(std::span<const PinCount> counts) {
  MutexLock lock(writer_mu_);
  boost::unordered_flat_map<ObjectKeyView, uint64_t, ObjectKeyViewHash, ObjectKeyViewEqual> wanted;
  wanted.reserve(counts.size());
  for (const PinCount& entry : counts) wanted[ObjectKeyView(entry.key)] = entry.count;
  std::vector<PinCount> changed;
  for (PinCount& current : keys_.sorted()) {
    if (!wanted.contains(ObjectKeyView(current.key))) {
      changed.push_back({std::move(current.key), 0});
    }
  }
  for (const PinCount& entry : counts) {
    if (keys_.count(entry.key) != entry.count) changed.push_back(entry);
  }
  if (!changed.empty()) {
    store_.write_pins(changed);
    keys_.apply(changed);
  }
}

}  // namespace lmcache::core
