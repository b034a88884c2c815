#include "core/blend_index.h"

#include <algorithm>
#include <bit>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>

#include "core/mutex.h"
#include "core/string_hash.h"
#include "core/thread_annotations.h"

namespace lmcache::core {
namespace {

constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
constexpr size_t kNotFound = std::numeric_limits<size_t>::max();

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One published (content, object key) pair. Entries with the same content form
// a list in publish order (the head is the earliest live one); entries with the
// same object key form a second list, walked by remove().
struct Entry {
  Fingerprint fp;              // content of the chunk
  uint64_t old_st;             // where the chunk started in its own sequence
  uint64_t key_ref;            // the object key, interned in the shard's KeyArena
  uint32_t next_same_content;  // next-published entry with this content, or kNil
  uint32_t next_same_key;      // another entry of this object key, or kNil; free-list link
};
static_assert(sizeof(Entry) == 40);

// Entries in fixed blocks of 1024: no reallocation copies, no doubling overshoot.
class EntrySlab {
 public:
  static constexpr uint32_t kBlockBits = 10;
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;

  Entry& operator[](uint32_t i) { return blocks_[i >> kBlockBits][i & (kBlockSize - 1)]; }
  const Entry& operator[](uint32_t i) const {
    return blocks_[i >> kBlockBits][i & (kBlockSize - 1)];
  }

  uint32_t allocate() {
    ++live_;
    if (free_head_ != kNil) {
      const uint32_t i = free_head_;
      free_head_ = (*this)[i].next_same_key;
      return i;
    }
    if (used_ == blocks_.size() * size_t{kBlockSize}) {
      if (used_ >= kNil - kBlockSize) throw std::length_error("BlendIndex: too many entries");
      blocks_.push_back(std::make_unique<Entry[]>(kBlockSize));
    }
    return static_cast<uint32_t>(used_++);
  }

  void release(uint32_t i) {
    --live_;
    (*this)[i].next_same_key = free_head_;
    free_head_ = i;
  }

  size_t live() const { return live_; }
  size_t memory_bytes() const {
    return blocks_.size() * sizeof(Entry) * kBlockSize + blocks_.capacity() * sizeof(void*);
  }

 private:
  std::vector<std::unique_ptr<Entry[]>> blocks_;  // storage, kBlockSize entries each
  size_t used_ = 0;                               // entries ever handed out (high-water mark)
  size_t live_ = 0;                               // entries allocated and not released
  uint32_t free_head_ = kNil;                     // released entries, linked by next_same_key
};

// Object keys interned as bytes in blocks of up to 1 MiB. A reference packs
// block (28 bits), offset (20 bits) and length (16 bits). Removed keys leave
// dead bytes that compaction (done by the shard) reclaims.
class KeyArena {
 public:
  static constexpr size_t kMaxBlock = size_t{1} << 20;

  uint64_t add(std::string_view key) {
    if (blocks_.empty() || block_used_ + key.size() > block_size_) {
      block_size_ = blocks_.empty() ? 4096 : std::min(block_size_ * 2, kMaxBlock);
      blocks_.push_back(std::make_unique<char[]>(block_size_));
      block_bytes_ += block_size_;
      block_used_ = 0;
    }
    const uint64_t block = blocks_.size() - 1;
    const uint64_t ref = (block << 36) | (uint64_t{block_used_} << 16) | key.size();
    if (!key.empty()) std::memcpy(blocks_.back().get() + block_used_, key.data(), key.size());
    block_used_ += key.size();
    live_bytes_ += key.size();
    return ref;
  }

  std::string_view get(uint64_t ref) const {
    return {blocks_[ref >> 36].get() + ((ref >> 16) & 0xFFFFF), ref & 0xFFFF};
  }

  void release(uint64_t ref) {
    live_bytes_ -= ref & 0xFFFF;
    dead_bytes_ += ref & 0xFFFF;
  }

