// The tokens form shared by the v2 routes that name keys by token_ids (pins, directory lookup):
// {model_name, world_size, token_ids, cache_salt}, resolved to keys by the BLAKE3 chunk chain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/object_key.h"
#include "core/token_chain_hasher.h"
#include "http/request_validation.h"
#include "http/route_request.h"

namespace lmcache::http {

// More token_ids than this is a 400, as upstream's cap.
inline constexpr size_t kMaxRequestTokens = 1'000'000;

struct TokenKeyRequest {
  std::string model_name;
  int64_t world_size = 1;
  std::vector<uint32_t> token_ids;
  std::string cache_salt;
};

// Reads the tokens form from `fields`: model_name (required), world_size 1..255 (required when
// `default_world_size` is nullopt), token_ids (required), cache_salt (default ""). Field errors go
// to fields.errors() (422; a token outside [0, 2^32) at its index); more than
// kMaxRequestTokens token_ids is returned as the 400 answer. `out` is complete only when nothing
// was returned and no error was added.
std::optional<HttpResponse> read_token_key_request(FieldReader& fields,
                                                   std::optional<int64_t> default_world_size,
                                                   TokenKeyRequest& out);

// The keys of a request: its full chunks hashed, expanded over the world size chunk-major and
// rank-minor.
struct ResolvedKeys {
  std::vector<core::ChunkHash> hashes;  // one per full chunk
  std::vector<core::ObjectKey> keys;    // hashes.size() * world_size
};
ResolvedKeys resolve_token_keys(const core::TokenChainHasher& hasher,
                                const TokenKeyRequest& request);

}  // namespace lmcache::http
