// UsageLedger: the coordinator's record of what sits in L2 (size, tenant, recency, owner).
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/huge_pages.h"
#include "core/object_key.h"
#include "core/pinned_keys.h"
#include "core/string_interner.h"

namespace lmcache::core {

using SteadyTime = std::chrono::steady_clock::time_point;

// Usage of one cache salt.
struct SaltUsage {
  std::string cache_salt;
  uint64_t bytes = 0;      // sum of the recorded sizes of its keys
  uint64_t keys = 0;       // keys tracked, including those in flight
  uint64_t in_flight = 0;  // keys sent for deletion and not yet confirmed
};

// A tracked key with the instance that last stored it ("" when none was given).
struct TrackedKey {
  ObjectKey key;
  std::string owner;
};

// The L2 accounting state: every key's recorded size, per-salt byte totals and key counts, a
// per-salt LRU order, the instance that last stored each key (its "owner") and, for eviction,
// which keys were sent for deletion and until when ("in flight").
//
// Each salt keeps two lists: the LRU list of keys eligible as victims, and the in-flight list of
// keys already sent for deletion. Victims are taken from the LRU end and moved to the in-flight
// list, so a sweep never rescans keys it already sent: choosing victims costs O(victims).
// In-flight keys go back to the LRU end when they expire or are released (failed dispatch).
// A store or lookup of an in-flight key takes it out of flight and makes it most recent: the key
// is in use, so the stale victim choice is dropped (if the delete still lands, its delete event
// forgets the key as usual).
//
// Records may also exist detached from L2 for KeyDirectory (see "Records" below); those count
// nowhere in L2.
//
// Memory: about 80 bytes of record plus 5-12 bytes of index per key (see memory_bytes()); model
// names, salts and owners are interned, hashes up to 32 bytes are stored inline.
//
// Not thread-safe: the caller serialises all calls, const ones included (the string interners
// cache their last hit); L2Accounting holds its mutex around every call.
class UsageLedger {
 public:
  UsageLedger();
  ~UsageLedger();
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Records a store: the key's size becomes `bytes` (totals move by the difference, never double
  // count), the key becomes most recent in its salt and `owner` becomes its owner ("" = unknown).
  void apply_store(ObjectKeyView key, uint64_t bytes, std::string_view owner);

  // Makes a tracked key most recent. Returns false (and does nothing) for an unknown key.
  bool apply_lookup(ObjectKeyView key);

  // Forgets a key and subtracts its recorded size. Returns false for an unknown key.
  bool apply_delete(ObjectKeyView key);

  // Bytes recorded for a salt (0 when it has no keys).
  uint64_t usage_bytes(std::string_view cache_salt) const;
  // Keys tracked for a salt, including keys in flight.
  uint64_t key_count(std::string_view cache_salt) const;
  // Keys tracked over all salts.
  uint64_t key_count() const { return l2_keys_; }
  // Bytes recorded over all salts.
  uint64_t total_bytes() const { return total_bytes_; }
  // Every salt with at least one tracked key (including zero-size ones), in no particular order.
  std::vector<SaltUsage> salts_with_usage() const;

  // Per-key inspection (for tests, logs and the planner).
  bool contains(ObjectKeyView key) const;
  std::optional<uint64_t> size_of(ObjectKeyView key) const;
  std::optional<std::string> owner_of(ObjectKeyView key) const;  // "" when unknown
  bool in_flight(ObjectKeyView key) const;

  // Up to `max` keys of a salt's LRU list, least recent first, costing O(returned). Keys in
  // flight are not in the LRU list and are not returned.
  std::vector<ObjectKey> lru_keys(std::string_view cache_salt, size_t max) const;

  // --- Eviction support (used by EvictionPlanner) ---

  // Moves the in-flight keys of a salt whose deadline is <= now back to its LRU end, oldest
  // first. Costs O(expired) provided deadlines were set in nondecreasing order (a later deadline
  // set earlier only delays the expiry of the keys behind it). Returns the number moved.
  size_t expire_in_flight(std::string_view cache_salt, SteadyTime now);

