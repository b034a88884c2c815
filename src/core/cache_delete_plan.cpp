#include "core/cache_delete_plan.h"

#include <utility>

namespace lmcache::core {

std::optional<DeleteTier> parse_delete_tier(std::string_view name) {
  if (name == "l1") return DeleteTier::kL1;
  if (name == "l2") return DeleteTier::kL2;
  if (name == "all") return DeleteTier::kAll;
  return std::nullopt;
}

std::string_view delete_tier_name(DeleteTier tier) {
  switch (tier) {
    case DeleteTier::kL1:
      return "l1";
    case DeleteTier::kL2:
      return "l2";
    case DeleteTier::kAll:
      return "all";
  }
  return "all";
}

CacheDeletePlan plan_cache_delete(std::vector<ObjectKey> keys, DeleteTier tier, bool force,
                                  const PinnedKeys& pinned) {
  CacheDeletePlan plan;
  if (tier == DeleteTier::kL1 || pinned.empty()) {
    plan.send = std::move(keys);
    return plan;
  }
  plan.send.reserve(keys.size());
  for (ObjectKey& key : keys) {
    if (!pinned.contains(key)) {
      plan.send.push_back(std::move(key));
    } else if (force) {
      plan.unpin.push_back(key);
      plan.send.push_back(std::move(key));
    } else {
      ++plan.pinned_skipped;
    }
  }
  return plan;
}

}  // namespace lmcache::core
