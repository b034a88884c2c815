#include "app/fleet_summary_source.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/fleet_routes.h"

namespace lmcache::app {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The summary source over real core objects, and the JSON GET /fleet/summary would answer.
class FleetSummarySourceTest : public ::testing::Test {
 protected:
  void register_instance(const std::string& id, const std::string& ip, Clock::time_point at) {
    core::InstanceRecord record;
    record.instance_id = id;
    record.ip = ip;
    record.http_port = 8080;
    record.metadata = {{"gpu", "H100"}};
    registry_.register_instance(record, at);
  }

  // Stores one key of `bytes` under `salt` through the seed-era stream of `instance`.
  void store(const std::string& instance, const std::string& hash, const std::string& salt,
             uint64_t bytes) {
    const core::L2Event event{core::L2EventType::kStore, core::ObjectKeyView(hash, "m", 0, 0, salt),
                              bytes};
    l2_.apply_batch(instance, ++seq_, std::span(&event, 1));
  }

  // Offers one v2 batch storing a key of 100 bytes under "v2-salt"; returns its verdict.
  core::EventGate::Verdict store_v2(const std::string& instance, uint64_t seq) {
    const std::string hash(32, 'c');
    std::vector<core::CacheEventEntry> entries{
        {core::ObjectKeyView(hash, "m", 0, 0, "v2-salt"), 100, {}, -1}};
    core::CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = 1;
    batch.seq = seq;
    batch.type = core::CacheEventType::kStore;
    batch.tier = core::CacheTier::kL2;
    batch.backend = "fs";
    batch.entries = entries;
    return events_.ingest(batch).verdict;
  }

  json::object summary(Clock::time_point now) {
    return http::fleet_summary_json(source_.collect(now)).as_object();
  }

