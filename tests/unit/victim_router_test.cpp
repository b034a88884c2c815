#include "core/victim_router.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

using namespace std::chrono_literals;
using Clock = VictimRouter::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1000s;

std::vector<InstanceRecord> fleet(const std::vector<std::string>& ids) {
  std::vector<InstanceRecord> out;
  for (const auto& id : ids) {
    InstanceRecord record;
    record.instance_id = id;
    record.ip = "127.0.0.1";
    out.push_back(std::move(record));
  }
  return out;
}

// A random source that always answers `index` and remembers the ranges it was asked for.
struct FixedIndex {
  explicit FixedIndex(size_t index = 0) : index(index) {}

  size_t index;
  std::vector<size_t> asked;

  VictimRouter::RandomIndex source() {
    return [this](size_t n) {
      asked.push_back(n);
      return index;
    };
  }
};

std::string chosen_id(const InstanceRecord* chosen) {
  return chosen == nullptr ? "(none)" : chosen->instance_id;
}

TEST(VictimRouterTest, NoInstanceMeansNoDestination) {
  FixedIndex random;
  VictimRouter router(random.source());
  EXPECT_EQ(router.sweep({}, kT0).choose("mp-a"), nullptr);
  EXPECT_EQ(router.sweep({}, kT0).choose(""), nullptr);
  EXPECT_TRUE(random.asked.empty());
}

TEST(VictimRouterTest, VictimGoesToItsRegisteredOwner) {
  FixedIndex random;
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b", "mp-c"});
  EXPECT_EQ(router.sweep(instances, kT0).choose("mp-b"), &instances[1]);
  EXPECT_EQ(router.sweep(instances, kT0).choose("mp-c"), &instances[2]);
  EXPECT_EQ(router.sweep(instances, kT0).choose("mp-a"), &instances[0]);
  EXPECT_TRUE(random.asked.empty()) << "an owner needs no random choice";
}

TEST(VictimRouterTest, OwnerGoneFallsBackToARandomRegisteredInstance) {
  FixedIndex random(1);
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b", "mp-c"});
  EXPECT_EQ(router.sweep(instances, kT0).choose("mp-gone"), &instances[1]);
  EXPECT_EQ(random.asked, std::vector<size_t>{3});
}

TEST(VictimRouterTest, VictimWithoutOwnerGoesToARandomInstance) {
  FixedIndex random(2);
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b", "mp-c"});
  EXPECT_EQ(router.sweep(instances, kT0).choose(""), &instances[2]);
  EXPECT_EQ(random.asked, std::vector<size_t>{3});
}

TEST(VictimRouterTest, OwnerThatJustFailedIsAvoidedForThirtySeconds) {
  FixedIndex random(0);
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b", "mp-c"});
  router.record_failure("mp-a", kT0);

  // Within the window: the random choice is among the two that did not fail.
  EXPECT_EQ(chosen_id(router.sweep(instances, kT0).choose("mp-a")), "mp-b");
  random.index = 1;
  EXPECT_EQ(chosen_id(router.sweep(instances, kT0 + 29s).choose("mp-a")), "mp-c");
  EXPECT_EQ(random.asked, (std::vector<size_t>{2, 2}));

  // At the end of the window the owner is trusted again.
  random.asked.clear();
  EXPECT_EQ(chosen_id(router.sweep(instances, kT0 + VictimRouter::kAvoidFailedFor).choose("mp-a")),
            "mp-a");
  EXPECT_TRUE(random.asked.empty());
}

TEST(VictimRouterTest, RandomFallbackSkipsAnInstanceThatJustFailed) {
  FixedIndex random;
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b", "mp-c"});
  router.record_failure("mp-b", kT0);
  std::set<std::string> chosen;
  for (size_t index = 0; index < 2; ++index) {
    random.index = index;
    chosen.insert(chosen_id(router.sweep(instances, kT0 + 1s).choose("")));
  }
  EXPECT_EQ(chosen, (std::set<std::string>{"mp-a", "mp-c"}));
  EXPECT_EQ(random.asked, (std::vector<size_t>{2, 2}));
}

TEST(VictimRouterTest, LaterFailureRestartsTheWindow) {
  FixedIndex random;
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b"});
  router.record_failure("mp-a", kT0);
  router.record_failure("mp-a", kT0 + 20s);
  EXPECT_EQ(chosen_id(router.sweep(instances, kT0 + 40s).choose("mp-a")), "mp-b");
  EXPECT_EQ(chosen_id(router.sweep(instances, kT0 + 50s).choose("mp-a")), "mp-a");
}

TEST(VictimRouterTest, WhenEveryInstanceJustFailedAnyOfThemIsChosen) {
  FixedIndex random(1);
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b"});
  router.record_failure("mp-a", kT0);
  router.record_failure("mp-b", kT0);
  EXPECT_EQ(router.sweep(instances, kT0 + 1s).choose("mp-a"), &instances[1]);
  EXPECT_EQ(random.asked, std::vector<size_t>{2});
}

TEST(VictimRouterTest, FailureOfAnotherInstanceDoesNotMoveAnOwnedVictim) {
  FixedIndex random;
  VictimRouter router(random.source());
  const auto instances = fleet({"mp-a", "mp-b"});
  router.record_failure("mp-a", kT0);
  EXPECT_EQ(router.sweep(instances, kT0 + 1s).choose("mp-b"), &instances[1]);
  EXPECT_TRUE(random.asked.empty());
}

// The default source spreads owner-less victims over every instance.
TEST(VictimRouterTest, DefaultRandomSourceReachesEveryHealthyInstance) {
  VictimRouter router;
  const auto instances = fleet({"mp-a", "mp-b", "mp-c", "mp-d"});
  router.record_failure("mp-d", kT0);
  std::set<std::string> chosen;
  for (int i = 0; i < 400 && chosen.size() < 3; ++i) {
    chosen.insert(chosen_id(router.sweep(instances, kT0).choose("")));
  }
  EXPECT_EQ(chosen, (std::set<std::string>{"mp-a", "mp-b", "mp-c"}));
}

}  // namespace
}  // namespace lmcache::core
