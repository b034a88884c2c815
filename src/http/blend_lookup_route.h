#pragma once

#include <cstddef>
#include <functional>

#include "core/blend_index.h"
#include "http/router.h"

namespace lmcache::http {

// Told the number of matches of every answered lookup (for metrics).
using BlendLookupObserver = std::function<void(size_t matches)>;

// POST /directory/blend-lookup (protocol-v2.md Part B 2.4), body {token_ids (non-empty, each in
// [0, 2^32)), model_name, world_size 1..255 (default 1), cache_salt ""}: the chunks stored under
// that namespace (fed from POST /events by core::BlendFeed) that occur anywhere in token_ids, as
// 200 {"matches":[{"chunk_hash": hex, "old_st", "cur_st"}]}, ascending cur_st, at most one per
// chunk, with the index's guarantees (full recall, matches of equal content only). 400 over
// 1,000,000 tokens, 422 for an invalid field.
void add_blend_lookup_route(Router& router, const core::BlendIndex& index,
                            BlendLookupObserver observe = {});

}  // namespace lmcache::http