  size_t live_bytes() const { return live_bytes_; }
  size_t dead_bytes() const { return dead_bytes_; }
  size_t memory_bytes() const { return block_bytes_ + blocks_.capacity() * sizeof(void*); }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;  // key bytes
  size_t block_size_ = 0;                        // size of the last block
  size_t block_used_ = 0;                        // bytes used in the last block
  size_t block_bytes_ = 0;                       // sum of all block sizes
  size_t live_bytes_ = 0;                        // bytes of keys still referenced
  size_t dead_bytes_ = 0;                        // bytes of released keys
};

// Open addressing with linear probing from hash value to a 32-bit entry index.
// Per slot: a tag (low hash bits, 0 = empty) and the index, kept in two arrays
// so that a probe for absent content usually reads one line of tags and never
// the entries (a wider Tag makes false tag hits rarer).
// Capacity grows by 1.5x (any size, via multiply-shift), so memory stays within
// 1.5x of the load limit. Deletion shifts the run back; there are no tombstones.
// The caller supplies equality and, for moves, the hash of a stored index.
template <typename Tag>
class SlotTable {
 public:
  explicit SlotTable(bool single_bucket) : mask_(single_bucket ? 0 : ~uint64_t{0}) {}

  template <typename Eq>
  size_t find(uint64_t h, Eq&& eq) const {
    if (cap_ == 0) return kNotFound;
    h &= mask_;
    const Tag t = tag(h);
    for (size_t i = home(h);;) {
      const Tag x = tags_[i];
      if (x == 0) return kNotFound;
      if (x == t && eq(vals_[i])) return i;
      if (++i == cap_) i = 0;
    }
  }

  uint32_t value(size_t slot) const { return vals_[slot]; }
  void set_value(size_t slot, uint32_t v) { vals_[slot] = v; }

  // Adds v under hash h (v must not be present). hash_of(index) -> hash.
  template <typename HashOf>
  void insert(uint64_t h, uint32_t v, HashOf&& hash_of) {
    if ((size_ + 1) * 20 > cap_ * 17) grow(hash_of);  // load limit 0.85
    place(h & mask_, v);
    ++size_;
  }

  template <typename HashOf>
  void erase(size_t slot, HashOf&& hash_of) {
    size_t hole = slot;
    for (size_t j = slot;;) {
      if (++j == cap_) j = 0;
      if (tags_[j] == 0) break;
      const size_t k = home(hash_of(vals_[j]) & mask_);
      // Leave j alone if its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (stays) continue;
      tags_[hole] = tags_[j];
      vals_[hole] = vals_[j];
      hole = j;
    }
    tags_[hole] = 0;
    --size_;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  size_t memory_bytes() const { return cap_ * (sizeof(Tag) + sizeof(uint32_t)); }

  // Calls f(index) for every stored index.
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < cap_; ++i) {
      if (tags_[i] != 0) f(vals_[i]);
    }
  }

 private:
  size_t home(uint64_t h) const {
    return static_cast<size_t>((static_cast<unsigned __int128>(h) * cap_) >> 64);
  }
  static Tag tag(uint64_t h) {
    const Tag t = static_cast<Tag>(h);
    return t == 0 ? 1 : t;
  }
  void place(uint64_t masked_h, uint32_t v) {
    size_t i = home(masked_h);
    while (tags_[i] != 0) {
      if (++i == cap_) i = 0;
    }
    tags_[i] = tag(masked_h);
    vals_[i] = v;
  }
  template <typename HashOf>
  void grow(HashOf& hash_of) {
    const size_t new_cap = std::max<size_t>(16, cap_ + cap_ / 2);
    auto old_tags = std::move(tags_);
    auto old_vals = std::move(vals_);
    const size_t old_cap = cap_;
    tags_ = std::make_unique<Tag[]>(new_cap);  // value-initialized: all empty
    vals_ = std::make_unique_for_overwrite<uint32_t[]>(new_cap);
    cap_ = new_cap;
    // The hashes live behind the indices (cache misses): prefetch ahead in two
    // stages, as a key's hash needs its entry before its bytes can be fetched.
    constexpr size_t kAhead = 16;
    for (size_t i = 0; i < old_cap; ++i) {
      if (i + kAhead < old_cap && old_tags[i + kAhead] != 0) {
        hash_of.prefetch(old_vals[i + kAhead], 0);
      }
      if (i + kAhead / 2 < old_cap && old_tags[i + kAhead / 2] != 0) {
        hash_of.prefetch(old_vals[i + kAhead / 2], 1);
      }
      if (old_tags[i] != 0) place(hash_of(old_vals[i]) & mask_, old_vals[i]);
    }
  }

