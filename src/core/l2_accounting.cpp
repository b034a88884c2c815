#include "core/l2_accounting.h"

namespace lmcache::core {

L2Accounting::L2Accounting(EvictionConfig eviction, const PinnedKeys* pinned)
    : pinned_(pinned), planner_(eviction) {}

L2BatchOutcome L2Accounting::apply_batch(std::string_view instance_id, uint64_t seq,
                                         std::span<const L2Event> events) {
  L2BatchOutcome outcome;
  MutexLock lock(mutex_);
  const auto verdict = sequences_.check(instance_id, seq);
  if (verdict == SequenceTracker::Verdict::kDuplicate) {
    outcome.duplicate = true;
    return outcome;
  }
  outcome.gap = verdict == SequenceTracker::Verdict::kGap;
  for (const L2Event& event : events) {
    switch (event.type) {
      case L2EventType::kStore:
        directory_.apply_seed_store(event.key, event.bytes, instance_id);
        break;
      case L2EventType::kLookup:
        directory_.apply_seed_lookup(event.key);
        break;
      case L2EventType::kDelete:
        directory_.apply_seed_delete(event.key);
        break;
    }
    ++applied_[static_cast<size_t>(event.type)];
  }
  outcome.recorded = events.size();
  return outcome;
}

void L2Accounting::apply_cache_batch(const CacheEventBatch& batch) {
  MutexLock lock(mutex_);
  directory_.apply_batch(batch);
  if (batch.tier != CacheTier::kL2) return;
  switch (batch.type) {
    case CacheEventType::kStore:
      applied_[static_cast<size_t>(L2EventType::kStore)] += batch.entries.size();
      break;
    case CacheEventType::kDelete:
      applied_[static_cast<size_t>(L2EventType::kDelete)] += batch.entries.size();
      break;
    case CacheEventType::kAccess:
      applied_[static_cast<size_t>(L2EventType::kLookup)] += batch.entries.size();
      break;
    case CacheEventType::kConfig:
      break;
  }
}

void L2Accounting::fence_l1(std::string_view instance_id) {
  MutexLock lock(mutex_);
  directory_.fence_l1(instance_id);
}

std::vector<L2Accounting::KeyLookup> L2Accounting::lookup(std::span<const ObjectKey> keys) const {
  std::vector<KeyLookup> out;
  out.reserve(keys.size());
  MutexLock lock(mutex_);
  ++lookups_;
  for (const ObjectKey& key : keys) {
    KeyLookup found;
    found.placements = directory_.placements(key);
    found.binding = directory_.binding(key.chunk_hash);
    out.push_back(std::move(found));
  }
  return out;
}

L2Accounting::KeysLookup L2Accounting::lookup(std::span<const ObjectKeyView> keys) const {
  KeysLookup out;
  out.bindings.resize(keys.size());
  MutexLock lock(mutex_);
  ++lookups_;
  directory_.placements(keys, out.all_placements, out.first_placement);
  const TokenBinding* binding = nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i == 0 || keys[i].chunk_hash != keys[i - 1].chunk_hash) {
      auto held = directory_.binding(keys[i].chunk_hash);
      binding = held.get();
      if (held) out.held.push_back(std::move(held));
    }
    out.bindings[i] = binding;
  }
  return out;
}

std::pair<uint64_t, std::vector<DirectoryEntry>> L2Accounting::list_keys(
    const PlacementFilter& filter, uint64_t offset, uint64_t limit) const {
  MutexLock lock(mutex_);
  return directory_.list(filter, offset, limit);
}

std::vector<size_t> L2Accounting::token_counts(std::span<const DirectoryEntry> entries) const {
  std::vector<size_t> out;
  out.reserve(entries.size());
  MutexLock lock(mutex_);
  for (const DirectoryEntry& entry : entries) {
    const auto binding = directory_.binding(entry.key.chunk_hash);
    out.push_back(binding == nullptr ? 0 : binding->token_ids.size());
  }
  return out;
}

DirectoryCounts L2Accounting::directory_counts() const {
  MutexLock lock(mutex_);
  return directory_.counts();
}

std::vector<ModuleUsage> L2Accounting::module_usage() const {
  MutexLock lock(mutex_);
  return directory_.used_bytes();
}

uint64_t L2Accounting::directory_lookups() const {
  MutexLock lock(mutex_);
  return lookups_;
}

void L2Accounting::record_rejected(size_t count) {
  MutexLock lock(mutex_);
  rejected_ += count;
}

void L2Accounting::apply_resync(std::span<const std::pair<ObjectKey, uint64_t>> entries,
                                std::string_view owner) {
  MutexLock lock(mutex_);
  for (const auto& [key, bytes] : entries) directory_.apply_seed_store(key, bytes, owner);
  resync_keys_ += entries.size();
}

void L2Accounting::on_instance_registered(std::string_view instance_id) {
  MutexLock lock(mutex_);
  sequences_.reset(instance_id);
}

EvictionPlan L2Accounting::plan_eviction(const QuotaLimits& limits, SteadyTime now) {
  MutexLock lock(mutex_);
  return planner_.plan(directory_.ledger(), limits, now, pinned_);
}

size_t L2Accounting::release(std::span<const TrackedKey> victims) {
  MutexLock lock(mutex_);
  return directory_.ledger().release_in_flight(victims);
}

uint64_t L2Accounting::usage_bytes(std::string_view cache_salt) const {
  MutexLock lock(mutex_);
  return directory_.ledger().usage_bytes(cache_salt);
}

std::vector<SaltUsage> L2Accounting::salts() const {
  MutexLock lock(mutex_);
  return directory_.ledger().salts_with_usage();
}

uint64_t L2Accounting::total_bytes() const {
  MutexLock lock(mutex_);
  return directory_.ledger().total_bytes();
}

L2Counters L2Accounting::counters() const {
  MutexLock lock(mutex_);
  L2Counters counters;
  counters.events = applied_;
  counters.duplicate_batches = sequences_.duplicates();
  counters.gap_batches = sequences_.gaps();
  counters.missed_batches = sequences_.missed_batches();
  counters.rejected_events = rejected_;
  counters.resync_keys = resync_keys_;
  counters.tracked_keys = directory_.ledger().key_count();
  counters.total_bytes = directory_.ledger().total_bytes();
  counters.memory_bytes = directory_.memory_bytes();
  return counters;
}

void L2Accounting::save(SnapshotWriter& out) const {
  sequences_.save(out);
  directory_.save(out);
}

void L2Accounting::clear() {
  MutexLock lock(mutex_);
  sequences_.clear();
  directory_.clear();
}

bool L2Accounting::load(SnapshotReader& in) {
  MutexLock lock(mutex_);
  return sequences_.load(in) && directory_.load(in);
}

}  // namespace lmcache::core