  core::InstanceRegistry registry_;
  core::L2Accounting l2_{core::EvictionConfig{}};
  core::QuotaStore quotas_{std::string(core::QuotaStore::kInMemory), 0};
  core::EventIngest events_{l2_};
  core::BlendIndex blend_{4, 1, 42};
  FleetSummarySource source_{registry_, l2_, quotas_, events_, blend_, nullptr, 30s};
  uint64_t seq_ = 0;
};

TEST_F(FleetSummarySourceTest, ListsInstancesWithHeartbeatAgeAndDialect) {
  const auto t0 = Clock::now();
  register_instance("mp-a", "10.0.0.1", t0);
  register_instance("mp-b", "fd00::2", t0 + 2s);
  ASSERT_EQ(store_v2("mp-b", 1), core::EventGate::Verdict::kAdmitted);

  const json::object out = summary(t0 + 5s);
  EXPECT_EQ(out.at("instance_timeout_s"), 30.0);
  const json::array& instances = out.at("instances").as_array();
  ASSERT_EQ(instances.size(), 2U);
  EXPECT_EQ(instances[0].at("instance_id"), "mp-a");
  EXPECT_EQ(instances[0].at("address"), "10.0.0.1:8080");
  EXPECT_EQ(instances[0].at("metadata"), json::parse(R"({"gpu":"H100"})"));
  EXPECT_DOUBLE_EQ(instances[0].at("heartbeat_age_s").as_double(), 5.0);
  EXPECT_EQ(instances[0].at("dialect"), "seed");
  EXPECT_EQ(instances[1].at("address"), "[fd00::2]:8080");
  EXPECT_DOUBLE_EQ(instances[1].at("heartbeat_age_s").as_double(), 3.0);
  EXPECT_EQ(instances[1].at("dialect"), "v2");
}

TEST_F(FleetSummarySourceTest, AHeartbeatAfterTheSnapshotReadsAsAgeZero) {
  const auto t0 = Clock::now();
  register_instance("mp-a", "10.0.0.1", t0 + 1s);
  const json::array instances = summary(t0).at("instances").as_array();
  EXPECT_EQ(instances.at(0).at("heartbeat_age_s").as_double(), 0.0);
}

TEST_F(FleetSummarySourceTest, SaltsCarryUsageQuotaAndTheLimitThatApplies) {
  quotas_.set("quota-only", 1000);
  quotas_.set("tenant-a", 500);
  quotas_.set_default_limit(2000);
  store("mp-a", "aa", "tenant-a", 300);
  store("mp-a", "ab", "tenant-a", 400);
  store("mp-a", "ba", "tenant-b", 50);

  const json::object out = summary(Clock::now());
  EXPECT_EQ(out.at("default_quota_bytes"), 2000);
  EXPECT_EQ(out.at("salts"), json::parse(R"([
    {"cache_salt":"quota-only","usage_bytes":0,"keys":0,"in_flight":0,"quota_bytes":1000,"limit_bytes":1000},
    {"cache_salt":"tenant-a","usage_bytes":700,"keys":2,"in_flight":0,"quota_bytes":500,"limit_bytes":500},
    {"cache_salt":"tenant-b","usage_bytes":50,"keys":1,"in_flight":0,"quota_bytes":null,"limit_bytes":2000}
  ])"));
  EXPECT_EQ(out.at("l2").at("stored_bytes"), 750);
  EXPECT_EQ(out.at("l2").at("tracked_keys"), 3);
  EXPECT_EQ(out.at("l2").at("events").at("store"), 3);

  quotas_.set_default_limit(std::nullopt);  // exempt: no limit applies to tenant-b
  const json::object exempt = summary(Clock::now());
  EXPECT_TRUE(exempt.at("default_quota_bytes").is_null());
  EXPECT_TRUE(exempt.at("salts").at(2).at("limit_bytes").is_null());
}

TEST_F(FleetSummarySourceTest, CountsVictimsInFlightOverSalts) {
  quotas_.set("tenant-a", 0);
  store("mp-a", "aa", "tenant-a", 10);
  store("mp-a", "ab", "tenant-a", 10);
  const core::EvictionPlan plan = l2_.plan_eviction(quotas_.limits(), Clock::now());
  ASSERT_EQ(plan.victims.size(), 2U);

  const json::object out = summary(Clock::now());
  EXPECT_EQ(out.at("eviction").at("victims_in_flight"), 2);
  EXPECT_EQ(out.at("salts").at(0).at("in_flight"), 2);
  EXPECT_EQ(out.at("eviction").at("sweeps"), 0);  // no loop given
}

TEST_F(FleetSummarySourceTest, EventCountersAndBlendMatchRate) {
  register_instance("mp-v2", "10.0.0.3", Clock::now());
  ASSERT_EQ(store_v2("mp-v2", 1), core::EventGate::Verdict::kAdmitted);
  ASSERT_EQ(store_v2("mp-v2", 1), core::EventGate::Verdict::kDuplicate);
  ASSERT_EQ(store_v2("mp-v2", 5), core::EventGate::Verdict::kAdmitted);  // after a gap
  events_.record_rejected(2);

  json::object out = summary(Clock::now());
  EXPECT_EQ(out.at("events"), json::parse(R"({"applied":2,"duplicate":1,"stale":0,"rejected":2,
                                               "gaps":1,"fences":0,"cursors":1})"));
  EXPECT_TRUE(out.at("blend").at("match_rate").is_null());
  EXPECT_TRUE(out.at("ha").is_null());

  source_.record_blend_match(3);
  source_.record_blend_match(0);
  source_.record_blend_match(0);
  source_.record_blend_match(1);
  out = summary(Clock::now());
  const json::value& blend = out.at("blend");
  EXPECT_EQ(blend.at("entries"), 0);
  EXPECT_EQ(blend.at("match_requests"), 4);
  EXPECT_EQ(blend.at("matches"), 4);
  EXPECT_EQ(blend.at("requests_with_match"), 2);
  EXPECT_EQ(blend.at("match_rate"), 0.5);
}

TEST_F(FleetSummarySourceTest, HaRoleAndLeaderWhenToldThem) {
  source_.set_ha_status([] { return http::FleetHa{"follower", "10.0.0.9:9300"}; });
  EXPECT_EQ(summary(Clock::now()).at("ha"),
            json::parse(R"({"role":"follower","leader":"10.0.0.9:9300"})"));
  source_.set_ha_status([] { return std::optional<http::FleetHa>(); });
  EXPECT_TRUE(summary(Clock::now()).at("ha").is_null());
}

}  // namespace
}  // namespace lmcache::app