  std::unique_ptr<Tag[]> tags_;       // per slot: 0 empty, else low bits of the hash (never 0)
  std::unique_ptr<uint32_t[]> vals_;  // per slot: the entry index
  size_t cap_ = 0;                    // slots
  size_t size_ = 0;                   // occupied slots
  uint64_t mask_;                     // ANDed into every hash; 0 puts all in one bucket (tests)
};

// A Bloom filter in which each hash sets 3 bits of one 64-bit word, so a probe
// for absent content is one memory access and one well-predicted branch. Sized
// to ~1 byte per table slot (9-14 bits per content). It cannot forget: the
// shard rebuilds it when the table grows or after many removals.
class ContentFilter {
 public:
  void reset(size_t table_slots) {
    words_count_ = std::max<size_t>(1, table_slots / 8);
    words_ = std::make_unique<uint64_t[]>(words_count_);  // value-initialized: empty
  }

  void add(uint64_t h) { words_[word(h)] |= mask(h); }
  bool may_contain(uint64_t h) const {
    const uint64_t m = mask(h);
    return (words_[word(h)] & m) == m;
  }
  void prefetch(uint64_t h) const { __builtin_prefetch(words_.get() + word(h)); }

  size_t memory_bytes() const { return words_count_ * sizeof(uint64_t); }

 private:
  size_t word(uint64_t h) const {
    return static_cast<size_t>((static_cast<unsigned __int128>(h) * words_count_) >> 64);
  }
  static uint64_t mask(uint64_t h) {
    return (uint64_t{1} << ((h >> 16) & 63)) | (uint64_t{1} << ((h >> 22) & 63)) |
           (uint64_t{1} << ((h >> 28) & 63));
  }

  std::unique_ptr<uint64_t[]> words_;  // the filter bits
  size_t words_count_ = 0;             // 64-bit words in words_
};

}  // namespace

// Everything published under one model scope, behind one reader/writer lock. The tables are
// private and reached only through the annotated public methods below, so checking their callers
// checks every access (annotating the members themselves would flag the table callbacks and
// lambdas, which the analysis cannot see run under the caller's lock).
class BlendIndex::Shard {
 public:
  Shard(uint64_t key_seed, bool single_bucket)
      : key_seed_(key_seed),
        single_bucket_(single_bucket),
        by_content_(single_bucket),
        by_key_(single_bucket) {
    filter_.reset(0);
  }

  mutable SharedMutex mu;  // readers: match and lookups; writers: publish, remove

  uint64_t key_hash(std::string_view key) const {
    return mix64(std::hash<std::string_view>{}(key) ^ key_seed_);
  }

  // Adds the pair unless present. Returns true if added.
  bool insert(const Fingerprint& fp, uint64_t old_st, std::string_view key, uint64_t kh)
      REQUIRES(mu) {
    const size_t key_slot = find_key(key, kh);
    const size_t content_slot = find_content(fp);
    uint32_t tail = kNil;
    if (content_slot != kNotFound) {
      const bool key_known = key_slot != kNotFound;
      const uint64_t ref = key_known ? entries_[by_key_.value(key_slot)].key_ref : 0;
      for (uint32_t e = by_content_.value(content_slot); e != kNil;
           e = entries_[e].next_same_content) {
        if (key_known && entries_[e].key_ref == ref) return false;
        tail = e;
      }
    }
    const uint32_t idx = entries_.allocate();
    Entry& entry = entries_[idx];
    entry.fp = fp;
    entry.old_st = old_st;
    entry.next_same_content = kNil;
    if (key_slot == kNotFound) {
      entry.key_ref = arena_.add(key);
      entry.next_same_key = kNil;
      by_key_.insert(kh, idx, key_hash_of());
    } else {
      Entry& head = entries_[by_key_.value(key_slot)];
      entry.key_ref = head.key_ref;
      entry.next_same_key = head.next_same_key;
      head.next_same_key = idx;
    }
    if (content_slot == kNotFound) {
      const size_t old_capacity = by_content_.capacity();
      by_content_.insert(fp.hash64(), idx, content_hash_of());
      if (by_content_.capacity() != old_capacity) {
        rebuild_filter();
      } else {
        filter_.add(fp.hash64());
      }
    } else {
      entries_[tail].next_same_content = idx;
    }
    return true;
  }

