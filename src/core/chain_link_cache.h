// ChainLinkCache: recently computed links of the token chain, so a prefix seen before is not hashed
// again.
//
// A link is one step of TokenChainHasher's chain: (previous digest, one chunk's tokens) -> digest.
// Requests for the same prompt prefix (a shared system prompt, a conversation growing turn by turn)
// repeat the same links, and each costs ~1 us of serial BLAKE3 that nothing else can speed up.
//
// Promise: find() answers only when the previous digest and every token of the chunk equal those of
// a link that was inserted, compared in full; it never trusts a hash. So the cache can only miss,
// never answer a wrong digest.
//
// Memory is fixed at construction (`capacity_bytes`, on huge pages where the kernel allows, touched
// as the cache fills). Links are kept in sets of four chosen by a hash (XXH3) of the previous
// digest and the tokens; a full set replaces its least recently used link. Thread-safe: the sets
// are spread over stripes, each with its own lock.

#ifndef LMCACHE_CORE_CHAIN_LINK_CACHE_H_
#define LMCACHE_CORE_CHAIN_LINK_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

class ChainLinkCache {
 public:
  using Digest = std::array<uint8_t, 32>;

  // Counts since construction, and the links held.
  struct Stats {
    uint64_t hits = 0;      // find() calls that found the link
    uint64_t misses = 0;    // find() calls that did not
    uint64_t inserted = 0;  // links given to insert_chain()
    uint64_t links = 0;
    uint64_t capacity_links = 0;
  };

  // Links of `chunk_size` tokens (>= 1; 0 throws std::invalid_argument), within about
  // `capacity_bytes` of memory. A capacity too small for one set of four links holds nothing:
  // every find() misses.
  ChainLinkCache(size_t chunk_size, size_t capacity_bytes);
  ~ChainLinkCache();
  ChainLinkCache(const ChainLinkCache&) = delete;
  ChainLinkCache& operator=(const ChainLinkCache&) = delete;

  // True, with the link's digest in `out`, when the link (previous, tokens) is held.
  // `tokens` must hold chunk_size tokens.
  bool find(const Digest& previous, std::span<const uint32_t> tokens, Digest& out);

  // Remembers the consecutive links of a chain: link i is (previous of i, tokens[i*C, (i+1)*C))
  // -> digests[i], where the previous of link 0 is `first_previous` and of link i > 0 is
  // digests[i - 1]. `tokens` must hold digests.size() * chunk_size tokens. A link held already
  // is only marked as recently used.
  void insert_chain(const Digest& first_previous, std::span<const uint32_t> tokens,
                    std::span<const Digest> digests);

  Stats stats() const;

  // Bytes one link takes: what `capacity_bytes` is divided by.
  static size_t bytes_per_link(size_t chunk_size);

 private:
  static constexpr size_t kWays = 4;      // links per set
  static constexpr size_t kStripes = 64;  // locks; set s is under stripe s % kStripes

  // What find() reads first, one cache line per set: each way's link hash and its recency (the
  // stripe's clock at its last use; 0 marks an empty way).
  struct alignas(64) SetTags {
    uint64_t tag[kWays];
    uint64_t last_use[kWays];
  };
  struct Link {
    Digest previous;
    Digest digest;
  };
  struct alignas(64) Stripe {
    mutable Mutex mutex;
    uint64_t clock GUARDED_BY(mutex) = 0;
    uint64_t links GUARDED_BY(mutex) = 0;
    uint64_t hits GUARDED_BY(mutex) = 0;
    uint64_t misses GUARDED_BY(mutex) = 0;
    uint64_t inserted GUARDED_BY(mutex) = 0;
  };
  // One huge-page backed array, freed with the cache.
  struct RegionDeleter {
    size_t bytes;
    void operator()(void* p) const noexcept;
  };
  using Region = std::unique_ptr<void, RegionDeleter>;

  // The hash that picks a link's set and tags it: of its tokens and its previous digest.
  uint64_t link_hash(const Digest& previous, const uint32_t* tokens) const;
  size_t set_of(uint64_t hash) const;
  // The way of `set` holding (previous, tokens), or kWays.
  size_t way_holding(size_t set, uint64_t hash, const Digest& previous,
                     const uint32_t* tokens) const;
  // Stores the link in `set`: into the way holding it, else the empty or least recently used way.
  void store(Stripe& stripe, size_t set, uint64_t hash, const Digest& previous,
             const uint32_t* tokens, const Digest& digest) REQUIRES(stripe.mutex);

  size_t chunk_size_;
  size_t sets_;  // 0 when the capacity is too small
  Region tags_region_;
  Region links_region_;
  Region tokens_region_;
  // Guarded by the stripe of the set they belong to (not expressible to the analysis).
  SetTags* tags_ = nullptr;     // sets_
  Link* links_ = nullptr;       // sets_ * kWays
  uint32_t* tokens_ = nullptr;  // sets_ * kWays * chunk_size_
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace lmcache::core

#endif  // LMCACHE_CORE_CHAIN_LINK_CACHE_H_
