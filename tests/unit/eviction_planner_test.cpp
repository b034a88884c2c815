#include "core/eviction_planner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

using std::chrono::seconds;

ObjectKey key(uint32_t n, std::string salt = "") {
  std::string hash(32, '\x33');
  for (int i = 0; i < 4; ++i) hash[i] = static_cast<char>(n >> (8 * i));
  return ObjectKey{hash, "model", 0, 0, std::move(salt)};
}

std::vector<ObjectKey> victim_keys(const EvictionPlan& plan) {
  std::vector<ObjectKey> out;
  for (const auto& v : plan.victims) out.push_back(v.key);
  return out;
}

std::vector<ObjectKey> keys(uint32_t first, uint32_t last, const std::string& salt = "") {
  std::vector<ObjectKey> out;
  for (uint32_t n = first; n <= last; ++n) out.push_back(key(n, salt));
  return out;
}

EvictionConfig config(double ratio = 0.2, double watermark = 1.0, seconds retry = seconds(30)) {
  EvictionConfig c;
  c.eviction_ratio = ratio;
  c.trigger_watermark = watermark;
  c.retry_delay = retry;
  return c;
}

const SteadyTime kT0 = SteadyTime{} + seconds(5000);

// Explicit quotas with the seed-era default (0: a salt without a quota may keep nothing) unless
// another default is given.
QuotaLimits limits(QuotaMap explicit_limits, DefaultLimit default_limit = 0) {
  return QuotaLimits{std::move(explicit_limits), default_limit};
}

// Ten keys of 100 bytes each in salt `salt`, key 0 least recent.
void fill(UsageLedger& ledger, const std::string& salt, uint32_t count = 10) {
  for (uint32_t n = 0; n < count; ++n) ledger.apply_store(key(n, salt), 100, "inst-" + salt);
}

// Pinned keys are never victims: the walk passes over them and takes the next least recent.
TEST(EvictionPlannerTest, PinnedKeysAreSkippedInLruOrder) {
  UsageLedger ledger;
  fill(ledger, "t");
  PinnedKeys pinned;
  const PinCount pins[] = {{key(0, "t"), 1}, {key(2, "t"), 3}};
  pinned.apply(pins);
  const EvictionPlanner planner(config(0.3));
  const auto plan = planner.plan(ledger, limits({{"t", 999}}), kT0, &pinned);
  EXPECT_EQ(victim_keys(plan), (std::vector<ObjectKey>{key(1, "t"), key(3, "t"), key(4, "t")}));
  // The pinned keys stay tracked and in place: unpinned, key 0 is the next victim (a target of 4
  // with 3 in flight wants one more).
  const PinCount unpin[] = {{key(0, "t"), 0}};
  pinned.apply(unpin);
  const auto next =
      EvictionPlanner(config(0.4)).plan(ledger, limits({{"t", 999}}), kT0 + seconds(1), &pinned);
  EXPECT_EQ(victim_keys(next), (std::vector<ObjectKey>{key(0, "t")}));
}

TEST(EvictionPlannerTest, ASaltWithEveryKeyPinnedYieldsNoVictims) {
  UsageLedger ledger;
  fill(ledger, "t", 3);
  PinnedKeys pinned;
  std::vector<PinCount> pins;
  for (const ObjectKey& k : keys(0, 2, "t")) pins.push_back({k, 1});
  pinned.apply(pins);
  const auto plan = EvictionPlanner(config(1.0)).plan(ledger, limits({{"t", 0}}), kT0, &pinned);
  EXPECT_TRUE(plan.victims.empty());
  ASSERT_EQ(plan.salts.size(), 1u);
  EXPECT_EQ(plan.salts[0].chosen, 0u);
  EXPECT_EQ(ledger.lru_keys("t", 10), keys(0, 2, "t"));  // nothing moved in flight
}

