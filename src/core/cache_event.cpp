#include "core/cache_event.h"

namespace lmcache::core {

std::string_view cache_event_type_name(CacheEventType type) {
  switch (type) {
    case CacheEventType::kStore:
      return "store";
    case CacheEventType::kDelete:
      return "delete";
    case CacheEventType::kAccess:
      return "access";
    case CacheEventType::kConfig:
      return "config";
  }
  return "?";
}

std::string_view cache_tier_name(CacheTier tier) { return tier == CacheTier::kL1 ? "l1" : "l2"; }

}  // namespace lmcache::core
