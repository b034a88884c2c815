#pragma once

#include "core/pins.h"
#include "core/token_chain_hasher.h"
#include "http/router.h"

namespace lmcache::http {

// The v2 pin routes (protocol-v2.md Part A 7, Part B 2.5):
// - POST and DELETE /cache/pins, body {model_name, world_size 1..255, token_ids, cache_salt ""}:
//   the keys of the full chunks of token_ids (hashed here with `hasher`, expanded over the world
//   size) are pinned or unpinned once each. Answer {requested: chunks, affected: keys whose count
//   changed, status: "pinned" | "unpinned"}. 400 over 1,000,000 token_ids; 422 for an invalid
//   field (a token outside [0, 2^32) at its index); 503 when the state file refuses the write.
// - GET /cache/pins: {total: pinned keys, pins: [{key: EncodedObjectKey, pin_count}]}, in
//   PinnedKeys::sorted() order.
void add_pin_routes(Router& router, core::Pins& pins, const core::TokenChainHasher& hasher);

}  // namespace lmcache::http
