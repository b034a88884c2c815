#include "core/instance_registry.h"

#include <gtest/gtest.h>

#include <set>

namespace lmcache::core {
namespace {

// "mp-" followed by 32 lowercase hex digits.
bool is_minted_id(const std::string& id) {
  return id.size() == 35 && id.rfind("mp-", 0) == 0 &&
         id.find_first_not_of("0123456789abcdef", 3) == std::string::npos;
}
using Clock = InstanceRegistry::Clock;
using namespace std::chrono_literals;

InstanceRecord record(std::string id, std::string ip = "10.0.0.1", uint16_t port = 8000) {
  InstanceRecord r;
  r.instance_id = std::move(id);
  r.ip = std::move(ip);
  r.http_port = port;
  return r;
}

TEST(InstanceRegistryTest, RegisterListAndReRegister) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  EXPECT_FALSE(registry.register_instance(record("a"), t0).re_registered);
  EXPECT_FALSE(registry.register_instance(record("b"), t0).re_registered);
  auto again = registry.register_instance(record("a", "10.9.9.9", 1), t0);
  EXPECT_TRUE(again.re_registered);
  EXPECT_EQ(again.instance_id, "a");
  const auto list = registry.list();
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0].instance_id, "a");
  EXPECT_EQ(list[0].ip, "10.9.9.9");
  EXPECT_EQ(list[1].instance_id, "b");
}

TEST(InstanceRegistryTest, MintsDistinctIdsForBlankIds) {
  InstanceRegistry registry;
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto reg = registry.register_instance(record(""), Clock::now());
    EXPECT_TRUE(is_minted_id(reg.instance_id));
    ids.insert(reg.instance_id);
  }
  EXPECT_EQ(ids.size(), 100U);
  EXPECT_EQ(registry.size(), 100U);
}

TEST(InstanceRegistryTest, HeartbeatUnknownIsFalse) {
  InstanceRegistry registry;
  EXPECT_FALSE(registry.heartbeat("x", Clock::now()));
  registry.register_instance(record("x"), Clock::now());
  EXPECT_TRUE(registry.heartbeat("x", Clock::now()));
}

// Heartbeats of registered instances count; registrations and unknown ids do not.
TEST(InstanceRegistryTest, CountsAcceptedHeartbeats) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  registry.register_instance(record("a"), t0);
  EXPECT_EQ(registry.heartbeats(), 0U);
  EXPECT_TRUE(registry.heartbeat("a", t0));
  EXPECT_TRUE(registry.heartbeat("a", t0));
  EXPECT_FALSE(registry.heartbeat("nobody", t0));
  EXPECT_EQ(registry.heartbeats(), 2U);
}

TEST(InstanceRegistryTest, RemoveLapsedUsesLastHeartbeat) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  registry.register_instance(record("old"), t0);
  registry.register_instance(record("fresh"), t0);
  registry.heartbeat("fresh", t0 + 20s);
  const auto removed = registry.remove_lapsed(t0 + 31s, 30s);
  ASSERT_EQ(removed.size(), 1U);
  EXPECT_EQ(removed[0], "old");
  EXPECT_TRUE(registry.find("fresh").has_value());
  EXPECT_FALSE(registry.find("old").has_value());
}

TEST(InstanceRegistryTest, ReRegistrationResetsHeartbeat) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  registry.register_instance(record("a"), t0);
  registry.register_instance(record("a"), t0 + 25s);
  EXPECT_TRUE(registry.remove_lapsed(t0 + 40s, 30s).empty());
}

TEST(InstanceRegistryTest, RefreshAllGrantsGrace) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  registry.register_instance(record("a"), t0);
  registry.refresh_all(t0 + 100s);
  EXPECT_TRUE(registry.remove_lapsed(t0 + 120s, 30s).empty());
  EXPECT_EQ(registry.remove_lapsed(t0 + 131s, 30s).size(), 1U);
}

TEST(InstanceRegistryTest, RemovedThenRegisteredGoesLast) {
  InstanceRegistry registry;
  registry.register_instance(record("a"), Clock::now());
  registry.register_instance(record("b"), Clock::now());
  EXPECT_TRUE(registry.remove("a"));
  EXPECT_FALSE(registry.remove("a"));
  registry.register_instance(record("a"), Clock::now());
  const auto list = registry.list();
  EXPECT_EQ(list[0].instance_id, "b");
  EXPECT_EQ(list[1].instance_id, "a");
}

TEST(InstanceRegistryTest, StatusesCarryLastHeartbeatInRegistrationOrder) {
  InstanceRegistry registry;
  const auto t0 = Clock::now();
  registry.register_instance(record("a"), t0);
  registry.register_instance(record("b"), t0 + 1s);
  EXPECT_TRUE(registry.heartbeat("a", t0 + 5s));
  const auto statuses = registry.statuses();
  ASSERT_EQ(statuses.size(), 2U);
  EXPECT_EQ(statuses[0].record.instance_id, "a");
  EXPECT_EQ(statuses[0].last_heartbeat, t0 + 5s);
  EXPECT_EQ(statuses[1].record.instance_id, "b");
  EXPECT_EQ(statuses[1].last_heartbeat, t0 + 1s);
}

}  // namespace
}  // namespace lmcache::core
