// CacheDeletePlan: which keys `POST /cache/delete` sends to the MP server, given the pins.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "core/object_key.h"
#include "core/pinned_keys.h"

namespace lmcache::core {

// The tiers a delete may name: the MP server's `tier` field.
enum class DeleteTier { kL1, kL2, kAll };

// "l1", "l2", "all" -> the tier; nullopt for anything else.
std::optional<DeleteTier> parse_delete_tier(std::string_view name);
std::string_view delete_tier_name(DeleteTier tier);

// What to do for one delete request.
struct CacheDeletePlan {
  std::vector<ObjectKey> send;   // the keys to send, in request order
  size_t pinned_skipped = 0;     // pinned keys left out (not forced)
  std::vector<ObjectKey> unpin;  // pinned keys to unpin once the forced delete succeeded
};

// Pins protect L2 objects only (eviction is L2). So when the delete touches L2 (tier l2 or all):
// without `force` every pinned key is left out and counted in pinned_skipped; with `force` every
// key is sent and the pinned ones are listed in `unpin` (their pins would name deleted objects).
// A delete of L1 alone sends every key and leaves the pins alone.
CacheDeletePlan plan_cache_delete(std::vector<ObjectKey> keys, DeleteTier tier, bool force,
                                  const PinnedKeys& pinned);

}  // namespace lmcache::core
