#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cache_event.h"
#include "core/eviction_planner.h"
#include "core/key_directory.h"
#include "core/mutex.h"
#include "core/object_key.h"
#include "core/pinned_keys.h"
#include "core/quota_limits.h"
#include "core/sequence_tracker.h"
#include "core/snapshot_stream.h"
#include "core/thread_annotations.h"
#include "core/usage_ledger.h"

namespace lmcache::core {

enum class L2EventType : uint8_t { kStore = 0, kLookup = 1, kDelete = 2 };
inline constexpr size_t kL2EventTypes = 3;

// One decoded, valid event of a `POST /l2/events` batch. The key's strings belong to the
// decoded batch.
struct L2Event {
  L2EventType type = L2EventType::kStore;
  ObjectKeyView key;
  uint64_t bytes = 0;  // used by stores only
};

// What became of one batch.
struct L2BatchOutcome {
  size_t recorded = 0;     // events applied
  bool duplicate = false;  // a replay: nothing applied
  bool gap = false;        // batches before this one were lost
};

// Counters for metrics, read under the lock as one consistent snapshot.
struct L2Counters {
  std::array<uint64_t, kL2EventTypes> events{};  // applied events by type
  uint64_t duplicate_batches = 0;
  uint64_t gap_batches = 0;
  uint64_t missed_batches = 0;
  uint64_t rejected_events = 0;
  uint64_t resync_keys = 0;
  uint64_t tracked_keys = 0;
  uint64_t total_bytes = 0;
  size_t memory_bytes = 0;
};

// The fleet's L2 accounting, safe to call from any thread: the key directory with the usage
// ledger it extends, per-instance batch sequencing and eviction planning behind one mutex.
//
// Decoding and validation happen before the call, outside the lock, so the
// lock is held only for the O(events) ledger updates.
class L2Accounting {
 public:
  // `pinned` (optional; must outlive this) holds the keys eviction planning never chooses.
  explicit L2Accounting(EvictionConfig eviction, const PinnedKeys* pinned = nullptr);
  L2Accounting(const L2Accounting&) = delete;
  L2Accounting& operator=(const L2Accounting&) = delete;

  // Applies a batch of `instance_id` in order, unless `seq` marks it as a
  // replay (see SequenceTracker). Stores record `instance_id` as the owner.
  L2BatchOutcome apply_batch(std::string_view instance_id, uint64_t seq,
                             std::span<const L2Event> events);

  // Applies one `POST /events` batch (either tier), already admitted by the EventGate (no
  // sequencing here), to the key directory and through it to the ledger (see KeyDirectory).
  // Config batches do nothing. Tier l2 entries are counted with the seed-era events of the same
  // effect (access as lookup).
  void apply_cache_batch(const CacheEventBatch& batch);

  // The instance's L1 placements are void (a restart, deregistration or timeout fence).
  void fence_l1(std::string_view instance_id);

  // --- The key directory (protocol-v2.md Part B 2.4, 2.6) ---

  // One looked-up key: its placements (sorted, empty when unknown) and the token binding of its
  // chunk hash, if any.
  struct KeyLookup {
    std::vector<Placement> placements;
    std::shared_ptr<const TokenBinding> binding;  // null when none
  };
  // Looks keys up, in order, under one lock; counted as one directory lookup.
  std::vector<KeyLookup> lookup(std::span<const ObjectKey> keys) const;
  // The same answers for key views, laid out for a large lookup (1,024 keys of a 32,768-token
  // request at world size 8): no allocation for an unknown key, and one binding look-up per run
  // of keys with the same chunk hash (the ranks of one chunk), not one per key.
  struct KeysLookup {
    // Every key's placements, key after key (each key's sorted; none when unknown): key i's are
    // all_placements[first_placement[i], first_placement[i + 1]).
    std::vector<Placement> all_placements;
    std::vector<uint32_t> first_placement;                  // keys + 1 entries
    std::vector<const TokenBinding*> bindings;              // per key: its chunk's binding, or null
    std::vector<std::shared_ptr<const TokenBinding>> held;  // keeps `bindings` alive

    std::span<const Placement> placements(size_t key) const {
      return std::span<const Placement>(all_placements)
          .subspan(first_placement[key], first_placement[key + 1] - first_placement[key]);
    }
  };
  KeysLookup lookup(std::span<const ObjectKeyView> keys) const;
  // A page of the directory and the number of matching keys (KeyDirectory::list).
  std::pair<uint64_t, std::vector<DirectoryEntry>> list_keys(const PlacementFilter& filter,
                                                             uint64_t offset, uint64_t limit) const;
  // Token count of a chunk hash's binding (0 when none), for a listed page.
  std::vector<size_t> token_counts(std::span<const DirectoryEntry> entries) const;
  DirectoryCounts directory_counts() const;
  std::vector<ModuleUsage> module_usage() const;
  uint64_t directory_lookups() const;

  // Counts events of a batch that were rejected before apply_batch (invalid keys).
  void record_rejected(size_t count);

  // Records keys found in L2 at start-up as stores (size and recency).
  void apply_resync(std::span<const std::pair<ObjectKey, uint64_t>> entries,
                    std::string_view owner);

  // An instance (re-)registered: its next batch may start again at seq 1.
  void on_instance_registered(std::string_view instance_id);

  // Plans one eviction sweep against explicit quotas and the default, and marks the victims in
  // flight. Pinned keys (given at construction) are passed over.
  EvictionPlan plan_eviction(const QuotaLimits& limits, SteadyTime now);

  // A dispatch failed: its victims are eligible again at the next sweep.
  size_t release(std::span<const TrackedKey> victims);

  uint64_t usage_bytes(std::string_view cache_salt) const;
  std::vector<SaltUsage> salts() const;
  uint64_t total_bytes() const;
  L2Counters counters() const;

  // The lock that freezes the accounting (for a checkpoint; see EventIngest::freeze).
  Mutex& mutex() const RETURN_CAPABILITY(mutex_) { return mutex_; }
  // The seed-era sequence cursors and the key directory (every key with its placements, owner
  // and last_access, each salt's LRU order, the token bindings). Counters are not saved.
  void save(SnapshotWriter& out) const REQUIRES(mutex_);
  // Stores what a save() wrote into this accounting, in order, so each salt's LRU order comes
  // back (keys that were in flight are eligible again). Meant for an empty accounting: at start,
  // or after clear(). False on malformed input (part of it may have been applied).
  bool load(SnapshotReader& in) EXCLUDES(mutex_);
  // Empties what save() covers to the state of a freshly constructed accounting: every key,
  // placement, binding and salt total (KeyDirectory::clear) and the seed-era sequence cursors.
  // The counters since start (events applied, lookups, ...) are kept, for metrics. Takes its
  // own lock.
  void clear() EXCLUDES(mutex_);

 private:
  mutable Mutex mutex_;
  KeyDirectory directory_ GUARDED_BY(mutex_);  // holds the ledger
  SequenceTracker sequences_ GUARDED_BY(mutex_);
  const PinnedKeys* const pinned_;  // keys never chosen as victims; may be null
  const EvictionPlanner planner_;   // configuration only; the in-flight state is in ledger_
  std::array<uint64_t, kL2EventTypes> applied_ GUARDED_BY(mutex_){};  // applied events by type
  uint64_t resync_keys_ GUARDED_BY(mutex_) = 0;      // keys recorded by apply_resync
  uint64_t rejected_ GUARDED_BY(mutex_) = 0;         // events counted by record_rejected
  mutable uint64_t lookups_ GUARDED_BY(mutex_) = 0;  // calls of lookup()
};

}  // namespace lmcache::core
