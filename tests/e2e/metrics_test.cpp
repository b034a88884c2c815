// End-to-end: GET /metrics after known traffic, parsed as Prometheus text.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <sstream>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
using namespace std::chrono_literals;

// Every sample line "name{labels} value" of an exposition, keyed by "name{labels}".
std::map<std::string, double> parse_samples(const std::string& text, std::string* error) {
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# HELP ", 0) != 0 && line.rfind("# TYPE ", 0) != 0) {
        *error = "bad comment: " + line;
      }
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      *error = "no value: " + line;
      continue;
    }
    try {
      samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (...) {
      *error = "bad value: " + line;
    }
  }
  return samples;
}

// The type of every family, from its "# TYPE name type" line.
std::map<std::string, std::string> parse_types(const std::string& text) {
  std::map<std::string, std::string> types;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name;
    std::string type;
    words >> name >> type;
    types[name] = type;
  }
  return types;
}

bool ends_with_total(const std::string& name) {
  return name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
}

std::string event_batch(const std::string& type, int seq, int first, int count,
                        const std::string& salt, const std::string& bad_hex = "") {
  boost::json::array events;
  for (int i = first; i < first + count; ++i) {
    events.emplace_back(boost::json::object{{"type", type},
                                            {"key",
                                             {{"chunk_hash_hex", fmt::format("{:064x}", i)},
                                              {"model_name", "m"},
                                              {"kv_rank", 0},
                                              {"cache_salt", salt}}},
                                            {"bytes", 100}});
  }
  if (!bad_hex.empty()) {
    events.emplace_back(boost::json::object{
        {"type", "store"},
        {"key", {{"chunk_hash_hex", bad_hex}, {"model_name", "m"}, {"kv_rank", 0}}},
        {"bytes", 1}});
  }
  return boost::json::serialize(
      boost::json::object{{"instance_id", "mp-a"}, {"seq", seq}, {"events", events}});
}

std::string store_batch(int seq, int first, int count, const std::string& salt,
                        const std::string& bad_hex = "") {
  return event_batch("store", seq, first, count, salt, bad_hex);
}

