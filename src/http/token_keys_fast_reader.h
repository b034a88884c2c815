// The fast reader of a token keys body (`{model_name, world_size, token_ids, cache_salt}`):
// straight from the text to a TokenKeysRequest, without a JSON tree, for bodies that are plainly
// valid. A 32,768-token `/directory/lookup` is ~200 KB of digits; the tree path spends most of a
// lookup's CPU building and walking a node per token.
#pragma once

#include <optional>
#include <string_view>

#include "http/token_keys_request.h"

namespace lmcache::http {

// Reads `body` when it is one JSON object whose members are among model_name, world_size,
// cache_salt and token_ids, each at most once, with
//   - model_name and cache_salt printable ASCII strings without escapes that pass
//     check_model_name / check_cache_salt,
//   - world_size an integer 1..255 (without sign, fraction or exponent),
//   - token_ids a list of at most kMaxRequestTokens integers in [0, 2^32) written in plain
//     decimal,
// and `rules` met (a required world_size present, a non-empty token list when asked for).
// White space may surround every token.
//
// Promise: whatever this accepts, read_token_keys_request over the parsed tree accepts with the
// same fields. Anything else (another member, null, escapes, non-ASCII, numbers in other forms,
// malformed JSON, every error) gives nullopt, and the caller takes the tree path, which answers
// it as before.
std::optional<TokenKeysRequest> read_token_keys_fast(std::string_view body,
                                                     const TokenKeysRules& rules);

}  // namespace lmcache::http