  // Drops every entry and key, as a shard freshly constructed with `key_seed`. The shard itself
  // (and its lock) stays: other threads may hold a pointer to it.
  void clear(uint64_t key_seed) REQUIRES(mu) {
    key_seed_ = key_seed;
    entries_ = EntrySlab();
    arena_ = KeyArena();
    by_content_ = SlotTable<uint8_t>(single_bucket_);
    by_key_ = SlotTable<uint8_t>(single_bucket_);
    filter_.reset(0);
    filter_stale_ = 0;
  }

  bool contains_key(std::string_view key, uint64_t kh) const REQUIRES_SHARED(mu) {
    return find_key(key, kh) != kNotFound;
  }

  // Removes every entry of the key. Returns entries removed.
  size_t remove_key(std::string_view key, uint64_t kh) REQUIRES(mu) {
    const size_t key_slot = find_key(key, kh);
    if (key_slot == kNotFound) return 0;
    size_t removed = 0;
    uint32_t e = by_key_.value(key_slot);
    by_key_.erase(key_slot, key_hash_of());
    arena_.release(entries_[e].key_ref);
    while (e != kNil) {
      const uint32_t next = entries_[e].next_same_key;
      unlink_content(e);
      entries_.release(e);
      ++removed;
      e = next;
    }
    if (arena_.dead_bytes() > arena_.live_bytes() && arena_.dead_bytes() > (size_t{1} << 16)) {
      compact_keys();
    }
    return removed;
  }

  // Appends (start, head entry) for every window whose content is present, in
  // no particular order.
  template <typename Token>
  void probe(const BlendFingerprinter& hasher, std::span<const Token> tokens, size_t stride,
             std::vector<std::pair<uint64_t, uint32_t>>& hits) const REQUIRES_SHARED(mu) {
    // Software pipeline: the tags of window i are prefetched while window
    // i - kDistance is looked up, so the ~1 cache miss per probe overlaps.
    constexpr size_t kDistance = 32;  // power of two
    struct Pending {
      size_t start;
      Fingerprint fp;
      uint64_t hash;
    };
    Pending ring[kDistance];
    size_t produced = 0;
    auto lookup = [&](const Pending& p) {
      if (!filter_.may_contain(p.hash)) return;
      const size_t slot = find_content_hashed(p.fp, p.hash);
      if (slot != kNotFound) hits.emplace_back(p.start, by_content_.value(slot));
    };
    hasher.roll_unordered(tokens, stride, [&](size_t start, const Fingerprint& fp) {
      Pending& p = ring[produced % kDistance];
      if (produced >= kDistance) lookup(p);
      p = Pending{start, fp, fp.hash64()};
      filter_.prefetch(p.hash);
      ++produced;
    });
    const size_t first = produced > kDistance ? produced - kDistance : 0;
    for (size_t i = first; i < produced; ++i) lookup(ring[i % kDistance]);
  }

  // Every content with its entries in publish order: u64 content count; per content the
  // fingerprint (u64 a, u64 b) and a u32 entry count, then per entry u64 old_st and the key.
  void save(SnapshotWriter& out) const REQUIRES_SHARED(mu) {
    out.u64(by_content_.size());
    by_content_.for_each([&](uint32_t head) {
      out.u64(entries_[head].fp.a);
      out.u64(entries_[head].fp.b);
      uint32_t count = 0;
      for (uint32_t e = head; e != kNil; e = entries_[e].next_same_content) ++count;
      out.u32(count);
      for (uint32_t e = head; e != kNil; e = entries_[e].next_same_content) {
        out.u64(entries_[e].old_st);
        out.str(arena_.get(entries_[e].key_ref));
      }
    });
  }