  // Takes up to `count` keys from a salt's LRU end, marks them in flight until `until` and
  // appends them to `out` (least recent first). Keys in `pinned` (when given) are passed over and
  // stay where they are. Costs O(taken) with nothing pinned; otherwise O(taken + pinned keys
  // passed over), so P pinned keys at the LRU end of an over-quota salt cost O(P) every sweep (a
  // salt whose keys are all pinned costs O(its keys) per sweep and yields nothing). Returns the
  // number taken.
  size_t take_victims(std::string_view cache_salt, size_t count, SteadyTime until,
                      std::vector<TrackedKey>& out, const PinnedKeys* pinned = nullptr);

  // Puts in-flight keys back at the LRU end of their salt, the first given as the least recent.
  // Keys unknown or not in flight are ignored. Returns the number released.
  size_t release_in_flight(std::span<const ObjectKey> keys);
  size_t release_in_flight(std::span<const TrackedKey> victims);

  // Calls f(record id) for every key in L2, salt by salt, each salt's keys from the least to the
  // most recent, its keys in flight first (they were its least recent when chosen). Storing the
  // keys of an empty ledger in this order rebuilds every salt's LRU order, with the in-flight
  // keys back at the LRU end.
  template <typename F>
  void for_each_record_by_recency(F&& f) const {
    for (uint32_t salt = 0; salt < salts_.size(); ++salt) {
      for (const List* list : {&salts_[salt].in_flight, &salts_[salt].lru}) {
        for (uint32_t id = list->head; id != kNone; id = rec(id).next) f(id);
      }
    }
  }

  // Heap bytes held by the ledger: record slab, index, interned strings, side tables.
  size_t memory_bytes() const;

  // Forgets every record (in L2, in flight or detached) and every interned name, so the ledger
  // is as freshly constructed: record ids start again at 0. The slab's blocks and the index's
  // buckets are kept for reuse (memory_bytes() does not drop).
  void clear();

  // --- Records (used by KeyDirectory) ---
  //
  // Every key has at most one record, found through the one index. A record is either in L2
  // (what everything above sees: totals, LRU, salt counts, contains()) or detached: known to the
  // caller (e.g. a key held only in L1) but absent from every L2 figure. Record ids are stable
  // while the record lives and lie in [0, record_id_end()); a released id is reused.
  static constexpr uint32_t kNoRecord = 0xFFFFFFFFu;

  // The record of a key, in L2 or detached; kNoRecord when none.
  uint32_t find_record(ObjectKeyView key) const;
  // find_record for each key into `out` (of the same size), the model and salt names looked up
  // once per run of keys that share them.
  void find_records(std::span<const ObjectKeyView> keys, std::span<uint32_t> out) const;
  // The record of a key, created detached when missing.
  uint32_t acquire_record(ObjectKeyView key);
  // Puts a record in L2 (if detached) with `bytes`, makes it most recent and `owner` its owner.
  void store_record(uint32_t id, uint64_t bytes, std::string_view owner);
  // Sets the size of a record in L2 without touching its recency.
  void resize_record(uint32_t id, uint64_t bytes);
  // Makes a record in L2 most recent; false (nothing done) when detached.
  bool touch_record(uint32_t id);
  // Takes a record out of L2 (totals, lists, owner) and keeps it detached.
  void detach_record(uint32_t id);
  // Forgets a record (in L2 or detached) and frees its id.
  void release_record(uint32_t id);
  bool record_in_l2(uint32_t id) const;
  ObjectKey record_key(uint32_t id) const { return key_of(id); }
  ObjectKeyView record_view(uint32_t id) const { return view_of(id); }
  // The owner of a record in L2 ("" when unknown or detached).
  std::string_view record_owner(uint32_t id) const;
  std::string_view record_hash(uint32_t id) const { return hash_of(id); }
  // Makes room in the index for `records` records (a checkpoint load knows how many).
  void reserve_records(size_t records) { index_.reserve(records); }
  // One past the highest record id ever used.
  uint32_t record_id_end() const { return next_unused_; }
  // True for a live record (in L2 or detached).
  bool record_live(uint32_t id) const { return id < next_unused_ && rec(id).state != State::kFree; }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr uint32_t kBlockBits = 16;  // records per slab block: 65536
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;
  static constexpr size_t kInlineHash = 32;
  static constexpr uint8_t kSpilledHash = 0xFF;  // hash_len marker: bytes live in long_hashes_

