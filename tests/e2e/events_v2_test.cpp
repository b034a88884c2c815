// End-to-end: POST /events (the v2 cache-event stream) of the real binary, observed through its
// answers, GET /l2/status and GET /metrics.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "coordinator_process.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

constexpr double kGib = 1073741824.0;

json::object key(char c, std::string salt = "tenant") {
  return json::object{{"chunk_hash_hex", std::string(64, c)},
                      {"model_name", "llama"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", std::move(salt)}};
}

// One batch of `type` on tier l2 with one entry per key character, each of `size` bytes.
json::object batch(std::string_view instance, int64_t incarnation, int64_t seq,
                   std::string_view type, std::string_view keys, int64_t size = 1000) {
  json::array entries;
  for (char c : keys) entries.push_back(json::object{{"key", key(c)}, {"size_bytes", size}});
  return json::object{{"instance_id", instance},
                      {"incarnation", incarnation},
                      {"seq", seq},
                      {"event_type", type},
                      {"tier", "l2"},
                      {"backend", "fs"},
                      {"ts", 1788000000.5},
                      {"entries", std::move(entries)}};
}

class EventsV2Test : public ::testing::Test {
 protected:
  // Posts batches, expecting 200, and returns the answer.
  json::value post(json::array batches) {
    auto res = client_.post("/events", json::serialize(json::object{{"batches", batches}}));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json();
  }

  double usage_bytes(const std::string& salt_segment) {
    auto res = client_.get("/l2/status/" + salt_segment);
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("usage_gb").to_number<double>() * kGib;
  }

  double total_bytes() {
    auto res = client_.get("/l2/status");
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("total_gb").to_number<double>() * kGib;
  }

  static json::value counts(int applied, int duplicates, int stale) {
    return json::object{{"applied", applied}, {"duplicates", duplicates}, {"stale", stale}};
  }

  CoordinatorProcess coordinator_;
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(EventsV2Test, StoreAccessDeleteMoveL2Usage) {
  EXPECT_EQ(post({batch("mp-1", 7, 1, "store", "ab")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 2000);

  json::object access = batch("mp-1", 7, 2, "access", "a");
  access["backend"] = "";  // an access may omit its backend
  EXPECT_EQ(post({access}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 2000);

  EXPECT_EQ(post({batch("mp-1", 7, 3, "delete", "a")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 1000);
  EXPECT_EQ(post({batch("mp-1", 7, 4, "delete", "b")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(total_bytes(), 0);
}

TEST_F(EventsV2Test, CountsAppliedDuplicateAndStaleBatches) {
  EXPECT_EQ(post({batch("mp-1", 5, 1, "store", "a"), batch("mp-1", 5, 2, "store", "b"),
                  batch("mp-1", 5, 2, "store", "c"), batch("mp-1", 4, 3, "store", "d")}),
            counts(2, 1, 1));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 2000);  // neither c nor d was applied

  // The same request again: all replays now.
  EXPECT_EQ(post({batch("mp-1", 5, 1, "store", "a"), batch("mp-1", 5, 2, "store", "b")}),
            counts(0, 2, 0));

  // A restart (higher incarnation) starts again at seq 1; L2 survives the fence.
  EXPECT_EQ(post({batch("mp-1", 6, 1, "store", "e")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 3000);
  EXPECT_TRUE(coordinator_.wait_for_log("incarnation 6 fences the previous one"));

  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_event_batches_total{outcome="applied"})"),
            3);
  EXPECT_EQ(
      metric_value(client_, R"(lmcache_coordinator_event_batches_total{outcome="duplicate"})"), 3);
  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_event_batches_total{outcome="stale"})"),
            1);
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_event_fences_total"), 1);
}

TEST_F(EventsV2Test, BatchAfterAGapIsStillAdmittedAndTheGapLogged) {
  EXPECT_EQ(post({batch("mp-1", 1, 1, "store", "a")}), counts(1, 0, 0));
  EXPECT_EQ(post({batch("mp-1", 1, 5, "store", "b")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 2000);
  EXPECT_TRUE(coordinator_.wait_for_log("seq jumped 1 -> 5"));
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_event_gaps_total"), 1);
  // A batch lost in the gap that arrives late is a duplicate.
  EXPECT_EQ(post({batch("mp-1", 1, 3, "store", "c")}), counts(0, 1, 0));
}

TEST_F(EventsV2Test, InvalidBatchIsRejectedAloneWhileTheOthersApply) {
  json::object bad = batch("mp-1", 1, 2, "store", "b");
  bad["tier"] = "all";
  const json::value answer =
      post({batch("mp-1", 1, 1, "store", "a"), bad, batch("mp-1", 1, 3, "store", "c")});
  EXPECT_EQ(answer.at("applied"), 2);
  EXPECT_EQ(answer.at("duplicates"), 0);
  EXPECT_EQ(answer.at("stale"), 0);
  const json::array& rejected = answer.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 1U);
  EXPECT_EQ(rejected[0].at("index"), 1);
  EXPECT_EQ(rejected[0].at("error"), "tier must be 'l1' or 'l2', got \"all\"");
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 2000);
  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_event_batches_total{outcome="rejected"})"),
            1);
}

TEST_F(EventsV2Test, BodyWithoutABatchListIs422) {
  for (const std::string body : {"", "not json", "[]", "{}", R"({"batches":"x"})"}) {
    auto res = client_.post("/events", body);
    EXPECT_EQ(res.status, 422) << body << " -> " << res.body;
    EXPECT_TRUE(res.json().as_object().contains("detail")) << res.body;
  }
  EXPECT_EQ(post({}), counts(0, 0, 0));
}

TEST_F(EventsV2Test, KeyStoredThroughL2EventsIsDeletedThroughEvents) {
  json::object store{{"type", "store"}, {"key", key('a')}, {"bytes", 4096}};
  auto res = client_.post(
      "/l2/events", json::serialize(json::object{
                        {"instance_id", "mp-old"}, {"seq", 1}, {"events", json::array{store}}}));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 4096);

  EXPECT_EQ(post({batch("mp-new", 1, 1, "delete", "a")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 0);
}

TEST_F(EventsV2Test, L1BatchesAdvanceTheCursorWithoutTouchingL2) {
  json::object l1 = batch("mp-1", 1, 1, "store", "a");
  l1["tier"] = "l1";
  l1["backend"] = "cpu";
  EXPECT_EQ(post({l1}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(total_bytes(), 0);
  EXPECT_EQ(post({batch("mp-1", 1, 1, "store", "a")}), counts(0, 1, 0));
}

TEST_F(EventsV2Test, ConfigBatchesGoThroughTheGate) {
  json::object config = batch("mp-1", 1, 1, "config", "");
  config.erase("entries");
  config["capacity_bytes"] = 1 << 30;
  config["capacity_revision"] = 1;
  EXPECT_EQ(post({config, batch("mp-1", 1, 2, "store", "a")}), counts(2, 0, 0));
  EXPECT_EQ(post({config}), counts(0, 1, 0));
}

TEST_F(EventsV2Test, DeregisteredInstanceStartsAFreshCursor) {
  ASSERT_EQ(client_.post("/instances", R"({"instance_id":"mp-1","ip":"10.0.0.1","http_port":8080})")
                .status,
            200);
  EXPECT_EQ(post({batch("mp-1", 9, 1, "store", "a"), batch("mp-1", 9, 2, "store", "b")}),
            counts(2, 0, 0));
  EXPECT_EQ(post({batch("mp-1", 8, 3, "store", "c")}), counts(0, 0, 1));

  EXPECT_EQ(client_.del("/instances/mp-1").status, 204);
  // Any incarnation, from seq 1, is a fresh start now; the L2 keys are still there.
  EXPECT_EQ(post({batch("mp-1", 8, 1, "store", "c")}), counts(1, 0, 0));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 3000);
}

TEST_F(EventsV2Test, UnregisteredInstanceCursorIsForgottenByDelete) {
  // Posting events needs no registration, and DELETE forgets the cursor all the same.
  EXPECT_EQ(post({batch("mp-2", 3, 1, "store", "a")}), counts(1, 0, 0));
  EXPECT_EQ(client_.del("/instances/mp-2").status, 204);
  EXPECT_EQ(post({batch("mp-2", 1, 1, "store", "b")}), counts(1, 0, 0));
}

TEST(EventsV2HealthSweepTest, TimedOutInstanceStartsAFreshCursor) {
  CoordinatorProcess coordinator({"--instance-timeout", "0.5", "--health-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(client.post("/instances", R"({"instance_id":"mp-1","ip":"10.0.0.1","http_port":8080})")
                .status,
            200);
  const auto post = [&client](const json::object& b) {
    auto res = client.post("/events", json::serialize(json::object{{"batches", json::array{b}}}));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json();
  };
  EXPECT_EQ(post(batch("mp-1", 9, 1, "store", "a")).at("applied"), 1);
  ASSERT_TRUE(coordinator.wait_for_log("evicted instance mp-1"));
  EXPECT_EQ(post(batch("mp-1", 8, 1, "store", "b")).at("applied"), 1);
}

}  // namespace
}  // namespace lmcache::testing