  // Inserts what save() wrote, in its order (so each content's earliest key stays first).
  // False on a fingerprint outside the field, a content listed twice or without entries, a key
  // too long, or a (content, key) pair listed twice.
  bool load(SnapshotReader& in) REQUIRES(mu) {
    // A content takes at least 32 bytes: its fingerprint, its entry count and one entry.
    const uint64_t contents = in.count(32);
    for (uint64_t c = 0; c < contents && in.ok(); ++c) {
      const Fingerprint fp{in.u64(), in.u64()};
      const uint32_t count = in.u32();
      // An entry takes at least 12 bytes: old_st and the key's length.
      if (!in.ok() || fp.a >= BlendFingerprinter::kPrime || fp.b >= BlendFingerprinter::kPrime ||
          count == 0 || count > in.remaining() / 12 || find_content(fp) != kNotFound) {
        return false;
      }
      for (uint32_t i = 0; i < count; ++i) {
        const uint64_t old_st = in.u64();
        const std::string_view key = in.str();
        if (!in.ok() || key.size() > kMaxObjectKeyBytes) return false;
        if (!insert(fp, old_st, key, key_hash(key))) return false;
      }
    }
    return in.ok();
  }

  const Entry& entry(uint32_t i) const REQUIRES_SHARED(mu) { return entries_[i]; }
  std::string_view key_of(const Entry& e) const REQUIRES_SHARED(mu) {
    return arena_.get(e.key_ref);
  }

  size_t entry_count() const REQUIRES_SHARED(mu) { return entries_.live(); }
  size_t content_count() const REQUIRES_SHARED(mu) { return by_content_.size(); }
  size_t key_count() const REQUIRES_SHARED(mu) { return by_key_.size(); }
  size_t table_slots() const REQUIRES_SHARED(mu) { return by_content_.capacity(); }
  size_t key_bytes() const REQUIRES_SHARED(mu) { return arena_.live_bytes(); }
  size_t memory_bytes() const REQUIRES_SHARED(mu) {
    return sizeof(*this) + entries_.memory_bytes() + arena_.memory_bytes() +
           by_content_.memory_bytes() + by_key_.memory_bytes() + filter_.memory_bytes();
  }

 private:
  // Hash of a stored entry index, for table moves.
  // prefetch(i, stage) warms what operator()(i) will read; stage 1 runs later than stage 0.
  struct ContentHashOf {
    const Shard* shard;
    uint64_t operator()(uint32_t i) const { return shard->entries_[i].fp.hash64(); }
    void prefetch(uint32_t i, int stage) const {
      if (stage == 0) __builtin_prefetch(&shard->entries_[i]);
    }
  };
  struct KeyHashOf {
    const Shard* shard;
    uint64_t operator()(uint32_t i) const {
      return shard->key_hash(shard->arena_.get(shard->entries_[i].key_ref));
    }
    void prefetch(uint32_t i, int stage) const {
      if (stage == 0) {
        __builtin_prefetch(&shard->entries_[i]);
      } else {
        __builtin_prefetch(shard->arena_.get(shard->entries_[i].key_ref).data());
      }
    }
  };
  ContentHashOf content_hash_of() const { return {this}; }
  KeyHashOf key_hash_of() const { return {this}; }

  size_t find_content(const Fingerprint& fp) const { return find_content_hashed(fp, fp.hash64()); }
  size_t find_content_hashed(const Fingerprint& fp, uint64_t h) const {
    return by_content_.find(h, [&](uint32_t i) { return entries_[i].fp == fp; });
  }
  size_t find_key(std::string_view key, uint64_t kh) const {
    return by_key_.find(kh, [&](uint32_t i) { return arena_.get(entries_[i].key_ref) == key; });
  }

  // Takes entry e out of its content list; drops the content when e was the last.
  void unlink_content(uint32_t e) {
    const Entry& entry = entries_[e];
    const size_t slot = find_content(entry.fp);
    const uint32_t head = by_content_.value(slot);
    if (head == e) {
      if (entry.next_same_content == kNil) {
        by_content_.erase(slot, content_hash_of());
        if (++filter_stale_ > by_content_.size() / 2 + 64) rebuild_filter();
      } else {
        by_content_.set_value(slot, entry.next_same_content);
      }
      return;
    }
    uint32_t prev = head;
    while (entries_[prev].next_same_content != e) prev = entries_[prev].next_same_content;
    entries_[prev].next_same_content = entry.next_same_content;
  }