TEST(EvictionPlannerTest, OverQuotaSaltGetsItsLruVictims) {
  UsageLedger ledger;
  fill(ledger, "t");
  ledger.apply_lookup(key(0, "t"));  // 0 becomes most recent: victims are 1 and 2
  const EvictionPlanner planner(config(0.2));
  const auto plan = planner.plan(ledger, limits({{"t", 999}}), kT0);
  EXPECT_EQ(victim_keys(plan), (std::vector<ObjectKey>{key(1, "t"), key(2, "t")}));
  EXPECT_EQ(plan.victims[0].owner, "inst-t");
  ASSERT_EQ(plan.salts.size(), 1u);
  EXPECT_EQ(plan.salts[0].cache_salt, "t");
  EXPECT_EQ(plan.salts[0].usage_bytes, 1000u);
  EXPECT_EQ(plan.salts[0].limit_bytes, 999u);
  EXPECT_EQ(plan.salts[0].target, 2u);
  EXPECT_EQ(plan.salts[0].chosen, 2u);
  // Planning does not change usage: only confirmed delete events do.
  EXPECT_EQ(ledger.usage_bytes("t"), 1000u);
  EXPECT_EQ(ledger.key_count("t"), 10u);
}

TEST(EvictionPlannerTest, UnderQuotaSaltIsLeftAlone) {
  UsageLedger ledger;
  fill(ledger, "t");
  const EvictionPlanner planner(config());
  EXPECT_TRUE(planner.plan(ledger, limits({{"t", 1001}}), kT0).victims.empty());
}

TEST(EvictionPlannerTest, WatermarkBoundaryIsInclusive) {
  UsageLedger ledger;
  fill(ledger, "t");  // 1000 bytes
  const EvictionPlanner planner(config(0.2, 0.5));
  EXPECT_TRUE(planner.plan(ledger, limits({{"t", 2001}}), kT0).victims.empty());   // 1000 < 1000.5
  EXPECT_EQ(planner.plan(ledger, limits({{"t", 2000}}), kT0).victims.size(), 2u);  // 1000 >= 1000
  UsageLedger exact;
  fill(exact, "t");
  const EvictionPlanner full(config(0.2, 1.0));
  EXPECT_EQ(full.plan(exact, limits({{"t", 1000}}), kT0).victims.size(), 2u);  // usage == limit
}

TEST(EvictionPlannerTest, SaltWithoutQuotaOrZeroLimitLosesEverything) {
  UsageLedger ledger;
  fill(ledger, "noquota", 4);
  fill(ledger, "zero", 3);
  fill(ledger, "ok", 3);
  const EvictionPlanner planner(config(0.2));
  const auto plan = planner.plan(ledger, limits({{"zero", 0}, {"ok", 1 << 20}}), kT0);
  std::vector<ObjectKey> expected = keys(0, 3, "noquota");
  for (const auto& k : keys(0, 2, "zero")) expected.push_back(k);
  EXPECT_EQ(victim_keys(plan), expected);
}

TEST(EvictionPlannerTest, NoDefaultLeavesSaltsWithoutAQuotaAlone) {
  UsageLedger ledger;
  fill(ledger, "noquota", 4);
  fill(ledger, "zero", 3);
  fill(ledger, "ok", 3);
  const EvictionPlanner planner(config(0.2));
  const auto plan = planner.plan(ledger, limits({{"zero", 0}, {"ok", 1 << 20}}, std::nullopt), kT0);
  // An explicit quota still applies (0 evicts everything); the unquota'd salt is exempt.
  EXPECT_EQ(victim_keys(plan), keys(0, 2, "zero"));
  ASSERT_EQ(plan.salts.size(), 1u);
  EXPECT_EQ(plan.salts[0].cache_salt, "zero");
  EXPECT_EQ(ledger.lru_keys("noquota", 10), keys(0, 3, "noquota"));
}

