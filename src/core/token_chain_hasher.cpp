#include "core/token_chain_hasher.h"

#include <blake3.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lmcache::core {
namespace {

static_assert(std::tuple_size_v<ChunkHash> == BLAKE3_OUT_LEN);

// Tokens converted per blake3_hasher_update call: a whole chunk at the default C = 256, so the
// previous digest and the chunk go to BLAKE3 in one call.
constexpr size_t kStagedTokens = 1024;

// Writes `count` tokens to `out` as big-endian u32s.
void store_big_endian(const uint32_t* tokens, size_t count, uint8_t* out) {
  size_t i = 0;
#if defined(__SSE2__)
  if constexpr (std::endian::native == std::endian::little) {
    // Four tokens at a time: swap the bytes of each 16-bit half, then the halves.
    for (; i + 4 <= count; i += 4) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tokens + i));
      v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
      v = _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xB1), 0xB1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i * sizeof(uint32_t)), v);
    }
  }
#endif
  for (; i < count; ++i) {
    uint32_t token = tokens[i];
    if constexpr (std::endian::native == std::endian::little) token = __builtin_bswap32(token);
    std::memcpy(out + i * sizeof(uint32_t), &token, sizeof(token));
  }
}

ChunkHash compute_seed() {
  const uint8_t zeros[12] = {};  // be_i64(0) || be_u32(0)
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, zeros, sizeof(zeros));
  ChunkHash seed;
  blake3_hasher_finalize(&hasher, seed.data(), seed.size());
  return seed;
}

}  // namespace

TokenChainHasher::TokenChainHasher(size_t chunk_size, size_t link_cache_bytes)
    : chunk_size_(chunk_size) {
  if (chunk_size == 0) throw std::invalid_argument("chunk size must be at least 1");
  if (link_cache_bytes > 0) {
    link_cache_ = std::make_unique<ChainLinkCache>(chunk_size, link_cache_bytes);
  }
}

TokenChainHasher::~TokenChainHasher() = default;

ChainLinkCache::Stats TokenChainHasher::link_cache_stats() const {
  return link_cache_ ? link_cache_->stats() : ChainLinkCache::Stats{};
}

const ChunkHash& TokenChainHasher::seed() {
  // Computed once, under the static's initialisation guard. This is also BLAKE3's first call, in
  // which its dispatcher caches the CPU features in a plain global: every later hash goes
  // through this guard first, so that write happens before every read.
  static const ChunkHash seed = compute_seed();
  return seed;
}

std::vector<ChunkHash> TokenChainHasher::chunk_hashes(std::span<const uint32_t> tokens) const {
  const size_t chunks = chunk_count(tokens.size());
  std::vector<ChunkHash> hashes(chunks);
  // The leading links the cache holds. After the first miss the rest are hashed without asking:
  // a later link can only be held if this one was too (both were inserted by one chain), unless
  // this one alone was replaced since.
  size_t cached = 0;
  if (link_cache_) {
    const ChunkHash* previous = &seed();
    while (cached < chunks &&
           link_cache_->find(*previous, tokens.subspan(cached * chunk_size_, chunk_size_),
                             hashes[cached])) {
      previous = &hashes[cached++];
    }
  }
  const ChunkHash& resumed_from = cached == 0 ? seed() : hashes[cached - 1];
  hash_links(resumed_from, tokens.subspan(cached * chunk_size_, (chunks - cached) * chunk_size_),
             std::span<ChunkHash>(hashes).subspan(cached));
  if (link_cache_ && cached < chunks) {
    // A prompt whose first link was not held keeps only that link: a prompt seen once costs one
    // insert, not one per chunk. Seen again, its first link is found and the rest is inserted.
    const size_t admitted = cached > 0 ? chunks - cached : 1;
    link_cache_->insert_chain(resumed_from,
                              tokens.subspan(cached * chunk_size_, admitted * chunk_size_),
                              std::span<const ChunkHash>(hashes).subspan(cached, admitted));
  }
  return hashes;
}

void TokenChainHasher::hash_links(const ChunkHash& first_previous, std::span<const uint32_t> tokens,
                                  std::span<ChunkHash> out) const {
  const ChunkHash* previous = &first_previous;
  // The previous digest, then the chunk's first tokens big-endian: one contiguous input.
  uint8_t staged[sizeof(ChunkHash) + kStagedTokens * sizeof(uint32_t)];
  blake3_hasher hasher;
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t* chunk = tokens.data() + i * chunk_size_;
    blake3_hasher_init(&hasher);
    std::memcpy(staged, previous->data(), sizeof(ChunkHash));
    size_t offset = sizeof(ChunkHash);  // where the next staged token goes
    for (size_t done = 0; done < chunk_size_;) {
      const size_t count = std::min(kStagedTokens, chunk_size_ - done);
      store_big_endian(chunk + done, count, staged + offset);
      blake3_hasher_update(&hasher, staged, offset + count * sizeof(uint32_t));
      done += count;
      offset = 0;
    }
    blake3_hasher_finalize(&hasher, out[i].data(), out[i].size());
    previous = &out[i];
  }
}

std::optional<std::vector<ObjectKey>> expand_object_keys(std::span<const ChunkHash> hashes,
                                                         std::string_view model_name,
                                                         int64_t world_size,
                                                         std::string_view cache_salt) {
  if (!is_valid_world_size(world_size)) return std::nullopt;
  std::vector<ObjectKey> keys;
  keys.reserve(hashes.size() * static_cast<size_t>(world_size));
  for_each_object_key(hashes, model_name, world_size, cache_salt,
                      [&](const ObjectKeyView& key) { keys.push_back(key.to_key()); });
  return keys;
}

}  // namespace lmcache::core
