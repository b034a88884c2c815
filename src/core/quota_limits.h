// QuotaLimits: what the eviction rules read from the quota table, taken as one snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace lmcache::core {

// Quota limits in bytes by cache salt, sorted by salt.
using QuotaMap = std::map<std::string, uint64_t, std::less<>>;

// The limit of salts without an explicit quota: a byte count, or nullopt when such salts are
// exempt (never evicted). 0 is the seed-era allowlist: everything they store is evicted.
using DefaultLimit = std::optional<uint64_t>;

// Explicit per-salt quotas plus the default for every other salt.
struct QuotaLimits {
  QuotaMap explicit_limits;
  DefaultLimit default_limit = 0;

  // The limit that applies to `cache_salt`: its explicit quota if it has one, else the default
  // (nullopt: the salt is exempt).
  std::optional<uint64_t> effective_limit(std::string_view cache_salt) const {
    auto it = explicit_limits.find(cache_salt);
    if (it != explicit_limits.end()) return it->second;
    return default_limit;
  }
};

}  // namespace lmcache::core
