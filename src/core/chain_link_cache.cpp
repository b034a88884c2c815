#include "core/chain_link_cache.h"

#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "core/huge_pages.h"

#define XXH_INLINE_ALL  // header-only: no run-time dependency
#include <xxhash.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lmcache::core {
namespace {

constexpr std::align_val_t kLineAlignment{64};

// An uninitialised array of `count` T aligned to a cache line, on huge pages from one huge page up
// (freed by RegionDeleter, which makes the same choice from the size).
template <typename T>
T* allocate_array(size_t count, size_t& bytes) {
  bytes = count * sizeof(T);
  void* p = bytes >= kHugePageBytes ? allocate_huge(bytes) : ::operator new(bytes, kLineAlignment);
  return static_cast<T*>(p);
}

// Copies `count` tokens into the cache. Whole 64-byte lines are written with streaming stores,
// which do not first read the line they replace: a link stored is rarely read soon, and reading
// 1 KiB of cold lines per link was most of what storing one cost. The fence makes the stores
// visible before the caller's unlock.
void copy_tokens(uint32_t* to, const uint32_t* from, size_t count) {
  size_t i = 0;
#if defined(__SSE2__)
  constexpr size_t kPerLine = 64 / sizeof(uint32_t);
  if (reinterpret_cast<uintptr_t>(to) % 64 == 0) {
    for (; i + kPerLine <= count; i += kPerLine) {
      for (size_t part = 0; part < kPerLine; part += 4) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i + part));
        _mm_stream_si128(reinterpret_cast<__m128i*>(to + i + part), v);
      }
    }
    _mm_sfence();
  }
#endif
  std::memcpy(to + i, from + i, (count - i) * sizeof(uint32_t));
}

}  // namespace

void ChainLinkCache::RegionDeleter::operator()(void* p) const noexcept {
  if (bytes >= kHugePageBytes) {
    free_huge(p, bytes);
  } else {
    ::operator delete(p, kLineAlignment);
  }
}

size_t ChainLinkCache::bytes_per_link(size_t chunk_size) {
  return sizeof(SetTags) / kWays + sizeof(Link) + chunk_size * sizeof(uint32_t);
}

ChainLinkCache::ChainLinkCache(size_t chunk_size, size_t capacity_bytes)
    : chunk_size_(chunk_size), stripes_(new Stripe[kStripes]) {
  if (chunk_size == 0) throw std::invalid_argument("chunk size must be at least 1");
  sets_ = capacity_bytes / (bytes_per_link(chunk_size) * kWays);
  if (sets_ == 0) return;
  size_t bytes = 0;
  tags_ = allocate_array<SetTags>(sets_, bytes);
  tags_region_ = Region(tags_, RegionDeleter{bytes});
  std::memset(static_cast<void*>(tags_), 0, bytes);  // every way empty
  // Links and tokens are read only after a store wrote them: left untouched until then.
  links_ = allocate_array<Link>(sets_ * kWays, bytes);
  links_region_ = Region(links_, RegionDeleter{bytes});
  tokens_ = allocate_array<uint32_t>(sets_ * kWays * chunk_size_, bytes);
  tokens_region_ = Region(tokens_, RegionDeleter{bytes});
}

ChainLinkCache::~ChainLinkCache() = default;

uint64_t ChainLinkCache::link_hash(const Digest& previous, const uint32_t* tokens) const {
  // XXH3 of the tokens, seeded with the previous digest's first eight bytes (a digest is
  // uniformly distributed). Both must choose the set: every chain starts from the same seed
  // digest, and every continuation of a shared prefix from the same digest, so sets chosen by
  // the previous digest alone would pile those links into one set of four.
  uint64_t seed = 0;
  std::memcpy(&seed, previous.data(), sizeof(seed));
  return XXH3_64bits_withSeed(tokens, chunk_size_ * sizeof(uint32_t), seed);
}

