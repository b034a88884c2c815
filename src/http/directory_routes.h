#pragma once

#include "core/blend_index.h"
#include "core/l2_accounting.h"
#include "core/token_chain_hasher.h"
#include "http/router.h"

namespace lmcache::http {

// The v2 key directory routes (protocol-v2.md Part A 3-4, Part B 2.4):
// - POST /directory/lookup, body exactly one of {keys: [EncodedObjectKey]} or the tokens form
//   {token_ids, model_name, world_size 1..255 (default 1), cache_salt ""} (hashed with `hasher`).
//   Answer {chunks, results: [{key, placements, token_ids}]} in request order (tokens form:
//   chunk-major, rank-minor); placements sorted by (instance_id, tier, backend); token_ids from
//   the binding of the key's chunk hash ([] when none). 422 for neither or both forms, a missing
//   model_name, a token outside [0, 2^32) (at its index); 400 for an invalid key or over
//   1,000,000 token_ids.
// - GET /directory/keys?tier=l1|l2|all&instance_id=&backend=&offset>=0&limit=1..10000:
//   {total, keys: [{key, placements (the matching ones), num_tokens}]}; 422 for a bad parameter.
// - GET /directory/stats: {num_keys, num_placements, l1_keys_by_instance: {id: n},
//   blend: {num_contents, num_chunks, num_claims, num_namespaces, table_size}}.
void add_directory_routes(Router& router, const core::L2Accounting& l2,
                          const core::BlendIndex& blend, const core::TokenChainHasher& hasher);

}  // namespace lmcache::http
