// KeyDirectory: the v2 key directory (key -> placements, token bindings) over the L2 ledger.
#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cache_event.h"
#include "core/huge_pages.h"
#include "core/object_key.h"
#include "core/snapshot_stream.h"
#include "core/string_hash.h"
#include "core/string_interner.h"
#include "core/usage_ledger.h"

namespace lmcache::core {

// One place a key is held, as answered.
struct Placement {
  CacheTier tier = CacheTier::kL2;
  std::string backend;
  std::string instance_id;  // the reporter (for a shared placement: the last one)
  uint64_t incarnation = 0;
  uint64_t size_bytes = 0;
  bool shared = false;

  bool operator==(const Placement&) const = default;
};

// The tokens a chunk hash was stored with (protocol-v2.md Part B 2.2).
struct TokenBinding {
  std::vector<uint32_t> token_ids;
  int64_t token_offset = -1;
};

// A key with its placements.
struct DirectoryEntry {
  ObjectKey key;
  std::vector<Placement> placements;
  double last_access = 0;
};

// Which placements a listing keeps: an empty field matches anything.
struct PlacementFilter {
  std::optional<CacheTier> tier;  // nullopt: both
  std::string_view instance_id;
  std::string_view backend;
};

// Bytes held by one (instance, tier, backend) module; shared pools have instance_id "".
struct ModuleUsage {
  std::string instance_id;
  CacheTier tier = CacheTier::kL2;
  std::string backend;
  bool shared = false;
  uint64_t used_bytes = 0;
};

// Counts for /directory/stats and metrics.
struct DirectoryCounts {
  uint64_t keys = 0;              // keys with at least one placement
  uint64_t placements = 0;        // over all keys
  uint64_t keys_by_tier[2] = {};  // keys with a placement in the tier, by CacheTier
  uint64_t placements_by_tier[2] = {};
  std::vector<std::pair<std::string, uint64_t>> l1_keys_by_instance;  // sorted by instance
};

// The directory of every key the fleet holds: its placements
// `(tier, backend, instance_id, incarnation, size_bytes, shared)`, its `last_access` (the
// latest event ts) and, by chunk hash alone, the tokens it was stored with.
//
// Promises (protocol-v2.md Part B 2.2):
// - Placement identity: a private placement is (tier, backend, instance_id); a shared one is
//   (tier, backend), and its last reporter overwrites instance_id, incarnation and size.
// - A store upserts its placement; a delete removes it (and, in L2, the seed-era placement of
//   the key, which names no backend); a key left without placements is forgotten together with
//   the token binding of its chunk hash.
// - fence_l1() removes an instance's L1 placements (including shared ones it reported last).
//   L2 placements leave only through deletes.
// - The L2 ledger (sizes, salt totals, LRU, owner, eviction) sees exactly the keys with an L2
//   placement: its size is the sum of their sizes, its owner the last L2 storer; a store makes
//   the key most recent, a delete leaves its recency alone, and the key leaves the ledger with
//   its last L2 placement. Keys held only in L1 count nowhere in L2.
// - Seed-era `/l2/events` and resync keys hold one private L2 placement with backend "" and
//   incarnation 0, owned by the instance that sent them; a seed-era delete removes every L2
//   placement of the key, as the seed-era ledger forgot the key.
// - used_bytes(): per private (instance, tier, backend) and per shared (tier, backend) pool, the
//   sum of the live placements' sizes (a shared pool is counted once).
//
// Memory: the directory adds no index of its own. It keeps one 24-byte slot per ledger record
// (indexed by record id) holding the key's first placement and last_access; further placements
// of a key go to a side table. Instances, (instance, incarnation) pairs and backends are
// interned. So a key with one L2 placement costs the ledger's ~88 bytes plus 24 (see
// memory_bytes()).
//
// Not thread-safe: L2Accounting holds its mutex around every call.
class KeyDirectory {
 public:
  KeyDirectory();
  ~KeyDirectory();
  KeyDirectory(const KeyDirectory&) = delete;
  KeyDirectory& operator=(const KeyDirectory&) = delete;

  // --- The v2 stream (an admitted store, delete or access batch; config is ignored) ---
  void apply_batch(const CacheEventBatch& batch);
  // Removes every L1 placement last reported by `instance_id` (any incarnation).
  void fence_l1(std::string_view instance_id);

  // --- The seed-era stream and resync ---
  void apply_seed_store(ObjectKeyView key, uint64_t bytes, std::string_view owner);
  bool apply_seed_lookup(ObjectKeyView key) { return ledger_.apply_lookup(key); }
  void apply_seed_delete(ObjectKeyView key);

  // --- Reading ---
  // The placements of a key sorted by (instance_id, tier, backend); empty when unknown.
  std::vector<Placement> placements(ObjectKeyView key) const;
  // The same for many keys, in order: each key's record is found first (independent probes the
  // CPU overlaps, which matters once the index misses the caches), then its placements read.
  // All placements go to one list, key after key: key i's are all[first[i], first[i + 1]), so
  // `first` gets keys.size() + 1 entries and an unknown key an empty range. Both are replaced.
  void placements(std::span<const ObjectKeyView> keys, std::vector<Placement>& all,
                  std::vector<uint32_t>& first) const;
  std::optional<double> last_access(ObjectKeyView key) const;
  // The binding of a chunk hash (raw bytes), or null. Shared, so a caller may keep it past the
  // lock: a later store replaces the map's pointer, never the binding it points to.
  std::shared_ptr<const TokenBinding> binding(std::string_view chunk_hash) const;
  // Keys with at least one placement matching `filter`, in record order (insertion order until
  // keys are forgotten, whose slots are reused), each with its matching placements only: the
  // total and the page [offset, offset + limit). Costs a walk over every record.
  std::pair<uint64_t, std::vector<DirectoryEntry>> list(const PlacementFilter& filter,
                                                        uint64_t offset, uint64_t limit) const;
  DirectoryCounts counts() const;
  // Every module holding a placement (used_bytes may be 0), sorted by (instance_id, tier,
  // backend); shared pools have instance_id "" and shared true.
  std::vector<ModuleUsage> used_bytes() const;

