#include "core/token_chain_hasher.h"

#include <blake3.h>

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

void store_big_endian(uint32_t token, uint8_t* out) {
  if constexpr (std::endian::native == std::endian::little) token = __builtin_bswap32(token);
  std::memcpy(out, &token, sizeof(token));
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

TokenChainHasher::TokenChainHasher(size_t chunk_size) : chunk_size_(chunk_size) {
  if (chunk_size == 0) throw std::invalid_argument("chunk size must be at least 1");
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
  const ChunkHash* previous = &seed();
  // The previous digest, then the chunk's first tokens big-endian: one contiguous input.
  uint8_t staged[sizeof(ChunkHash) + kStagedTokens * sizeof(uint32_t)];
  blake3_hasher hasher;
  for (size_t i = 0; i < chunks; ++i) {
    const uint32_t* chunk = tokens.data() + i * chunk_size_;
    blake3_hasher_init(&hasher);
    std::memcpy(staged, previous->data(), sizeof(ChunkHash));
    size_t offset = sizeof(ChunkHash);  // where the next staged token goes
    for (size_t done = 0; done < chunk_size_;) {
      const size_t count = std::min(kStagedTokens, chunk_size_ - done);
      for (size_t j = 0; j < count; ++j) {
        store_big_endian(chunk[done + j], staged + offset + j * sizeof(uint32_t));
      }
      blake3_hasher_update(&hasher, staged, offset + count * sizeof(uint32_t));
      done += count;
      offset = 0;
    }
    blake3_hasher_finalize(&hasher, hashes[i].data(), hashes[i].size());
    previous = &hashes[i];
  }
  return hashes;
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
