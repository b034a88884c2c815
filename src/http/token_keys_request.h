// The `{model_name, world_size, token_ids, cache_salt}` fields shared by the v2 routes that name
// objects by tokens (pins, cache delete, prefetch, blend lookup), and their keys (Part B 2.9).
#pragma once

#include <cstddef>
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

// The four fields, validated.
struct TokenKeysRequest {
  std::string model_name;
  int64_t world_size = 1;
  std::vector<uint32_t> token_ids;
  std::string cache_salt;
};

// How the routes differ.
struct TokenKeysRules {
  std::optional<int64_t> default_world_size;  // nullopt: world_size is required
  bool non_empty_tokens = false;              // an empty token_ids is a `too_short` error
};

// Reads the four fields of `fields`: model_name (required, check_model_name), world_size
// (1..255), token_ids (required list of integers in [0, 2^32)), cache_salt (default "",
// check_cache_salt). Errors go to the reader's ValidationErrors (one per bad field or token, at
// its index); nullopt then. More than kMaxRequestTokens token_ids sets `too_many` to the 400
// answer and returns nullopt.
std::optional<TokenKeysRequest> read_token_keys_request(FieldReader& fields,
                                                        const TokenKeysRules& rules,
                                                        std::optional<HttpResponse>& too_many);

// The keys of a request's full chunks: `chunks` of them, each expanded over the world size
// (chunk-major, rank-minor), as an MP server computes them.
struct ResolvedKeys {
  size_t chunks = 0;
  std::vector<core::ObjectKey> keys;
};
ResolvedKeys resolve_object_keys(const core::TokenChainHasher& hasher,
                                 const TokenKeysRequest& request);

}  // namespace lmcache::http