  // Rewrites live keys into a fresh arena once removed keys dominate it.
  void compact_keys() {
    KeyArena fresh;
    by_key_.for_each([&](uint32_t head) {
      const uint64_t ref = fresh.add(arena_.get(entries_[head].key_ref));
      for (uint32_t e = head; e != kNil; e = entries_[e].next_same_key) entries_[e].key_ref = ref;
    });
    arena_ = std::move(fresh);
  }

  // Refills the filter from the table, at a size that follows the table's.
  void rebuild_filter() {
    filter_.reset(by_content_.capacity());
    by_content_.for_each([&](uint32_t head) { filter_.add(entries_[head].fp.hash64()); });
    filter_stale_ = 0;
  }

  uint64_t key_seed_;              // mixed into key hashes; changed only by clear()
  const bool single_bucket_;       // the tables' test mode
  EntrySlab entries_;              // all live entries of this scope (and freed ones for reuse)
  KeyArena arena_;                 // interned object key bytes
  SlotTable<uint8_t> by_content_;  // fingerprint -> earliest-published live entry with it
  ContentFilter filter_;           // prefilter over the fingerprints in by_content_
  size_t filter_stale_ = 0;        // contents dropped from by_content_ but still in filter_
  SlotTable<uint8_t> by_key_;      // object key -> one entry of that key (head of its key list)
};

struct BlendIndex::ScopeMap {
  boost::unordered_flat_map<std::string, std::unique_ptr<Shard>, StringHash, StringEqual> shards;
};

namespace {
uint64_t random_seed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}
}  // namespace

BlendIndex::BlendIndex(size_t chunk_size, size_t probe_stride)
    : BlendIndex(chunk_size, probe_stride, random_seed()) {}

namespace {
uint64_t key_hash_seed_of(uint64_t seed) { return mix64(seed ^ 0x5DEECE66Dull); }

// The version of save()'s layout, its first value.
constexpr uint32_t kSnapshotFormat = 1;
}  // namespace

BlendIndex::BlendIndex(size_t chunk_size, size_t probe_stride, uint64_t seed)
    : chunk_size_(chunk_size),
      probe_stride_(probe_stride),
      seed_(seed),
      hasher_(std::max<size_t>(chunk_size, 1), seed),
      key_hash_seed_(key_hash_seed_of(seed)),
      scopes_(std::make_unique<ScopeMap>()) {
  if (chunk_size == 0) throw std::invalid_argument("BlendIndex: chunk_size must be >= 1");
  if (probe_stride == 0) throw std::invalid_argument("BlendIndex: probe_stride must be >= 1");
}

BlendIndex::~BlendIndex() = default;

BlendIndex::Shard* BlendIndex::find_shard(std::string_view model_scope) const {
  ReaderMutexLock lock(scopes_mu_);
  auto it = scopes_->shards.find(model_scope);
  return it == scopes_->shards.end() ? nullptr : it->second.get();
}

BlendIndex::Shard& BlendIndex::find_or_create_shard(const std::string& model_scope) {
  if (Shard* s = find_shard(model_scope)) return *s;
  WriterMutexLock lock(scopes_mu_);
  auto& slot = scopes_->shards[model_scope];
  if (!slot) slot = std::make_unique<Shard>(key_hash_seed_, single_bucket_for_testing_);
  return *slot;
}

