// The global CacheBlend directory (spec section 7): which published chunks of
// token content occur anywhere inside a request.
//
// BlendIndex promises:
// - Full recall: every published (content, object key) pair stays findable
//   until its object key is removed; no chunk ever overwrites another.
// - A match is reported only for equal content, up to a false-match
//   probability below 2^-100 per comparison (see blend_fingerprint.h), with a
//   per-process random seed unless a seed is given.
// - Scopes never see each other's chunks.
// - Thread safety: every public method may be called concurrently. Work in one
//   scope never waits for a publish or remove in another scope, except that
//   remove briefly write-locks each scope holding one of its keys.
// - match() does work linear in the request length (plus the matches found).
// - save() and load() carry the whole index, fingerprint seed included, so a loaded index
//   answers every match() as the saved one did (a checkpoint, a follower's catch-up).

#ifndef LMCACHE_CORE_BLEND_INDEX_H_
#define LMCACHE_CORE_BLEND_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/blend_fingerprint.h"
#include "core/mutex.h"
#include "core/snapshot_stream.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// One published range of tokens: chunk i (tokens [i*chunk, (i+1)*chunk)) is
// stored under object_keys[i] and started at old_st_base + i*chunk in the
// sequence it came from.
struct BlendRange {
  std::string model_scope;
  std::vector<uint64_t> tokens;
  std::vector<std::string> object_keys;
  uint64_t old_st_base = 0;
};

// A request window [cur_st, cur_st + chunk) equal to the chunk stored under
// object_key, which started at old_st in its own sequence.
struct BlendMatch {
  std::string object_key;
  uint64_t old_st = 0;
  uint64_t cur_st = 0;

  friend bool operator==(const BlendMatch&, const BlendMatch&) = default;
};

struct BlendPublishResult {
  size_t inserted = 0;        // new (content, object key) pairs
  size_t skipped_ranges = 0;  // ranges ignored: chunk count != key count, or a key too long
};

// Counts over all scopes (for /directory/stats).
struct BlendIndexStats {
  size_t scopes = 0;       // model scopes (namespaces) holding content
  size_t contents = 0;     // distinct chunk contents
  size_t keys = 0;         // distinct object keys
  size_t entries = 0;      // live (content, object key) pairs
  size_t table_slots = 0;  // slots of the content hash tables
};

class BlendIndex {
 public:
  // Object keys longer than this are refused (their range is skipped).
  static constexpr size_t kMaxObjectKeyBytes = 65535;

  // chunk_size >= 1 tokens per chunk; match() probes windows starting at
  // multiples of probe_stride >= 1. Throws std::invalid_argument otherwise.
  // This one seeds the fingerprints from std::random_device.
  BlendIndex(size_t chunk_size, size_t probe_stride);
  // Deterministic fingerprints (tests, benchmarks).
  BlendIndex(size_t chunk_size, size_t probe_stride, uint64_t seed);
  ~BlendIndex();

  BlendIndex(const BlendIndex&) = delete;
  BlendIndex& operator=(const BlendIndex&) = delete;

  size_t chunk_size() const { return chunk_size_; }
  size_t probe_stride() const { return probe_stride_; }

  // Publishes whole chunks of each range (a trailing partial chunk is
  // ignored). A range whose chunk count differs from object_keys.size() is
  // skipped entirely. Publishing a (content, object key) pair already present
  // in that scope is a no-op.
  BlendPublishResult publish(std::span<const BlendRange> ranges);

  // Removes every entry published under these object keys, in all scopes.
  // Other keys holding the same content stay findable. Returns entries removed.
  size_t remove(std::span<const std::string> object_keys);

  // Every window of chunk_size() request tokens that starts at a multiple of
  // probe_stride() and equals a published chunk of model_scope, as a match at
  // cur_st = its start naming the earliest-published live key of that content.
  // Each object key appears at most once (its first occurrence); ascending
  // cur_st. Short requests and unknown scopes match nothing.
  std::vector<BlendMatch> match(std::string_view model_scope,
                                std::span<const uint64_t> tokens) const;
  // Same result as match() on the tokens widened to uint64.
  std::vector<BlendMatch> match(std::string_view model_scope,
                                std::span<const uint32_t> tokens) const;

  // True when object_key holds a chunk in model_scope.
  bool contains(std::string_view model_scope, std::string_view object_key) const;

  // Live (content, object key) pairs over all scopes.
  size_t entry_count() const;
  BlendIndexStats stats() const;
  // Bytes held by the index: entries, hash tables, interned keys, bookkeeping.
  size_t memory_bytes() const;
  // Bytes of the live object keys themselves (part of memory_bytes()).
  size_t object_key_bytes() const;

  // Runs `during` with the scope map's and every scope's lock held shared, so no publish or
  // remove changes the index meanwhile (matches go on). A checkpoint forks inside `during`.
  void freeze(const std::function<void()>& during) const;
  // Writes the index: its chunk size, its fingerprint seed and, per scope holding content, every
  // content with its entries in publish order. Only inside freeze()'s `during` (a forked child
  // holds the locks), or when no other thread can reach this object.
  void save(SnapshotWriter& out) const NO_THREAD_SAFETY_ANALYSIS;
  // Loads what save() wrote into this empty index (fresh, or emptied by clear()), adopting the
  // saved fingerprint seed. False on malformed input, on a snapshot of another chunk size (its
  // fingerprints cover other windows) or when this index is not empty; the index is then
  // partial and must be discarded (or cleared). Never crashes and allocates in proportion to the
  // input. Adopting the seed changes how publish(), remove(), match() and contains() hash, so
  // none of them may run meanwhile: load before other threads reach the index, or (an HA
  // follower's rebuild) from the one thread that publishes and removes while matches are served
  // elsewhere.
  bool load(SnapshotReader& in);
  // Empties the index to the state of a freshly constructed one with the same seed: no scope
  // holds a chunk, entry_count() is 0 and save() writes no content. Each scope's shard is emptied
  // under its own lock but stays allocated (threads may hold it; shards live until ~BlendIndex);
  // like a scope emptied by remove(), it is counted nowhere and save() leaves it out. A publish
  // racing with clear() may survive it. Takes its own locks.
  void clear();

  // Test hook: sends every chunk of scopes created afterwards to the same hash
  // table bucket, so tests can check that colliding chunks are all kept.
  void set_single_bucket_for_testing() { single_bucket_for_testing_ = true; }

 private:
  class Shard;

  template <typename Token>
  std::vector<BlendMatch> match_impl(std::string_view model_scope,
                                     std::span<const Token> tokens) const;
  Shard* find_shard(std::string_view model_scope) const EXCLUDES(scopes_mu_);
  Shard& find_or_create_shard(const std::string& model_scope) EXCLUDES(scopes_mu_);

  const size_t chunk_size_;    // tokens per chunk (window length)
  const size_t probe_stride_;  // match probes windows starting at multiples of this
  uint64_t seed_;              // hasher_ and key_hash_seed_ derive from it; set anew by load()
  BlendFingerprinter hasher_;  // one random evaluation point for the whole index
  uint64_t key_hash_seed_;     // mixed into object key hashes
  bool single_bucket_for_testing_ = false;

  struct ScopeMap;
  mutable SharedMutex scopes_mu_;  // guards the map in scopes_, not the shards
  // model_scope -> Shard; shards live until ~BlendIndex.
  const std::unique_ptr<ScopeMap> scopes_ PT_GUARDED_BY(scopes_mu_);
};

}  // namespace lmcache::core

#endif  // LMCACHE_CORE_BLEND_INDEX_H_
