#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/instance_registry.h"
#include "core/object_key.h"
#include "core/pins.h"
#include "core/token_chain_hasher.h"
#include "http/router.h"

namespace lmcache::http {

// What an MP server did with a forwarded DELETE /cache/objects (all its requests together).
struct ObjectDeleteReply {
  bool ok = false;    // false: unreachable, non-2xx, "ok": false or not an answer
  std::string error;  // why, when not ok
  uint64_t deleted = 0;
  uint64_t skipped = 0;
};

// Sends keys to an instance's DELETE /cache/objects {keys, tier, force} (in as many requests as
// its size limit needs) and calls back once. Provided by the app (it wraps the outbound client).
using ObjectDeleter =
    std::function<void(const core::InstanceRecord&, std::vector<core::ObjectKey>, std::string tier,
                       bool force, std::function<void(ObjectDeleteReply)>)>;

// Told how each delete ended ("deleted", "noop", "failed") and the keys the node deleted, it
// skipped and the pins kept out. For metrics.
struct CacheDeleteStats {
  std::string_view outcome;
  uint64_t deleted = 0;
  uint64_t node_skipped = 0;
  uint64_t pinned_skipped = 0;
};
using CacheDeleteObserver = std::function<void(const CacheDeleteStats&)>;

// POST /cache/delete (protocol-v2.md Part B 2.5), body {instance_id, model_name, world_size
// 1..255, token_ids, cache_salt "", tier "all" (l1 | l2 | all), force false}:
// - the keys of the full chunks of token_ids, hashed here (as pins are), expanded over the world
//   size;
// - when the tier touches L2 and force is false, pinned keys are left out (counted in skipped);
//   with force they are sent and, once the server answered, unpinned;
// - the rest go to that instance's DELETE /cache/objects {keys, tier, force}.
// Answer 200 {instance_id, requested: chunks, affected: the node's deleted, skipped: the node's
// skipped plus the pinned keys left out, status: "deleted" | "noop" (nothing to send: no
// request is made)}. 404 for an unregistered instance, 400 over 1,000,000 token_ids, 422 for an
// invalid field, 502 when the node is unreachable, answers non-2xx, "ok": false or no answer.
void add_cache_delete_route(Router& router, core::InstanceRegistry& registry, core::Pins& pins,
                            const core::TokenChainHasher& hasher, ObjectDeleter deleter,
                            CacheDeleteObserver observe = {});

}  // namespace lmcache::http
