// BlendFeed: keeps the blend index in step with the v2 cache-event stream (`POST /events`), so
// `POST /directory/blend-lookup` answers from the same collision-proof BlendIndex as `/blend/*`.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/blend_index.h"
#include "core/cache_event.h"
#include "core/mutex.h"
#include "core/object_key.h"
#include "core/snapshot_stream.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// Promises:
// - A `store` entry whose key carries an upstream kv_rank packing (world size 1..255), whose
//   token_offset is >= 0 and whose token_ids are exactly one chunk of the index's chunk size,
//   each in [0, 2^32), publishes that chunk in the namespace (model, salt, world size) of its
//   key, at old_st = token_offset. Other store entries publish nothing (a store of an already
//   indexed chunk still counts as one of its placements).
// - A chunk stays in the index while at least one placement holds it, counted here as
//   (kv_rank, object group, tier, backend, instance) for private placements and (kv_rank,
//   object group, tier, backend) for shared ones, as the key directory identifies them. When the
//   last one goes (a `delete` entry, or a fence of the instance's L1 placements) the chunk leaves
//   the index, so a match never names a chunk nobody holds any more. Placements stored before
//   the chunk was indexed (without tokens) are not counted: the chunk may leave early, never late.
// - Namespaces never see each other's chunks; matches name the chunk hash (chunk_hash_hex()).
//
// Thread-safe; apply() and fence() are serialised by one lock, taken after the caller's.
class BlendFeed {
 public:
  struct Counters {
    uint64_t indexed = 0;  // chunks published into the index
    uint64_t removed = 0;  // chunks removed when their last placement went
    uint64_t ignored = 0;  // store entries that could not be indexed (no or wrong tokens, ...)
  };

  // `index` must outlive this object.
  explicit BlendFeed(BlendIndex& index) : index_(index) {}
  BlendFeed(const BlendFeed&) = delete;
  BlendFeed& operator=(const BlendFeed&) = delete;

  // Applies an admitted batch: store and delete entries; access and config change nothing.
  void apply(const CacheEventBatch& batch) EXCLUDES(mu_);
  // The instance restarted or was forgotten: its L1 placements (shared ones it reported last
  // included) are void.
  void fence(std::string_view instance_id) EXCLUDES(mu_);

  // The index scope of a namespace, never equal for two different namespaces. It starts with a
  // control character so seed-era `/blend/*` scopes do not meet it by accident.
  static std::string scope(std::string_view model_name, std::string_view cache_salt,
                           uint32_t world_size);
  // The index's object key of a chunk in a scope: "<scope>@<chunk hash hex>".
  static std::string object_key(std::string_view scope, std::string_view chunk_hash);
  // The lowercase hex chunk hash of an object_key().
  static std::string_view chunk_hash_hex(std::string_view object_key);

  Counters counters() const;
  // Chunks currently indexed through this feed.
  size_t chunk_count() const EXCLUDES(mu_);

  // Runs `during` with this feed's lock held, so no placement changes meanwhile (see
  // EventIngest::freeze; the lock is taken after the gate's and before the index's).
  void freeze(const std::function<void()>& during) EXCLUDES(mu_);
  // Writes every indexed chunk with its placements (not the index itself: BlendIndex::save).
  // Only inside freeze()'s `during`, or when no other thread can reach this object.
  void save(SnapshotWriter& out) const NO_THREAD_SAFETY_ANALYSIS;
  // Loads what save() wrote into this empty feed (fresh, or emptied by clear()), after the index
  // was loaded. False on malformed input, a chunk listed twice or one the index does not hold.
  bool load(SnapshotReader& in) EXCLUDES(mu_);
  // Forgets every chunk's placements, as a freshly constructed feed; the index is not touched
  // (BlendIndex::clear empties it) and the counters since start are kept. Takes its own lock.
  void clear() EXCLUDES(mu_);

 private:
  struct Placement {
    int32_t kv_rank = 0;
    uint32_t object_group_id = 0;
    CacheTier tier = CacheTier::kL2;
    bool shared = false;
    std::string backend;
    std::string instance_id;  // the (last) reporter; part of the identity unless shared
  };

  // True when `p` is the placement of `entry` in `batch`.
  static bool is_placement_of(const Placement& p, const CacheEventBatch& batch,
                              const CacheEventEntry& entry);
  // The live_ key of an entry: its key with the rank of worker 0 and group 0 (one per chunk and
  // namespace); nullopt when its kv_rank is not an upstream packing.
  static std::optional<ObjectKeyView> chunk_of(const ObjectKeyView& key);
  // The index's object key of a live_ key.
  static std::string index_key(const ObjectKey& chunk);

  void store(const CacheEventBatch& batch, const CacheEventEntry& entry) REQUIRES(mu_);
  void remove(const CacheEventBatch& batch, const CacheEventEntry& entry) REQUIRES(mu_);

  BlendIndex& index_;
  mutable Mutex mu_;
  // chunk_of() -> the placements holding that chunk (non-empty). Looked up by view, so an entry
  // of a chunk already indexed costs no allocation.
  boost::unordered_flat_map<ObjectKey, std::vector<Placement>, ObjectKeyViewHash,
                            ObjectKeyViewEqual>
      live_ GUARDED_BY(mu_);
  std::atomic<uint64_t> indexed_{0};
  std::atomic<uint64_t> removed_{0};
  std::atomic<uint64_t> ignored_{0};
};

}  // namespace lmcache::core