  UsageLedger& ledger() { return ledger_; }
  const UsageLedger& ledger() const { return ledger_; }

  // For a checkpoint: every key with its placements, last_access and L2 owner (keys in L2 in
  // each salt's LRU order, then those held only in L1), and the token bindings. In-flight marks
  // and counters are not saved.
  void save(SnapshotWriter& out) const;
  // Stores what save() wrote into this (empty) directory, so every placement, size, owner,
  // last_access, binding and each salt's LRU order come back (keys in flight are eligible
  // again). False on malformed input (part of it may have been applied).
  bool load(SnapshotReader& in);

  // Heap bytes of the ledger plus the directory's slots, side tables, interned names and bindings.
  size_t memory_bytes() const;

  // Forgets every key, placement and binding, and the ledger with them (UsageLedger::clear), so
  // the directory is as freshly constructed. The slot blocks are kept (reset) for reuse.
  void clear();

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr uint32_t kBlockBits = 16;
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;
  static constexpr uint8_t kL2 = 1;      // flag: tier l2 (else l1)
  static constexpr uint8_t kShared = 2;  // flag: shared placement

  // A placement as stored: 16 bytes.
  struct Packed {
    uint64_t size = 0;
    uint32_t holder = kNone;  // interned (instance, incarnation)
    uint16_t backend = 0;     // interned backend
    uint8_t flags = 0;
  };
  // Per ledger record: its first placement and last_access. 24 bytes.
  struct Slot {
    uint64_t size;
    double last_access;
    uint32_t holder;  // kNone: the record has no placement
    uint16_t backend;
    uint8_t flags;
    uint8_t extra;  // 1 when more placements wait in spill_
  };
  static_assert(sizeof(Slot) == 24, "the slot is the per-key memory budget: keep it at 24 bytes");

  struct Holder {
    uint32_t instance = kNone;  // interned instance id
    uint64_t incarnation = 0;
    uint64_t refs = 0;
  };

  using Placements = boost::container::small_vector<Packed, 4>;

  Slot& slot(uint32_t id) { return blocks_[id >> kBlockBits][id & (kBlockSize - 1)]; }
  const Slot& slot(uint32_t id) const { return blocks_[id >> kBlockBits][id & (kBlockSize - 1)]; }
  // The slot of a record, the slab grown to hold it and cleared when `fresh`.
  Slot& slot_for(uint32_t id);
  void load(uint32_t id, Placements& out) const;
  void save(uint32_t id, const Placements& placements);

  uint32_t acquire_holder(std::string_view instance_id, uint64_t incarnation);
  void release_holder(uint32_t holder);
  uint32_t instance_of(const Packed& p) const { return holders_[p.holder].instance; }
  uint16_t acquire_backend(std::string_view backend);
  Placement expand(const Packed& p) const;
  // Appends the placements of a live record to `out`, sorted by (instance_id, tier, backend).
  void append_placements(uint32_t id, std::vector<Placement>& out) const;
  // Asks the CPU to fetch a record's slot (kNoRecord or a slot not yet allocated: nothing).
  void prefetch_slot(uint32_t id) const;

  // Placement bookkeeping outside the record: module bytes and the L1 index.
  void account(uint32_t id, const Packed& p, bool add);
  // Which tiers a key's placements cover (bits), and the key counts kept up to date with it.
  static uint8_t presence(const Placements& placements);
  void note_presence(uint8_t before, uint8_t after);
  // After a record's placements changed: the ledger's L2 view, and the record freed when empty.
  void settle(uint32_t id, const Placements& placements, bool l2_changed, bool touch,
              std::string_view l2_owner);

  void store(uint32_t id, const Packed& placement, std::string_view instance_id, double ts);
  // Removes the record's placements that `match(const Packed&)` selects and settles the record;
  // true when any was removed. Every removal (v2 delete, seed-era delete, L1 fence) goes here.
  template <typename Match>
  bool remove_placements(uint32_t id, const Match& match);
  void bind_tokens(std::string_view chunk_hash, std::span<const int64_t> tokens, int64_t offset);

  UsageLedger ledger_;
  HugePageArena slab_;         // the blocks' memory (fork-friendly: see core/huge_pages.h)
  std::vector<Slot*> blocks_;  // by ledger record id
  boost::unordered_flat_map<uint32_t, std::vector<Packed>> spill_;  // placements after the first
  StringInterner instances_;
  StringInterner backends_;  // ids fit 16 bits
  std::vector<Holder> holders_;
  std::vector<uint32_t> free_holders_;
  boost::unordered_flat_map<std::pair<uint32_t, uint64_t>, uint32_t> holder_ids_;
  // instance -> records holding an L1 placement it reported last (for fences and stats).
  boost::unordered_flat_map<uint32_t, boost::unordered_flat_set<uint32_t>> l1_records_;
  // (instance or kNone for shared) << 32 | backend << 1 | tier -> bytes.
  boost::unordered_flat_map<uint64_t, uint64_t> module_bytes_;
  boost::unordered_flat_map<std::string, std::shared_ptr<const TokenBinding>, StringHash,
                            StringEqual>
      bindings_;
  uint64_t keys_ = 0;
  uint64_t placements_ = 0;
  uint64_t keys_by_tier_[2] = {};
  uint64_t placements_by_tier_[2] = {};
};

}  // namespace lmcache::core
