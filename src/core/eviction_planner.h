// EvictionPlanner: chooses L2 quota-eviction victims. Pure planning: no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/object_key.h"
#include "core/pinned_keys.h"
#include "core/quota_limits.h"
#include "core/usage_ledger.h"

namespace lmcache::core {

// The eviction rules' parameters (spec section 5).
struct EvictionConfig {
  double eviction_ratio = 0.2;     // share of an over salt's keys to evict per sweep, 0..1
  double trigger_watermark = 1.0;  // a salt is over when usage >= watermark * limit, (0, 1]
  // How long a key sent for deletion is not sent again while its delete is unconfirmed.
  std::chrono::steady_clock::duration retry_delay = std::chrono::seconds(30);

  // The spec's retry delay: max(30 s, 3 x the eviction check interval).
  static std::chrono::steady_clock::duration retry_delay_for(double check_interval_seconds);
};

// What a sweep decided for one over-quota salt (for logs and metrics).
struct SaltEviction {
  std::string cache_salt;
  uint64_t usage_bytes = 0;
  uint64_t limit_bytes = 0;
  uint64_t keys = 0;       // keys tracked, in flight included
  uint64_t target = 0;     // max(1, floor(keys * ratio)) keys being evicted after this sweep
  uint64_t in_flight = 0;  // keys already in flight (not expired) before this sweep
  uint64_t chosen = 0;     // keys newly chosen by this sweep
};

// The victims of one sweep, least recent first within each salt, salts in name order.
struct EvictionPlan {
  std::vector<TrackedKey> victims;  // key + owner instance ("" when unknown)
  std::vector<SaltEviction> salts;  // one entry per over-quota salt
  size_t expired = 0;               // in-flight keys whose retry delay passed (eligible again)
};

// Applies the eviction rules to the ledger:
// 1. For each salt with tracked keys, in-flight keys whose retry delay has passed go back to
//    the LRU end (they are eligible again and, being least recent, are re-sent first).
// 2. A salt with usage > 0 is over when usage >= trigger_watermark * limit. The limit is its
//    quota; a salt without one has the default limit (QuotaLimits::effective_limit): with a
//    0 default (allowlist) everything it stores is evicted, with none it is never a victim.
// 3. An over salt's target is max(1, floor(keys * ratio)) keys (ratio 1.0 when limit is 0).
//    Keys already in flight count towards the target: they are being evicted. Only the rest,
//    target - in_flight, is newly taken from the LRU end and marked in flight until
//    now + retry_delay. Without this, a sweep every 5 s with a 30 s retry delay would send six
//    disjoint victim sets before the first delete is confirmed, over-evicting the salt.
// 4. Pinned keys are never victims: the LRU walk passes over them (they still count in the
//    salt's keys and usage).
// Keys in flight are kept off the LRU list (see UsageLedger), so a sweep costs
// O(salts + expired + victims), never O(keys tracked), plus the pinned keys passed over in the
// over salts' LRU ends (UsageLedger::take_victims).
//
// Stateless apart from its configuration; the in-flight state lives in the ledger, so the caller
// holds the ledger's lock while planning.
class EvictionPlanner {
 public:
  explicit EvictionPlanner(EvictionConfig config) : config_(config) {}

  // Plans one sweep at `now` and marks the chosen victims in flight. Keys in `pinned` (when
  // given) are not chosen.
  EvictionPlan plan(UsageLedger& ledger, const QuotaLimits& limits, SteadyTime now,
                    const PinnedKeys* pinned = nullptr) const;

  const EvictionConfig& config() const { return config_; }

 private:
  EvictionConfig config_;
};

}  // namespace lmcache::core