TEST(EvictionPlannerTest, NumericDefaultIsTheLimitOfSaltsWithoutAQuota) {
  UsageLedger ledger;
  fill(ledger, "under", 3);  // 300 bytes
  fill(ledger, "over");      // 1000 bytes
  fill(ledger, "pinned");    // 1000 bytes, explicit quota above usage
  const EvictionPlanner planner(config(0.2));
  const auto plan = planner.plan(ledger, limits({{"pinned", 5000}}, 500), kT0);
  // "over" is over the 500-byte default: the eviction ratio applies (not 1.0 as for limit 0).
  EXPECT_EQ(victim_keys(plan), keys(0, 1, "over"));
  ASSERT_EQ(plan.salts.size(), 1u);
  EXPECT_EQ(plan.salts[0].limit_bytes, 500u);
  EXPECT_EQ(plan.salts[0].target, 2u);
}

TEST(EvictionPlannerTest, ExplicitQuotaWinsOverTheDefault) {
  UsageLedger ledger;
  fill(ledger, "t");  // 1000 bytes
  const EvictionPlanner planner(config(0.2));
  // A generous default does not rescue a salt whose own quota it exceeds, and a strict default
  // does not touch a salt whose own quota it is within.
  EXPECT_EQ(planner.plan(ledger, limits({{"t", 999}}, 1 << 20), kT0).victims.size(), 2u);
  UsageLedger second;
  fill(second, "t");
  EXPECT_TRUE(planner.plan(second, limits({{"t", 1001}}, 0), kT0).victims.empty());
  EXPECT_TRUE(planner.plan(second, limits({{"t", 1001}}, std::nullopt), kT0).victims.empty());
}

TEST(EvictionPlannerTest, AtLeastOneVictimAndKeysNotBytesAreCounted) {
  UsageLedger ledger;
  ledger.apply_store(key(0, "t"), 1'000'000, "");  // one huge key
  for (uint32_t n = 1; n < 4; ++n) ledger.apply_store(key(n, "t"), 1, "");
  const EvictionPlanner planner(config(0.2));
  // floor(4 * 0.2) = 0 -> max(1, 0) = 1 key, however many bytes it frees.
  EXPECT_EQ(victim_keys(planner.plan(ledger, limits({{"t", 10}}), kT0)), keys(0, 0, "t"));
}

TEST(EvictionPlannerTest, ZeroByteSaltIsNotEvicted) {
  UsageLedger ledger;
  ledger.apply_store(key(0, "t"), 0, "");
  const EvictionPlanner planner(config());
  EXPECT_TRUE(planner.plan(ledger, limits({}), kT0).victims.empty());
}

TEST(EvictionPlannerTest, InFlightKeysAreNotReSentUntilTheRetryDelay) {
  UsageLedger ledger;
  fill(ledger, "t");
  const EvictionPlanner planner(config(0.2, 1.0, seconds(30)));
  const QuotaLimits quotas = limits({{"t", 500}});
  EXPECT_EQ(victim_keys(planner.plan(ledger, quotas, kT0)), keys(0, 1, "t"));
  // Unconfirmed, within the retry delay: the target (2) is already being evicted.
  for (int s : {5, 10, 29}) {
    const auto plan = planner.plan(ledger, quotas, kT0 + seconds(s));
    EXPECT_TRUE(plan.victims.empty()) << s;
    EXPECT_EQ(plan.salts.at(0).in_flight, 2u);
  }
  // The retry delay passed: the same keys are sent again.
  const auto again = planner.plan(ledger, quotas, kT0 + seconds(30));
  EXPECT_EQ(again.expired, 2u);
  EXPECT_EQ(victim_keys(again), keys(0, 1, "t"));
}

TEST(EvictionPlannerTest, ConfirmedDeletesLetTheNextSweepContinue) {
  UsageLedger ledger;
  fill(ledger, "t");
  const EvictionPlanner planner(config(0.2));
  const QuotaLimits quotas = limits({{"t", 500}});
  planner.plan(ledger, quotas, kT0);
  ledger.apply_delete(key(0, "t"));  // one of two confirmed
  // 9 keys: target floor(1.8) = 1, one still in flight -> nothing new.
  EXPECT_TRUE(planner.plan(ledger, quotas, kT0 + seconds(5)).victims.empty());
  ledger.apply_delete(key(1, "t"));
  // 8 keys, 800 bytes: target 1, none in flight -> key 2.
  EXPECT_EQ(victim_keys(planner.plan(ledger, quotas, kT0 + seconds(10))), keys(2, 2, "t"));
}