size_t ChainLinkCache::set_of(uint64_t hash) const {
  // Scaled to [0, sets_) by a multiply, not a division (which costs as much as a lookup).
  return static_cast<size_t>((static_cast<unsigned __int128>(hash) * sets_) >> 64);
}

size_t ChainLinkCache::way_holding(size_t set, uint64_t hash, const Digest& previous,
                                   const uint32_t* tokens) const {
  const SetTags& tags = tags_[set];
  for (size_t way = 0; way < kWays; ++way) {
    if (tags.last_use[way] == 0 || tags.tag[way] != hash) continue;
    const size_t slot = set * kWays + way;
    if (links_[slot].previous == previous &&
        std::memcmp(&tokens_[slot * chunk_size_], tokens, chunk_size_ * sizeof(uint32_t)) == 0) {
      return way;
    }
  }
  return kWays;
}

bool ChainLinkCache::find(const Digest& previous, std::span<const uint32_t> tokens, Digest& out) {
  if (sets_ == 0) return false;
  const uint64_t hash = link_hash(previous, tokens.data());
  const size_t set = set_of(hash);
  Stripe& stripe = stripes_[set % kStripes];
  MutexLock lock(stripe.mutex);
  const size_t way = way_holding(set, hash, previous, tokens.data());
  if (way == kWays) {
    ++stripe.misses;
    return false;
  }
  tags_[set].last_use[way] = ++stripe.clock;
  out = links_[set * kWays + way].digest;
  ++stripe.hits;
  return true;
}

void ChainLinkCache::store(Stripe& stripe, size_t set, uint64_t hash, const Digest& previous,
                           const uint32_t* tokens, const Digest& digest) {
  SetTags& tags = tags_[set];
  size_t way = way_holding(set, hash, previous, tokens);
  if (way == kWays) {
    way = 0;  // the empty way if there is one, else the least recently used (empty: 0)
    for (size_t w = 1; w < kWays; ++w) {
      if (tags.last_use[w] < tags.last_use[way]) way = w;
    }
    if (tags.last_use[way] == 0) ++stripe.links;
    const size_t slot = set * kWays + way;
    tags.tag[way] = hash;
    links_[slot] = Link{previous, digest};
    copy_tokens(&tokens_[slot * chunk_size_], tokens, chunk_size_);
  }
  tags.last_use[way] = ++stripe.clock;
}

void ChainLinkCache::insert_chain(const Digest& first_previous, std::span<const uint32_t> tokens,
                                  std::span<const Digest> digests) {
  if (sets_ == 0) return;
  auto previous_of = [&](size_t i) -> const Digest& {
    return i == 0 ? first_previous : digests[i - 1];
  };
  // Every set's tag line is fetched at once first, so the stores below do not wait on them one
  // after another.
  std::vector<uint64_t> hashes(digests.size());
  for (size_t i = 0; i < digests.size(); ++i) {
    hashes[i] = link_hash(previous_of(i), &tokens[i * chunk_size_]);
    __builtin_prefetch(&tags_[set_of(hashes[i])], 1);
  }
  for (size_t i = 0; i < digests.size(); ++i) {
    const size_t set = set_of(hashes[i]);
    Stripe& stripe = stripes_[set % kStripes];
    MutexLock lock(stripe.mutex);
    ++stripe.inserted;
    store(stripe, set, hashes[i], previous_of(i), &tokens[i * chunk_size_], digests[i]);
  }
}

ChainLinkCache::Stats ChainLinkCache::stats() const {
  Stats out;
  out.capacity_links = sets_ * kWays;
  for (size_t s = 0; s < kStripes; ++s) {
    const Stripe& stripe = stripes_[s];
    MutexLock lock(stripe.mutex);
    out.hits += stripe.hits;
    out.misses += stripe.misses;
    out.inserted += stripe.inserted;
    out.links += stripe.links;
  }
  return out;
}

}  // namespace lmcache::core
