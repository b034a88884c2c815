// TokenChainHasher: how the v2 dialect turns `token_ids` into object keys (protocol-v2.md, Part B
// section 2.9), for lookup, pins, delete and prefetch by tokens.
//
// Promise: the chunk hashes and keys are exactly those an LMCache MP server computes for the same
// tokens with its default `blake3` algorithm (TokenHasher.compute_chunk_hashes, then
// ipc_key_to_object_keys), so a key computed here names the object that server stored:
//   h_0     = BLAKE3(12 zero bytes)   (upstream's seed tuple (0, (0,), None), packed)
//   h_{i+1} = BLAKE3(h_i as 32 raw bytes || the C tokens of chunk i, each a big-endian u32)
// and the hash of chunk i is h_{i+1}. Only full chunks count: a trailing partial chunk has no
// hash and no key. Each chunk then gives one key per worker of the world (chunk-major,
// rank-minor), with kv_rank = (ws << 24) | (w << 16) | (ws << 8) | w and object_group_id 0.
//
// Tokens are uint32 here: rejecting values outside [0, 2^32) (with the index at fault) is the
// caller's job. BLAKE3 is the official C implementation (cmake/Blake3.cmake), which picks its
// SIMD code at run time.

#ifndef LMCACHE_CORE_TOKEN_CHAIN_HASHER_H_
#define LMCACHE_CORE_TOKEN_CHAIN_HASHER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/chain_link_cache.h"
#include "core/object_key.h"

namespace lmcache::core {

// One chunk hash: a 32-byte BLAKE3 digest.
using ChunkHash = std::array<uint8_t, 32>;

// Computes the chunk hashes of token sequences for one chunk size. Safe to share across threads.
class TokenChainHasher {
 public:
  // `chunk_size` (C, `--chunk-size`, upstream's default 256) must be >= 1; 0 throws
  // std::invalid_argument. It must equal the MP servers' value, or no key will match.
  // With `link_cache_bytes` above 0, links are kept in a ChainLinkCache of that size and a
  // prefix hashed before is read from it (the digests are the same either way). Admission: a
  // request whose first chunk's link is not held leaves only that link; a request that found
  // its first link leaves every link it hashed. So a prompt is cached from its second request on,
  // and one seen only once costs a single insert.
  explicit TokenChainHasher(size_t chunk_size, size_t link_cache_bytes = 0);
  ~TokenChainHasher();
  TokenChainHasher(const TokenChainHasher&) = delete;
  TokenChainHasher& operator=(const TokenChainHasher&) = delete;

  size_t chunk_size() const { return chunk_size_; }

  // The number of full chunks in `token_count` tokens: the length of chunk_hashes().
  size_t chunk_count(size_t token_count) const { return token_count / chunk_size_; }

  // The hashes of the full chunks of `tokens`, in order (empty when there are fewer than C
  // tokens). One allocation (the result); no allocation per chunk.
  std::vector<ChunkHash> chunk_hashes(std::span<const uint32_t> tokens) const;

  // h_0 = BLAKE3 of 12 zero bytes, the digest the chain starts from.
  static const ChunkHash& seed();

  // The link cache's counters; all zero without one.
  ChainLinkCache::Stats link_cache_stats() const;

 private:
  // Hashes out.size() consecutive links from `first_previous`: out[i] is the digest of the chunk
  // tokens[i*C, (i+1)*C) after out[i - 1] (after `first_previous` for i = 0).
  void hash_links(const ChunkHash& first_previous, std::span<const uint32_t> tokens,
                  std::span<ChunkHash> out) const;

  size_t chunk_size_;                           // tokens per chunk (C), >= 1
  std::unique_ptr<ChainLinkCache> link_cache_;  // null when off; thread-safe itself
};

// World sizes the kv_rank packing can express: 8 bits per field.
inline constexpr int64_t kMaxWorldSize = 255;

// True when 1 <= world_size <= 255. Outside that range there are no keys: the caller reports it
// (the HTTP layer answers 422 naming `world_size`).
constexpr bool is_valid_world_size(int64_t world_size) {
  return world_size >= 1 && world_size <= kMaxWorldSize;
}

// The kv_rank of worker `worker` in a world of `world_size`, as upstream packs it:
// (ws << 24) | (w << 16) | (ws << 8) | w. Requires a valid world size and worker < world_size.
// E.g. world size 2, worker 1: 0x02010201.
constexpr uint32_t pack_kv_rank(uint32_t world_size, uint32_t worker) {
  return (world_size << 24) | (worker << 16) | (world_size << 8) | worker;
}

// Calls visit(const ObjectKeyView&) for every key of `hashes`: for each chunk in order, for each
// worker 0..world_size-1. The views point into `hashes`, `model_name` and `cache_salt`, and are
// valid only during the call. Returns false, visiting nothing, when the world size is invalid.
//
// From world size 128 up the packed rank exceeds INT32_MAX: the key holds it as the int32 with the
// same bits (kv_rank_from_wire), and the wire codec sends it back as the unsigned value upstream
// computes (kv_rank_to_wire in object_key.h).
template <typename Visit>
bool for_each_object_key(std::span<const ChunkHash> hashes, std::string_view model_name,
                         int64_t world_size, std::string_view cache_salt, Visit&& visit) {
  if (!is_valid_world_size(world_size)) return false;
  const auto ws = static_cast<uint32_t>(world_size);
  for (const ChunkHash& hash : hashes) {
    const std::string_view hash_bytes(reinterpret_cast<const char*>(hash.data()), hash.size());
    for (uint32_t worker = 0; worker < ws; ++worker) {
      visit(ObjectKeyView(hash_bytes, model_name, kv_rank_from_wire(pack_kv_rank(ws, worker)), 0,
                          cache_salt));
    }
  }
  return true;
}

// The same keys as owning ObjectKeys, hashes.size() * world_size of them; nullopt when the world
// size is invalid.
std::optional<std::vector<ObjectKey>> expand_object_keys(std::span<const ChunkHash> hashes,
                                                         std::string_view model_name,
                                                         int64_t world_size,
                                                         std::string_view cache_salt);

}  // namespace lmcache::core

#endif  // LMCACHE_CORE_TOKEN_CHAIN_HASHER_H_