TEST(MetricsTest, ReportsKnownTraffic) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2", "--blend-chunk-size", "4"});
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(client
                .post("/instances",
                      fmt::format(R"({{"instance_id":"mp-a","ip":"127.0.0.1","http_port":{}}})",
                                  server.port()))
                .status,
            200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(client.put("/instances/mp-a/heartbeat").status, 200);
  ASSERT_EQ(client.put("/l2/quota/big", R"({"limit_gb": 1})").status, 200);
  ASSERT_EQ(client.post("/l2/events", store_batch(1, 0, 5, "big", "xyz")).status, 200);
  ASSERT_EQ(client.post("/l2/events", store_batch(1, 0, 5, "big")).status, 200);     // replay
  ASSERT_EQ(client.post("/l2/events", store_batch(3, 10, 2, "small")).status, 200);  // gap
  ASSERT_EQ(
      client
          .post(
              "/blend/fingerprints",
              R"({"ranges":[{"model_scope":"m","tokens":[1,2,3,4,5,6,7,8],"object_keys":["k1","k2"],"old_st_base":0}]})")
          .status,
      200);
  ASSERT_EQ(
      client.post("/blend/match", R"({"model_scope":"m","tokens":[9,1,2,3,4,5,6,7,8]})").status,
      200);
  ASSERT_TRUE(server.wait_for_deletes(1, 15s));  // "small" has no quota: evicted
  // Two more sweeps: a failed DELETE would have been counted and its victims sent again.
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 2));

  auto res = client.get("/metrics");
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.header("content-type").find("text/plain"), std::string::npos);
  std::string error;
  auto m = parse_samples(res.body, &error);
  EXPECT_EQ(error, "");
  const std::string p = "lmcache_coordinator_";
  EXPECT_EQ(m[p + "instances"], 1);
  EXPECT_EQ(m[p + "heartbeats_total"], 3);
  EXPECT_EQ(m[p + "l2_events_total{type=\"store\"}"], 7);
  EXPECT_EQ(m[p + "l2_rejected_events_total"], 1);
  EXPECT_EQ(m[p + "l2_duplicate_batches_total"], 1);
  EXPECT_EQ(m[p + "l2_seq_gaps_total"], 1);
  EXPECT_EQ(m[p + "l2_usage_bytes{cache_salt=\"big\"}"], 500);
  EXPECT_EQ(m[p + "l2_quota_bytes{cache_salt=\"big\"}"], 1073741824.0);
  EXPECT_GE(m[p + "eviction_sweeps_total"], 1);
  EXPECT_EQ(m[p + "eviction_victims_dispatched_total"], 2);
  EXPECT_EQ(m[p + "eviction_dispatch_failures_total"], 0);
  EXPECT_EQ(m[p + "instance_evictions_total"], 0);
  EXPECT_EQ(m[p + "eviction_dispatches_total"], 1);
  EXPECT_EQ(m[p + "http_requests_total{method=\"PUT\",route=\"/instances/{instance_id}/"
                  "heartbeat\",status=\"200\"}"],
            3);
  EXPECT_EQ(m[p + "http_request_duration_seconds_count{method=\"POST\",route=\"/l2/events\"}"], 3);
  EXPECT_EQ(
      m[p +
        "http_request_duration_seconds_bucket{method=\"POST\",route=\"/l2/events\",le=\"+Inf\"}"],
      3);
  EXPECT_EQ(m[p + "blend_entries"], 2);
  EXPECT_EQ(m[p + "blend_match_requests_total"], 1);
  EXPECT_EQ(m[p + "blend_matches_total"], 2);
  EXPECT_EQ(m.count(p + "resync_keys_total"), 1U);

  // Every family the spec lists, with its type; counters and only counters end in _total.
  const auto types = parse_types(res.body);
  const std::map<std::string, std::string> expected = {
      {"instances", "gauge"},
      {"heartbeats_total", "counter"},
      {"instance_evictions_total", "counter"},
      {"l2_events_total", "counter"},
      {"l2_rejected_events_total", "counter"},
      {"l2_duplicate_batches_total", "counter"},
      {"l2_seq_gaps_total", "counter"},
      {"l2_missed_batches_total", "counter"},
      {"l2_tracked_keys", "gauge"},
      {"l2_stored_bytes", "gauge"},
      {"l2_usage_bytes", "gauge"},
      {"l2_quota_bytes", "gauge"},
      {"eviction_sweeps_total", "counter"},
      {"eviction_victims_dispatched_total", "counter"},
      {"eviction_dispatch_failures_total", "counter"},
      {"resync_keys_total", "counter"},
      {"blend_entries", "gauge"},
      {"blend_match_requests_total", "counter"},
      {"blend_matches_total", "counter"},
      {"http_requests_total", "counter"},
      {"http_request_duration_seconds", "histogram"},
  };
  for (const auto& [name, type] : expected) {
    auto it = types.find(p + name);
    ASSERT_NE(it, types.end()) << name;
    EXPECT_EQ(it->second, type) << name;
  }
  for (const auto& [name, type] : types) {
    if (type == "counter" || type == "gauge") {
      EXPECT_EQ(ends_with_total(name), type == "counter") << name;
    }
  }
}

// Per-salt gauges show the salts that exist at scrape time, and a salt's quotes and newlines
// are escaped in its label ('\' is not allowed in a cache_salt).
TEST(MetricsTest, SaltGaugesFollowStateAndEscapeLabels) {
  CoordinatorProcess coordinator({"--eviction-check-interval", "0"});
  HttpTestClient client(coordinator.port());
  const std::string salt = "q\"x\ny";
  const std::string label = "{cache_salt=\"q\\\"x\\ny\"}";
  const std::string p = "lmcache_coordinator_";
  ASSERT_EQ(client.put("/l2/quota/q%22x%0Ay", R"({"limit_gb": 1})").status, 200);
  ASSERT_EQ(client.post("/l2/events", store_batch(1, 0, 2, salt)).status, 200);
  std::string body = client.get("/metrics").body;
  EXPECT_NE(body.find(p + "l2_usage_bytes" + label + " 200\n"), std::string::npos) << body;
  EXPECT_NE(body.find(p + "l2_quota_bytes" + label + " 1073741824\n"), std::string::npos);
  std::string error;
  parse_samples(body, &error);
  EXPECT_EQ(error, "");

  ASSERT_EQ(client.del("/l2/quota/q%22x%0Ay").status, 200);
  ASSERT_EQ(client.post("/l2/events", event_batch("delete", 2, 0, 2, salt)).status, 200);
  body = client.get("/metrics").body;
  EXPECT_EQ(body.find("cache_salt="), std::string::npos) << body;
  EXPECT_NE(body.find(p + "l2_events_total{type=\"delete\"} 2\n"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::testing