  enum class State : uint8_t { kFree, kLru, kInFlight, kDetached };

  // One tracked key. 80 bytes.
  struct Record {
    unsigned char hash[kInlineHash];  // hash bytes (first 32 when spilled)
    uint64_t bytes;                   // recorded size
    int64_t in_flight_until;          // steady_clock ticks; valid in State::kInFlight
    uint32_t prev;                    // towards the least recent (or free-list link in next)
    uint32_t next;                    // towards the most recent
    uint32_t model;                   // interned model name
    uint32_t salt;                    // interned cache salt (also index into salts_)
    int32_t kv_rank;
    uint32_t group;    // object_group_id
    uint32_t owner;    // interned owner instance id; kNone when unknown
    uint8_t hash_len;  // 0..32, or kSpilledHash
    State state;
  };
  static_assert(sizeof(Record) == 80, "the record is the memory budget: keep it at 80 bytes");

  // A doubly linked list of records threaded through prev/next; head is the least recent.
  struct List {
    uint32_t head = kNone;
    uint32_t tail = kNone;
    uint64_t size = 0;
  };

  // Per-salt totals and lists, indexed by interned salt id.
  struct SaltState {
    uint64_t bytes = 0;
    List lru;
    List in_flight;
  };

  // A key as the index sees it before it has a record.
  struct Probe {
    std::string_view hash;
    uint32_t model;
    uint32_t salt;
    int32_t kv_rank;
    uint32_t group;
  };

  // Index hash/equality over record ids, reading the slab; heterogeneous with Probe.
  struct IndexHash {
    using is_transparent = void;
    const UsageLedger* ledger;
    size_t operator()(uint32_t id) const noexcept;
    size_t operator()(const Probe& p) const noexcept;
  };
  struct IndexEq {
    using is_transparent = void;
    const UsageLedger* ledger;
    bool operator()(uint32_t a, uint32_t b) const noexcept;
    bool operator()(const Probe& p, uint32_t id) const noexcept;
    bool operator()(uint32_t id, const Probe& p) const noexcept { return (*this)(p, id); }
  };

  Record& rec(uint32_t id) { return blocks_[id >> kBlockBits][id & (kBlockSize - 1)]; }
  const Record& rec(uint32_t id) const { return blocks_[id >> kBlockBits][id & (kBlockSize - 1)]; }
  std::string_view hash_of(uint32_t id) const;
  static size_t hash_probe(const Probe& p) noexcept;

  // Record id of a key in L2, or kNone (also for a detached record).
  uint32_t find(ObjectKeyView key) const;
  uint32_t allocate();
  void free_record(uint32_t id);
  ObjectKey key_of(uint32_t id) const;
  ObjectKeyView view_of(uint32_t id) const;

  List& list_of(Record& r) {
    return r.state == State::kInFlight ? salts_[r.salt].in_flight : salts_[r.salt].lru;
  }
  void unlink(List& list, uint32_t id);
  void push_back(List& list, uint32_t id);   // most recent end
  void push_front(List& list, uint32_t id);  // least recent end
  // Puts one in-flight record back at its salt's LRU end; false when not in flight.
  bool release(ObjectKeyView key);
  // Makes a record most recent in its salt's LRU list, taking it out of flight if needed.
  void touch(uint32_t id);

  HugePageArena slab_;           // the blocks' memory (fork-friendly: see core/huge_pages.h)
  std::vector<Record*> blocks_;  // the slab; ids are block << 16 | offset
  uint32_t next_unused_ = 0;     // first never-used record id
  uint32_t free_head_ = kNone;   // freed records, linked through next
  boost::unordered_flat_set<uint32_t, IndexHash, IndexEq, HugePageAllocator<uint32_t>> index_;
  boost::unordered_flat_map<uint32_t, std::string> long_hashes_;  // hashes over 32 bytes
  StringInterner models_;
  StringInterner salt_names_;  // salt ids index salts_
  StringInterner owners_;
  std::vector<SaltState> salts_;
  uint64_t total_bytes_ = 0;
  uint64_t l2_keys_ = 0;  // records in L2
};

}  // namespace lmcache::core
