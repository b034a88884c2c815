#include "core/cache_delete_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lmcache::core {
namespace {

ObjectKey key(char c) { return ObjectKey{std::string(32, c), "m", 0, 0, ""}; }

class CacheDeletePlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<PinCount> counts = {{key('b'), 2}, {key('d'), 1}};
    pinned_.apply(counts);
  }
  std::vector<ObjectKey> keys() const { return {key('a'), key('b'), key('c'), key('d')}; }
  PinnedKeys pinned_;
};

TEST_F(CacheDeletePlanTest, L2WithoutForceLeavesPinnedKeysOutAndCountsThem) {
  for (DeleteTier tier : {DeleteTier::kL2, DeleteTier::kAll}) {
    const CacheDeletePlan plan = plan_cache_delete(keys(), tier, false, pinned_);
    EXPECT_EQ(plan.send, (std::vector<ObjectKey>{key('a'), key('c')}));
    EXPECT_EQ(plan.pinned_skipped, 2u);
    EXPECT_TRUE(plan.unpin.empty());
  }
}

TEST_F(CacheDeletePlanTest, ForceSendsEveryKeyAndUnpinsThePinnedOnes) {
  const CacheDeletePlan plan = plan_cache_delete(keys(), DeleteTier::kAll, true, pinned_);
  EXPECT_EQ(plan.send, keys());
  EXPECT_EQ(plan.pinned_skipped, 0u);
  EXPECT_EQ(plan.unpin, (std::vector<ObjectKey>{key('b'), key('d')}));
}

TEST_F(CacheDeletePlanTest, L1AloneIgnoresPins) {
  for (bool force : {false, true}) {
    const CacheDeletePlan plan = plan_cache_delete(keys(), DeleteTier::kL1, force, pinned_);
    EXPECT_EQ(plan.send, keys());
    EXPECT_EQ(plan.pinned_skipped, 0u);
    EXPECT_TRUE(plan.unpin.empty());
  }
}

TEST_F(CacheDeletePlanTest, AllPinnedSendsNothing) {
  const CacheDeletePlan plan =
      plan_cache_delete({key('b'), key('d')}, DeleteTier::kL2, false, pinned_);
  EXPECT_TRUE(plan.send.empty());
  EXPECT_EQ(plan.pinned_skipped, 2u);
}

TEST(DeleteTierNames, ParseAndNameRoundTrip) {
  for (const char* name : {"l1", "l2", "all"}) {
    const auto tier = parse_delete_tier(name);
    ASSERT_TRUE(tier.has_value()) << name;
    EXPECT_EQ(delete_tier_name(*tier), name);
  }
  EXPECT_FALSE(parse_delete_tier("L2").has_value());
  EXPECT_FALSE(parse_delete_tier("").has_value());
}

}  // namespace
}  // namespace lmcache::core
