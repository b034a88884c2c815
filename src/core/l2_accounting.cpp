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
        ledger_.apply_store(event.key, event.bytes, instance_id);
        break;
      case L2EventType::kLookup:
        ledger_.apply_lookup(event.key);
        break;
      case L2EventType::kDelete:
        ledger_.apply_delete(event.key);
        break;
    }
    ++applied_[static_cast<size_t>(event.type)];
  }
  outcome.recorded = events.size();
  return outcome;
}

void L2Accounting::apply_cache_events(CacheEventType type, std::string_view owner,
                                      std::span<const CacheEventEntry> entries) {
  MutexLock lock(mutex_);
  switch (type) {
    case CacheEventType::kStore:
      for (const CacheEventEntry& entry : entries) {
        ledger_.apply_store(entry.key, entry.size_bytes, owner);
      }
      applied_[static_cast<size_t>(L2EventType::kStore)] += entries.size();
      break;
    case CacheEventType::kDelete:
      for (const CacheEventEntry& entry : entries) ledger_.apply_delete(entry.key);
      applied_[static_cast<size_t>(L2EventType::kDelete)] += entries.size();
      break;
    case CacheEventType::kAccess:
      for (const CacheEventEntry& entry : entries) ledger_.apply_lookup(entry.key);
      applied_[static_cast<size_t>(L2EventType::kLookup)] += entries.size();
      break;
    case CacheEventType::kConfig:
      break;
  }
}

void L2Accounting::record_rejected(size_t count) {
  MutexLock lock(mutex_);
  rejected_ += count;
}

void L2Accounting::apply_resync(std::span<const std::pair<ObjectKey, uint64_t>> entries,
                                std::string_view owner) {
  MutexLock lock(mutex_);
  for (const auto& [key, bytes] : entries) ledger_.apply_store(key, bytes, owner);
  resync_keys_ += entries.size();
}

void L2Accounting::on_instance_registered(std::string_view instance_id) {
  MutexLock lock(mutex_);
  sequences_.reset(instance_id);
}

EvictionPlan L2Accounting::plan_eviction(const QuotaLimits& limits, SteadyTime now) {
  MutexLock lock(mutex_);
  return planner_.plan(ledger_, limits, now, pinned_);
}

size_t L2Accounting::release(std::span<const TrackedKey> victims) {
  MutexLock lock(mutex_);
  return ledger_.release_in_flight(victims);
}

uint64_t L2Accounting::usage_bytes(std::string_view cache_salt) const {
  MutexLock lock(mutex_);
  return ledger_.usage_bytes(cache_salt);
}

std::vector<SaltUsage> L2Accounting::salts() const {
  MutexLock lock(mutex_);
  return ledger_.salts_with_usage();
}

uint64_t L2Accounting::total_bytes() const {
  MutexLock lock(mutex_);
  return ledger_.total_bytes();
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
  counters.tracked_keys = ledger_.key_count();
  counters.total_bytes = ledger_.total_bytes();
  counters.memory_bytes = ledger_.memory_bytes();
  return counters;
}

void L2Accounting::save(SnapshotWriter& out) const {
  sequences_.save(out);
  out.u64(ledger_.key_count());
  InternedStringWriter strings;
  ledger_.for_each_by_recency([&](ObjectKeyView key, uint64_t bytes, std::string_view owner) {
    out.str(key.chunk_hash);
    strings.put(out, key.model_name);
    out.u32(static_cast<uint32_t>(key.kv_rank));
    out.u32(key.object_group_id);
    strings.put(out, key.cache_salt);
    out.u64(bytes);
    strings.put(out, owner);
  });
}

bool L2Accounting::load(SnapshotReader& in) {
  MutexLock lock(mutex_);
  if (!sequences_.load(in)) return false;
  // A key takes at least 32 bytes: 5 u32 (hash length, model, rank, group, salt), a u64 size
  // and a u32 owner.
  const uint64_t keys = in.count(32);
  InternedStringReader strings;
  for (uint64_t i = 0; i < keys && in.ok(); ++i) {
    ObjectKeyView key;
    key.chunk_hash = in.str();
    key.model_name = strings.get(in);
    key.kv_rank = static_cast<int32_t>(in.u32());
    key.object_group_id = in.u32();
    key.cache_salt = strings.get(in);
    const uint64_t bytes = in.u64();
    const std::string_view owner = strings.get(in);
    if (in.ok()) ledger_.apply_store(key, bytes, owner);
  }
  return in.ok();
}

}  // namespace lmcache::core
