#include "app/cluster_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace lmcache::app {
namespace {

double value(const ClusterMetrics& metrics, const std::string& name) {
  for (const auto& family : metrics.Collect()) {
    if (family.name == name) return family.metric.at(0).gauge.value;
  }
  ADD_FAILURE() << name << " not collected";
  return -1;
}

TEST(ClusterMetricsTest, TheLeaderSaysOneAndFollowersZeroWithTheEpochTheyKnow) {
  http::ClusterStatus status;
  status.ha = true;
  status.role = "leader";
  status.epoch = 42;
  const ClusterMetrics metrics([&status] { return status; });
  EXPECT_EQ(value(metrics, "lmcache_coordinator_ha_is_leader"), 1.0);
  EXPECT_EQ(value(metrics, "lmcache_coordinator_ha_epoch"), 42.0);
  for (const char* role : {"follower", "candidate"}) {
    status.role = role;
    EXPECT_EQ(value(metrics, "lmcache_coordinator_ha_is_leader"), 0.0) << role;
  }
}

}  // namespace
}  // namespace lmcache::app
