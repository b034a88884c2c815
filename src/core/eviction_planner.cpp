#include "core/eviction_planner.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace lmcache::core {

std::chrono::steady_clock::duration EvictionConfig::retry_delay_for(double check_interval_seconds) {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(3.0 * std::max(check_interval_seconds, 0.0)));
  return std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(30), interval);
}

EvictionPlan EvictionPlanner::plan(UsageLedger& ledger, const QuotaLimits& limits, SteadyTime now,
                                   const PinnedKeys* pinned) const {
  EvictionPlan plan;
  std::vector<SaltUsage> salts = ledger.salts_with_usage();
  std::sort(salts.begin(), salts.end(),
            [](const SaltUsage& a, const SaltUsage& b) { return a.cache_salt < b.cache_salt; });
  const SteadyTime until = now + config_.retry_delay;

  // First the targets (cheap), then the victims into one reserved vector.
  struct Pending {
    const SaltUsage* usage;
    uint64_t limit;
    uint64_t target;
    uint64_t in_flight;
    uint64_t wanted;
  };
  std::vector<Pending> pending;
  uint64_t total_wanted = 0;
  for (const SaltUsage& salt : salts) {
    const size_t expired = ledger.expire_in_flight(salt.cache_salt, now);
    plan.expired += expired;
    if (salt.bytes == 0) continue;

    const std::optional<uint64_t> effective = limits.effective_limit(salt.cache_salt);
    if (!effective) continue;  // exempt: no quota and no default
    const uint64_t limit = *effective;
    const bool over =
        static_cast<double>(salt.bytes) >= config_.trigger_watermark * static_cast<double>(limit);
    if (!over) continue;

    const double ratio = limit == 0 ? 1.0 : config_.eviction_ratio;
    const auto share = static_cast<uint64_t>(std::floor(static_cast<double>(salt.keys) * ratio));
    const uint64_t target = std::min(salt.keys, std::max<uint64_t>(1, share));
    const uint64_t in_flight = salt.in_flight - expired;
    const uint64_t wanted = target > in_flight ? target - in_flight : 0;
    pending.push_back({&salt, limit, target, in_flight, wanted});
    total_wanted += wanted;
  }

  plan.victims.reserve(total_wanted);
  for (const Pending& p : pending) {
    const size_t chosen = p.wanted == 0 ? 0
                                        : ledger.take_victims(p.usage->cache_salt, p.wanted, until,
                                                              plan.victims, pinned);
    plan.salts.push_back({p.usage->cache_salt, p.usage->bytes, p.limit, p.usage->keys, p.target,
                          p.in_flight, chosen});
  }
  return plan;
}

}  // namespace lmcache::core