BlendPublishResult BlendIndex::publish(std::span<const BlendRange> ranges) {
  BlendPublishResult result;
  std::vector<Fingerprint> fps;
  std::vector<uint64_t> key_hashes;
  for (const BlendRange& range : ranges) {
    const size_t chunks = range.tokens.size() / chunk_size_;
    const bool keys_ok =
        std::all_of(range.object_keys.begin(), range.object_keys.end(),
                    [](const std::string& k) { return k.size() <= kMaxObjectKeyBytes; });
    if (chunks != range.object_keys.size() || !keys_ok) {
      ++result.skipped_ranges;
      continue;
    }
    if (chunks == 0) continue;
    // Hash outside the lock; the lock covers only the table updates.
    fps.clear();
    key_hashes.clear();
    hasher_.roll(std::span<const uint64_t>(range.tokens), chunk_size_,
                 [&](size_t, const Fingerprint& fp) { fps.push_back(fp); });
    Shard& shard = find_or_create_shard(range.model_scope);
    for (const std::string& key : range.object_keys) key_hashes.push_back(shard.key_hash(key));
    WriterMutexLock lock(shard.mu);
    for (size_t i = 0; i < chunks; ++i) {
      result.inserted += shard.insert(fps[i], range.old_st_base + i * chunk_size_,
                                      range.object_keys[i], key_hashes[i]);
    }
  }
  return result;
}

size_t BlendIndex::remove(std::span<const std::string> object_keys) {
  if (object_keys.empty()) return 0;
  std::vector<Shard*> shards;
  {
    ReaderMutexLock lock(scopes_mu_);
    for (const auto& [scope, shard] : scopes_->shards) shards.push_back(shard.get());
  }
  if (shards.empty()) return 0;
  std::vector<uint64_t> hashes;
  for (const std::string& key : object_keys) hashes.push_back(shards.front()->key_hash(key));
  size_t removed = 0;
  for (Shard* shard : shards) {
    bool any = false;
    {
      ReaderMutexLock lock(shard->mu);
      for (size_t i = 0; i < object_keys.size() && !any; ++i) {
        any = shard->contains_key(object_keys[i], hashes[i]);
      }
    }
    if (!any) continue;
    WriterMutexLock lock(shard->mu);
    for (size_t i = 0; i < object_keys.size(); ++i) {
      removed += shard->remove_key(object_keys[i], hashes[i]);
    }
  }
  return removed;
}

template <typename Token>
std::vector<BlendMatch> BlendIndex::match_impl(std::string_view model_scope,
                                               std::span<const Token> tokens) const {
  std::vector<BlendMatch> out;
  if (tokens.size() < chunk_size_) return out;
  const Shard* shard = find_shard(model_scope);
  if (shard == nullptr) return out;
  std::vector<std::pair<uint64_t, uint32_t>> hits;
  ReaderMutexLock lock(shard->mu);
  shard->probe(hasher_, tokens, probe_stride_, hits);
  std::sort(hits.begin(), hits.end());            // ascending cur_st; first occurrence wins below
  boost::unordered_flat_set<uint64_t> seen_keys;  // key refs already reported
  for (const auto& [start, idx] : hits) {
    const Entry& e = shard->entry(idx);
    if (!seen_keys.insert(e.key_ref).second) continue;
    out.push_back(BlendMatch{std::string(shard->key_of(e)), e.old_st, start});
  }
  return out;
}

std::vector<BlendMatch> BlendIndex::match(std::string_view model_scope,
                                          std::span<const uint64_t> tokens) const {
  return match_impl(model_scope, tokens);
}

std::vector<BlendMatch> BlendIndex::match(std::string_view model_scope,
                                          std::span<const uint32_t> tokens) const {
  return match_impl(model_scope, tokens);
}

bool BlendIndex::contains(std::string_view model_scope, std::string_view object_key) const {
  const Shard* shard = find_shard(model_scope);
  if (shard == nullptr) return false;
  const uint64_t kh = shard->key_hash(object_key);
  ReaderMutexLock lock(shard->mu);
  return shard->contains_key(object_key, kh);
}

void BlendIndex::freeze(const std::function<void()>& during) const {
  ReaderMutexLock lock(scopes_mu_);
  std::vector<const Shard*> shards;
  shards.reserve(scopes_->shards.size());
  for (const auto& [scope, shard] : scopes_->shards) shards.push_back(shard.get());
  // A count of locks the analysis cannot follow: each shard's lock is taken and released here.
  struct SharedLocks {
    std::span<const Shard* const> shards;
    size_t held = 0;
    void lock() NO_THREAD_SAFETY_ANALYSIS {
      for (; held < shards.size(); ++held) shards[held]->mu.lock_shared();
    }
    ~SharedLocks() NO_THREAD_SAFETY_ANALYSIS {
      while (held > 0) shards[--held]->mu.unlock_shared();
    }
  } locks{shards};
  locks.lock();
  during();
}

