#include "app/health_sweep.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace lmcache::app {
namespace {

using namespace std::chrono_literals;
using Clock = HealthSweep::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1000s;
constexpr Clock::duration kOnTime = Clock::duration::zero();

// A registry and a sweep over it with a 30 s instance timeout and a 10 s interval (the defaults);
// time is whatever each test passes in.
class HealthSweepTest : public ::testing::Test {
 protected:
  void register_at(const std::string& id, Clock::time_point when) {
    core::InstanceRecord record;
    record.instance_id = id;
    record.ip = "10.0.0.1";
    record.http_port = 8000;
    registry_.register_instance(std::move(record), when);
  }

  std::vector<std::string> registered() const {
    std::vector<std::string> ids;
    for (const auto& record : registry_.list()) ids.push_back(record.instance_id);
    return ids;
  }

  // The sweep's counter of removed instances.
  double removed_total() const {
    for (const auto& family : metrics_.Collect()) {
      if (family.name == "lmcache_coordinator_instance_evictions_total") {
        return family.metric.at(0).counter.value;
      }
    }
    ADD_FAILURE() << "no counter of removed instances";
    return -1;
  }

  core::InstanceRegistry registry_;
  prometheus::Registry metrics_;
  std::vector<std::string> removed_ids_;  // reported by the removal hook
  HealthSweep sweep_{registry_, 30s, 10s, metrics_,
                     [this](const std::string& id) { removed_ids_.push_back(id); }};
};

TEST_F(HealthSweepTest, InstanceIsKeptUntilItsTimeoutHasPassed) {
  register_at("a", kT0);
  EXPECT_EQ(sweep_.run(kT0 + 10s, kOnTime), 0U);
  EXPECT_EQ(sweep_.run(kT0 + 30s, kOnTime), 0U);  // exactly the timeout: not yet lapsed
  EXPECT_EQ(registered(), std::vector<std::string>{"a"});
  EXPECT_EQ(removed_total(), 0);
}

TEST_F(HealthSweepTest, InstanceSilentForLongerThanTheTimeoutIsRemoved) {
  register_at("quiet", kT0);
  register_at("recent", kT0 + 20s);
  EXPECT_EQ(sweep_.run(kT0 + 30s + 1ms, kOnTime), 1U);
  EXPECT_EQ(registered(), std::vector<std::string>{"recent"});
  EXPECT_EQ(removed_total(), 1);

  EXPECT_EQ(sweep_.run(kT0 + 51s, kOnTime), 1U);
  EXPECT_TRUE(registered().empty());
  EXPECT_EQ(removed_total(), 2);
}

TEST_F(HealthSweepTest, RemovalHookHearsOfEveryRemovedInstance) {
  register_at("quiet", kT0);
  register_at("also-quiet", kT0);
  register_at("recent", kT0 + 20s);
  EXPECT_EQ(sweep_.run(kT0 + 31s, kOnTime), 2U);
  std::sort(removed_ids_.begin(), removed_ids_.end());
  EXPECT_EQ(removed_ids_, (std::vector<std::string>{"also-quiet", "quiet"}));
}

TEST_F(HealthSweepTest, HeartbeatRestartsTheTimeout) {
  register_at("a", kT0);
  ASSERT_TRUE(registry_.heartbeat("a", kT0 + 25s));
  EXPECT_EQ(sweep_.run(kT0 + 55s, kOnTime), 0U);
  EXPECT_EQ(sweep_.run(kT0 + 55s + 1ms, kOnTime), 1U);
}

TEST_F(HealthSweepTest, LateSweepGrantsAGracePeriodInsteadOfEvicting) {
  register_at("a", kT0);
  register_at("b", kT0 + 5s);
  // The coordinator was stalled: this sweep runs 60 s behind its schedule, when both instances
  // look lapsed on the evidence at hand.
  const auto after_stall = kT0 + 100s;
  EXPECT_EQ(sweep_.run(after_stall, 60s), 0U);
  EXPECT_EQ(registered(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(removed_total(), 0);

  // The grace period is a full timeout from the late sweep, and no more.
  EXPECT_EQ(sweep_.run(after_stall + 30s, kOnTime), 0U);
  EXPECT_EQ(sweep_.run(after_stall + 30s + 1ms, kOnTime), 2U);
  EXPECT_TRUE(registered().empty());
}

TEST_F(HealthSweepTest, LatenessUpToTheStallThresholdIsJitterNotAStall) {
  ASSERT_EQ(sweep_.stall_threshold(), 10s);  // one interval
  register_at("a", kT0);
  EXPECT_EQ(sweep_.run(kT0 + 31s, sweep_.stall_threshold()), 1U);
  EXPECT_TRUE(registered().empty());
}

TEST_F(HealthSweepTest, LatenessJustOverTheStallThresholdIsAStall) {
  register_at("a", kT0);
  EXPECT_EQ(sweep_.run(kT0 + 31s, sweep_.stall_threshold() + 1ms), 0U);
  EXPECT_EQ(registered(), std::vector<std::string>{"a"});
}

// With a short interval, ordinary scheduling delays (under a second) are not taken for a stall.
TEST(HealthSweepThresholdTest, StallThresholdIsOneIntervalButAtLeastOneSecond) {
  core::InstanceRegistry registry;
  prometheus::Registry metrics;
  EXPECT_EQ(HealthSweep(registry, 30s, 10s, metrics).stall_threshold(), 10s);
  EXPECT_EQ(HealthSweep(registry, 30s, 200ms, metrics).stall_threshold(), 1s);

  HealthSweep fast(registry, 1s, 200ms, metrics);
  core::InstanceRecord record;
  record.instance_id = "a";
  registry.register_instance(record, kT0);
  EXPECT_EQ(fast.run(kT0 + 2s, 900ms), 1U);  // late, but less than 1 s: a normal sweep

  registry.register_instance(record, kT0);
  EXPECT_EQ(fast.run(kT0 + 2s, 1100ms), 0U);  // over 1 s late: grace
  EXPECT_EQ(registry.size(), 1U);
}

}  // namespace
}  // namespace lmcache::app
