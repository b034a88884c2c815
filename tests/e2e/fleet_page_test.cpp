// End-to-end: the fleet page (GET /, GET /ui) and GET /fleet/summary of the real binary. What the
// page shows in a browser is tested by tests/browser/ (ctest browser.fleet_page).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {

namespace json = boost::json;

class FleetPageTest : public ::testing::Test {
 protected:
  CoordinatorProcess coordinator_{
      {"--instance-timeout", "7", "--eviction-check-interval", "0", "--default-quota-gb", "none"},
      {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", "false"}}};
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(FleetPageTest, RootAndUiServeTheEmbeddedPage) {
  for (const char* path : {"/", "/ui"}) {
    const TestResponse res = client_.get(path);
    ASSERT_EQ(res.status, 200) << path;
    EXPECT_EQ(res.header("content-type"), "text/html; charset=utf-8") << path;
    EXPECT_NE(res.body.find("<title>LMCache coordinator</title>"), std::string::npos);
    // Inlined at build time: no stylesheet or script to fetch, nothing from another host.
    EXPECT_NE(res.body.find("<style>"), std::string::npos);
    EXPECT_NE(res.body.find("fleet/summary"), std::string::npos);
    EXPECT_EQ(res.body.find("<script src="), std::string::npos);
    EXPECT_EQ(res.body.find("<link rel=\"stylesheet\""), std::string::npos);
    EXPECT_EQ(res.body.find("https://"), std::string::npos);
  }
  EXPECT_EQ(client_.post("/ui", "{}").status, 405);
}

TEST_F(FleetPageTest, SummaryReportsTheFleetItWasGiven) {
  ASSERT_EQ(client_
                .post("/instances", R"({"instance_id":"mp-seed","ip":"10.0.0.1",
      "http_port":8080,"metadata":{"gpu":"H100"}})")
                .status,
            200);
  ASSERT_EQ(
      client_.post("/instances", R"({"instance_id":"mp-v2","ip":"10.0.0.2","http_port":8081})")
          .status,
      200);
  ASSERT_EQ(client_.put("/l2/quota/tenant-a", R"({"limit_gb": 1})").status, 200);
  auto res = client_.post("/l2/events", R"({"instance_id":"mp-seed","seq":1,"events":[
      {"type":"store","key":{"chunk_hash_hex":"ab","model_name":"m","kv_rank":0,
       "cache_salt":"tenant-a"},"bytes":1024},
      {"type":"store","key":{"chunk_hash_hex":"ac","model_name":"m","kv_rank":0,
       "cache_salt":"tenant-b"},"bytes":2048}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  res = client_.post("/events", R"({"batches":[{"instance_id":"mp-v2","incarnation":1,"seq":1,
      "event_type":"store","tier":"l2","backend":"fs","entries":[{"key":{"chunk_hash_hex":"cd",
      "model_name":"m","kv_rank":0,"cache_salt":"tenant-b"},"size_bytes":4096}]}]})");
  ASSERT_EQ(res.status, 200) << res.body;

  res = client_.get("/fleet/summary");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("content-type"), "application/json");
  const json::object summary = res.json().as_object();
  EXPECT_EQ(summary.at("instance_timeout_s"), 7.0);
  const json::array& instances = summary.at("instances").as_array();
  ASSERT_EQ(instances.size(), 2U);
  EXPECT_EQ(instances[0].at("instance_id"), "mp-seed");
  EXPECT_EQ(instances[0].at("address"), "10.0.0.1:8080");
  EXPECT_EQ(instances[0].at("metadata"), json::parse(R"({"gpu":"H100"})"));
  EXPECT_EQ(instances[0].at("dialect"), "seed");
  EXPECT_EQ(instances[1].at("dialect"), "v2");
  for (const auto& instance : instances) {
    const double age = instance.at("heartbeat_age_s").as_double();
    EXPECT_GE(age, 0.0);
    EXPECT_LT(age, 7.0);  // still registered, so younger than the timeout
  }

  EXPECT_TRUE(summary.at("default_quota_bytes").is_null());
  EXPECT_EQ(summary.at("salts"), json::parse(R"([
    {"cache_salt":"tenant-a","usage_bytes":1024,"keys":1,"in_flight":0,"quota_bytes":1073741824,
     "limit_bytes":1073741824},
    {"cache_salt":"tenant-b","usage_bytes":6144,"keys":2,"in_flight":0,"quota_bytes":null,
     "limit_bytes":null}])"));
  EXPECT_EQ(summary.at("l2").at("events").at("store"), 3);  // both dialects feed one ledger
  EXPECT_EQ(summary.at("l2").at("stored_bytes"), 7168);
  EXPECT_EQ(summary.at("events").at("applied"), 1);
  EXPECT_EQ(summary.at("events").at("cursors"), 1);
  EXPECT_EQ(summary.at("eviction").at("sweeps"), 0);
  EXPECT_TRUE(summary.at("ha").is_null());

  // The instance leaves: the next summary no longer lists it.
  ASSERT_EQ(client_.del("/instances/mp-seed").status, 204);
  const json::array after = client_.get("/fleet/summary").json().at("instances").as_array();
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].at("instance_id"), "mp-v2");
}

TEST_F(FleetPageTest, SummaryCountsBlendMatchRequests) {
  auto res = client_.post("/blend/match", R"({"model_scope":"m","tokens":[1,2,3,4]})");
  ASSERT_EQ(res.status, 200) << res.body;
  const json::value blend = client_.get("/fleet/summary").json().at("blend");
  EXPECT_EQ(blend.at("match_requests"), 1);
  EXPECT_EQ(blend.at("requests_with_match"), 0);
  EXPECT_EQ(blend.at("match_rate"), 0.0);
}

}  // namespace
}  // namespace lmcache::testing