void BlendIndex::save(SnapshotWriter& out) const {
  out.u32(kSnapshotFormat);
  out.u64(chunk_size_);
  out.u64(seed_);
  // Scopes without content (emptied by remove() or clear()) are left out: loading them would
  // add nothing.
  uint64_t scopes = 0;
  for (const auto& [scope, shard] : scopes_->shards) scopes += shard->content_count() != 0;
  out.u64(scopes);
  for (const auto& [scope, shard] : scopes_->shards) {
    if (shard->content_count() == 0) continue;
    out.str(scope);
    shard->save(out);
  }
}

void BlendIndex::clear() {
  ReaderMutexLock lock(scopes_mu_);
  for (const auto& [scope, shard] : scopes_->shards) {
    WriterMutexLock shard_lock(shard->mu);
    shard->clear(key_hash_seed_);
  }
}

bool BlendIndex::load(SnapshotReader& in) {
  const uint32_t format = in.u32();
  const uint64_t chunk_size = in.u64();
  const uint64_t seed = in.u64();
  if (!in.ok() || format != kSnapshotFormat || chunk_size != chunk_size_) return false;
  if (entry_count() != 0) return false;
  {
    // Under the map's lock, so a freeze (which holds it shared) never sees half a seed. The
    // scopes left by clear() are empty and take the new key seed with it.
    WriterMutexLock lock(scopes_mu_);
    seed_ = seed;
    hasher_ = BlendFingerprinter(chunk_size_, seed);
    key_hash_seed_ = key_hash_seed_of(seed);
    for (const auto& [scope, shard] : scopes_->shards) {
      WriterMutexLock shard_lock(shard->mu);
      shard->clear(key_hash_seed_);
    }
  }
  // A scope takes at least 12 bytes: its name's length and its content count.
  const uint64_t scopes = in.count(12);
  boost::unordered_flat_set<std::string, StringHash, StringEqual> loaded;
  for (uint64_t i = 0; i < scopes && in.ok(); ++i) {
    std::string scope(in.str());
    if (!in.ok() || !loaded.insert(scope).second) return false;
    Shard& shard = find_or_create_shard(scope);
    WriterMutexLock lock(shard.mu);
    if (!shard.load(in)) return false;
  }
  return in.ok();
}

size_t BlendIndex::entry_count() const {
  ReaderMutexLock lock(scopes_mu_);
  size_t n = 0;
  for (const auto& [scope, shard] : scopes_->shards) {
    ReaderMutexLock shard_lock(shard->mu);
    n += shard->entry_count();
  }
  return n;
}

BlendIndexStats BlendIndex::stats() const {
  ReaderMutexLock lock(scopes_mu_);
  BlendIndexStats stats;
  for (const auto& [scope, shard] : scopes_->shards) {
    ReaderMutexLock shard_lock(shard->mu);
    stats.scopes += shard->content_count() != 0;
    stats.contents += shard->content_count();
    stats.keys += shard->key_count();
    stats.entries += shard->entry_count();
    stats.table_slots += shard->table_slots();
  }
  return stats;
}

size_t BlendIndex::object_key_bytes() const {
  ReaderMutexLock lock(scopes_mu_);
  size_t n = 0;
  for (const auto& [scope, shard] : scopes_->shards) {
    ReaderMutexLock shard_lock(shard->mu);
    n += shard->key_bytes();
  }
  return n;
}

size_t BlendIndex::memory_bytes() const {
  ReaderMutexLock lock(scopes_mu_);
  size_t n =
      sizeof(*this) + sizeof(ScopeMap) +
      scopes_->shards.bucket_count() * (sizeof(std::pair<std::string, std::unique_ptr<Shard>>) + 1);
  for (const auto& [scope, shard] : scopes_->shards) {
    ReaderMutexLock shard_lock(shard->mu);
    n += shard->memory_bytes();
    if (scope.capacity() > 15) n += scope.capacity() + 1;
  }
  return n;
}

}  // namespace lmcache::core