TEST(EvictionPlannerTest, ReleasedKeysAreChosenAgainAtOnce) {
  UsageLedger ledger;
  fill(ledger, "t");
  const EvictionPlanner planner(config(0.2));
  const QuotaLimits quotas = limits({{"t", 500}});
  const auto first = planner.plan(ledger, quotas, kT0);
  // Dispatch failed.
  EXPECT_EQ(ledger.release_in_flight(victim_keys(first)), 2u);
  const auto second = planner.plan(ledger, quotas, kT0 + seconds(1));
  EXPECT_EQ(victim_keys(second), keys(0, 1, "t"));
  // Releasing the victims themselves (as the dispatcher holds them) works the same way.
  EXPECT_EQ(ledger.release_in_flight(second.victims), 2u);
  EXPECT_EQ(ledger.lru_keys("t", 3), keys(0, 2, "t"));
}

TEST(EvictionPlannerTest, LookedUpInFlightKeyIsNoLongerAVictim) {
  UsageLedger ledger;
  fill(ledger, "t");
  const EvictionPlanner planner(config(0.2));
  const QuotaLimits quotas = limits({{"t", 500}});
  planner.plan(ledger, quotas, kT0);  // 0 and 1 in flight
  ledger.apply_lookup(key(0, "t"));   // 0 is in use again: out of flight, most recent
  EXPECT_EQ(victim_keys(planner.plan(ledger, quotas, kT0 + seconds(1))), keys(2, 2, "t"));
}

TEST(EvictionPlannerTest, SaltsAreIndependentAndOwnersReported) {
  UsageLedger ledger;
  fill(ledger, "a");
  fill(ledger, "b");
  ledger.apply_store(key(0, "b"), 100, "other");  // re-store by another instance
  const EvictionPlanner planner(config(0.3));
  const auto plan = planner.plan(ledger, limits({{"a", 10'000}, {"b", 1}}), kT0);
  EXPECT_EQ(victim_keys(plan), keys(1, 3, "b"));
  EXPECT_EQ(plan.victims[0].owner, "inst-b");
  // With everything evicted, the re-stored key reports its new owner.
  const auto all =
      EvictionPlanner(config(1.0)).plan(ledger, limits({{"a", 10'000}, {"b", 1}}), kT0);
  ASSERT_EQ(all.victims.size(), 7u);
  EXPECT_EQ(all.victims.back().key, key(0, "b"));
  EXPECT_EQ(all.victims.back().owner, "other");
}

TEST(EvictionPlannerTest, RetryDelayFollowsTheCheckInterval) {
  EXPECT_EQ(EvictionConfig::retry_delay_for(5), seconds(30));
  EXPECT_EQ(EvictionConfig::retry_delay_for(0), seconds(30));
  EXPECT_EQ(EvictionConfig::retry_delay_for(20), seconds(60));
}

TEST(EvictionPlannerTest, PlanningCostIsProportionalToVictims) {
  // 200k keys in one salt; repeated sweeps with many keys in flight must not rescan them. We
  // check this structurally: in-flight keys are off the LRU list, so the LRU list shrinks.
  UsageLedger ledger;
  for (uint32_t n = 0; n < 200'000; ++n) ledger.apply_store(key(n, "big"), 1, "");
  const EvictionPlanner planner(config(0.5));
  const QuotaLimits quotas = limits({{"big", 1}});
  EXPECT_EQ(planner.plan(ledger, quotas, kT0).victims.size(), 100'000u);
  EXPECT_EQ(ledger.lru_keys("big", 1'000'000).size(), 100'000u);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 100; ++i) {
    EXPECT_TRUE(planner.plan(ledger, quotas, kT0 + seconds(i % 20)).victims.empty());
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // 100 sweeps that each scanned 100k in-flight keys would take far longer than this.
  EXPECT_LT(elapsed, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace lmcache::core
