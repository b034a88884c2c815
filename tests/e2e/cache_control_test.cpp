// End-to-end: the v2 cache control routes (protocol-v2.md Part B 2.5) against fake v2 MP servers:
// POST /cache/prefetches and its status proxy, POST /cache/delete (pins skipped or forced), and
// POST /directory/blend-lookup fed by POST /events (Part B 2.4).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

// Chunks of 4 tokens keep the bodies small.
const std::vector<std::string> kArgs = {"--blend-chunk-size", "4", "--eviction-check-interval",
                                        "0"};

json::array token_range(int first, int count) {
  json::array tokens;
  for (int i = 0; i < count; ++i) tokens.emplace_back(first + i);
  return tokens;
}

// A body of `count` zero tokens plus the other fields, built as text (a million tokens).
std::string body_with_tokens(const std::string& fields, size_t count) {
  std::string body = "{" + fields + ",\"token_ids\":[";
  for (size_t i = 0; i < count; ++i) body += i == 0 ? "0" : ",0";
  return body + "]}";
}

// A port nobody listens on (a fake server that has stopped).
uint16_t dead_port() {
  FakeMpServer gone(FakeMpServer::Dialect::kV2);
  return gone.port();
}

class CacheControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_instance("mp-a", server_.port());
    register_instance("mp-dead", dead_port());
  }

  void register_instance(const std::string& id, uint16_t port) {
    auto res = client_.post(
        "/instances",
        fmt::format(R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", id, port));
    ASSERT_EQ(res.status, 200) << res.body;
  }

  static std::string delete_body(const std::string& instance, const json::array& tokens,
                                 int world_size = 1, const std::string& tier = "all",
                                 bool force = false) {
    return json::serialize(json::object{{"instance_id", instance},
                                        {"model_name", "llama"},
                                        {"world_size", world_size},
                                        {"token_ids", tokens},
                                        {"cache_salt", "t"},
                                        {"tier", tier},
                                        {"force", force}});
  }

  static std::string pin_body(const json::array& tokens, int world_size = 1) {
    return json::serialize(json::object{{"model_name", "llama"},
                                        {"world_size", world_size},
                                        {"token_ids", tokens},
                                        {"cache_salt", "t"}});
  }

  // The keys GET /cache/pins lists, in its order.
  std::vector<json::value> pinned_keys() {
    std::vector<json::value> out;
    const json::value listing = client_.get("/cache/pins").json();
    for (const auto& pin : listing.at("pins").as_array()) {
      out.push_back(pin.at("key"));
    }
    return out;
  }

  FakeMpServer server_{FakeMpServer::Dialect::kV2};
  CoordinatorProcess coordinator_{kArgs};
  HttpTestClient client_{coordinator_.port()};
};

// --- POST /cache/prefetches ----------------------------------------------------------------

// 512 tokens: two of the fake server's 256-token chunks.
std::string prefetch_body(const std::string& instance = "mp-a", int tokens = 512) {
  return json::serialize(json::object{{"instance_id", instance},
                                      {"model_name", "llama"},
                                      {"world_size", 2},
                                      {"token_ids", token_range(0, tokens)},
                                      {"cache_salt", "t"}});
}

TEST_F(CacheControlTest, PrefetchIsForwardedThenPolledPendingCompletedAndForgotten) {
  auto res = client_.post("/cache/prefetches", prefetch_body());
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"mp-a","request_id":"r-1","chunks":2,)"
                                    R"("status":"submitted"})"));
  ASSERT_EQ(server_.prefetch_bodies().size(), 1U);
  EXPECT_EQ(json::parse(server_.prefetch_bodies()[0]),
            (json::object{{"model_name", "llama"},
                          {"world_size", 2},
                          {"token_ids", token_range(0, 512)},
                          {"cache_salt", "t"}}));
  EXPECT_EQ(server_.requests().at(0).target, "/cache/prefetches");

  auto pending = client_.get("/cache/prefetches/mp-a/r-1");
  EXPECT_EQ(pending.status, 200);
  EXPECT_EQ(pending.json(), json::parse(R"({"request_id":"r-1","status":"pending"})"));
  auto completed = client_.get("/cache/prefetches/mp-a/r-1");
  EXPECT_EQ(completed.status, 200);
  EXPECT_EQ(completed.json().at("status"), "completed");
  EXPECT_EQ(completed.json().at("found_keys"), 2);
  auto gone = client_.get("/cache/prefetches/mp-a/r-1");
  EXPECT_EQ(gone.status, 404);
  EXPECT_TRUE(gone.json().at("detail").is_string());
  EXPECT_EQ(server_.requests().back().target, "/cache/prefetches/r-1");
}

TEST_F(CacheControlTest, PrefetchNoopIsRelayed) {
  auto res = client_.post("/cache/prefetches", prefetch_body("mp-a", 8));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"mp-a","request_id":"","chunks":0,)"
                                    R"("status":"noop"})"));
  EXPECT_EQ(
      metric_value(client_, R"(lmcache_coordinator_cache_prefetch_requests_total{outcome="noop"})"),
      1.0);
}

TEST_F(CacheControlTest, PrefetchErrors) {
  auto unknown =
      client_.post("/cache/prefetches",
                   R"({"instance_id":"ghost","model_name":"m","world_size":1,"token_ids":[]})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json(),
            json::parse(R"({"detail":"no MP server registered with instance_id='ghost'"})"));
  EXPECT_EQ(client_.get("/cache/prefetches/ghost/r-1").status, 404);

  auto bad_world =
      client_.post("/cache/prefetches",
                   R"({"instance_id":"mp-a","model_name":"m","world_size":0,"token_ids":[]})");
  EXPECT_EQ(bad_world.status, 422);
  EXPECT_EQ(bad_world.json().at("detail").at(0).at("loc"), json::parse(R"(["body","world_size"])"));
  auto bad_token = client_.post(
      "/cache/prefetches",
      R"({"instance_id":"mp-a","model_name":"m","world_size":1,"token_ids":[1,4294967296]})");
  EXPECT_EQ(bad_token.status, 422);
  EXPECT_EQ(bad_token.json().at("detail").at(0).at("loc"),
            json::parse(R"(["body","token_ids",1])"));
  auto too_many = client_.post(
      "/cache/prefetches",
      body_with_tokens(R"("instance_id":"mp-a","model_name":"m","world_size":1)", 1'000'001));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_TRUE(too_many.json().at("detail").is_string());
  EXPECT_TRUE(server_.prefetch_bodies().empty());

  server_.set_prefetch_submit_response(503, R"({"detail":"no layout"})");
  EXPECT_EQ(client_.post("/cache/prefetches", prefetch_body()).status, 502);

  auto dead =
      client_.post("/cache/prefetches",
                   R"({"instance_id":"mp-dead","model_name":"m","world_size":1,"token_ids":[1]})");
  EXPECT_EQ(dead.status, 502);
  EXPECT_TRUE(dead.json().at("detail").is_string());
  EXPECT_EQ(client_.get("/cache/prefetches/mp-dead/r-1").status, 502);
  EXPECT_EQ(metric_value(client_,
                         R"(lmcache_coordinator_cache_prefetch_requests_total{outcome="failed"})"),
            2.0);
}

// --- POST /cache/delete -----------------------------------------------------------------

TEST_F(CacheControlTest, DeleteSendsTheResolvedKeysWithTierAndForce) {
  const json::array tokens = token_range(0, 9);  // 2 full chunks
  // The keys pins resolve from the same tokens are the keys the delete sends.
  ASSERT_EQ(client_.post("/cache/pins", pin_body(tokens, 2)).status, 200);
  std::vector<json::value> expected = pinned_keys();
  ASSERT_EQ(expected.size(), 4U);
  ASSERT_EQ(client_.del("/cache/pins", pin_body(tokens, 2)).status, 200);

  auto res = client_.post("/cache/delete", delete_body("mp-a", tokens, 2, "l1", false));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"mp-a","requested":2,"affected":4,)"
                                    R"("skipped":0,"status":"deleted"})"));
  ASSERT_EQ(server_.delete_bodies().size(), 1U);
  const json::value sent = json::parse(server_.delete_bodies()[0]);
  EXPECT_EQ(server_.requests().back().method, "DELETE");
  EXPECT_EQ(server_.requests().back().target, "/cache/objects");
  EXPECT_EQ(sent.at("tier"), "l1");
  EXPECT_EQ(sent.at("force"), false);
  std::vector<json::value> keys(sent.at("keys").as_array().begin(),
                                sent.at("keys").as_array().end());
  auto by_text = [](const json::value& a, const json::value& b) {
    return json::serialize(a) < json::serialize(b);
  };
  std::sort(keys.begin(), keys.end(), by_text);
  std::sort(expected.begin(), expected.end(), by_text);
  EXPECT_EQ(keys, expected);
  // One audit line for the change, written once the node answered.
  EXPECT_TRUE(coordinator_.wait_for_log(
      R"(request="POST /cache/delete" target="4 keys (2 chunks) of model 'llama' cache_salt )"
      R"('t' on instance 'mp-a', tier l1" before="0 pinned keys skipped" after="4 deleted, 0 )"
      R"(skipped by the node, 0 unpinned")"))
      << coordinator_.log();
}

TEST_F(CacheControlTest, PinnedKeysAreSkippedUnlessForcedAndForceDropsThePins) {
  const json::array tokens = token_range(0, 8);  // 2 chunks, world size 1: 2 keys
  const json::array first_chunk = token_range(0, 4);
  ASSERT_EQ(client_.post("/cache/pins", pin_body(first_chunk)).status, 200);

  auto kept = client_.post("/cache/delete", delete_body("mp-a", tokens));
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(kept.json(), json::parse(R"({"instance_id":"mp-a","requested":2,"affected":1,)"
                                     R"("skipped":1,"status":"deleted"})"));
  ASSERT_EQ(server_.deleted_keys().size(), 1U);
  EXPECT_NE(server_.deleted_keys()[0], pinned_keys().at(0));

  // Only the pinned chunk: nothing to send, no request made.
  auto noop = client_.post("/cache/delete", delete_body("mp-a", first_chunk, 1, "l2"));
  EXPECT_EQ(noop.json(), json::parse(R"({"instance_id":"mp-a","requested":1,"affected":0,)"
                                     R"("skipped":1,"status":"noop"})"));
  EXPECT_EQ(server_.delete_bodies().size(), 1U);

  // L1 alone ignores pins.
  auto l1 = client_.post("/cache/delete", delete_body("mp-a", first_chunk, 1, "l1"));
  EXPECT_EQ(l1.json().at("affected"), 1);
  EXPECT_EQ(l1.json().at("skipped"), 0);
  EXPECT_EQ(pinned_keys().size(), 1U);

  // Forced: sent, and the pin is gone.
  auto forced = client_.post("/cache/delete", delete_body("mp-a", tokens, 1, "all", true));
  EXPECT_EQ(forced.json(), json::parse(R"({"instance_id":"mp-a","requested":2,"affected":2,)"
                                       R"("skipped":0,"status":"deleted"})"));
  EXPECT_EQ(json::parse(server_.delete_bodies().back()).at("force"), true);
  EXPECT_TRUE(pinned_keys().empty());
  EXPECT_EQ(metric_value(client_,
                         R"(lmcache_coordinator_cache_delete_keys_total{result="skipped_pinned"})"),
            2.0);
  EXPECT_EQ(metric_value(client_,
                         R"(lmcache_coordinator_cache_delete_requests_total{outcome="deleted"})"),
            3.0);
}

TEST_F(CacheControlTest, DeleteAddsTheNodesSkippedCount) {
  server_.set_delete_response(200, R"({"deleted":1,"skipped":1,"ok":true})");
  auto res = client_.post("/cache/delete", delete_body("mp-a", token_range(0, 8)));
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"mp-a","requested":2,"affected":1,)"
                                    R"("skipped":1,"status":"deleted"})"));
}

TEST_F(CacheControlTest, MoreThanTenThousandKeysGoInSeveralRequests) {
  // 5,001 chunks at world size 2: 10,002 keys.
  auto res = client_.post("/cache/delete", delete_body("mp-a", token_range(0, 4 * 5001), 2));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json().at("requested"), 5001);
  EXPECT_EQ(res.json().at("affected"), 10002);
  const std::vector<std::string> bodies = server_.delete_bodies();
  ASSERT_EQ(bodies.size(), 2U);
  EXPECT_EQ(json::parse(bodies[0]).at("keys").as_array().size(), 10000U);
  EXPECT_EQ(json::parse(bodies[1]).at("keys").as_array().size(), 2U);
}

TEST_F(CacheControlTest, ShortTokensAreANoopWithoutARequest) {
  auto res = client_.post("/cache/delete", delete_body("mp-a", token_range(0, 3)));
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"mp-a","requested":0,"affected":0,)"
                                    R"("skipped":0,"status":"noop"})"));
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CacheControlTest, DeleteErrors) {
  auto unknown = client_.post("/cache/delete", delete_body("ghost", token_range(0, 8)));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json(),
            json::parse(R"({"detail":"no MP server registered with instance_id='ghost'"})"));

  auto bad_tier = client_.post("/cache/delete", delete_body("mp-a", token_range(0, 8), 1, "L3"));
  EXPECT_EQ(bad_tier.status, 422);
  EXPECT_EQ(bad_tier.json().at("detail").at(0).at("loc"), json::parse(R"(["body","tier"])"));
  auto bad_force = client_.post(
      "/cache/delete",
      R"({"instance_id":"mp-a","model_name":"m","world_size":1,"token_ids":[],"force":"maybe"})");
  EXPECT_EQ(bad_force.status, 422);
  EXPECT_EQ(bad_force.json().at("detail").at(0).at("loc"), json::parse(R"(["body","force"])"));
  auto missing =
      client_.post("/cache/delete", R"({"model_name":"m","world_size":1,"token_ids":[]})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.json().at("detail").at(0).at("loc"), json::parse(R"(["body","instance_id"])"));
  auto bad_salt = client_.post(
      "/cache/delete",
      R"({"instance_id":"mp-a","model_name":"m","world_size":1,"token_ids":[],"cache_salt":"a@b"})");
  EXPECT_EQ(bad_salt.status, 422);
  EXPECT_EQ(client_.post("/cache/delete", "[1]").status, 422);
  auto too_many = client_.post(
      "/cache/delete",
      body_with_tokens(R"("instance_id":"mp-a","model_name":"m","world_size":1)", 1'000'001));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_TRUE(server_.requests().empty());

  server_.set_delete_response(503, R"({"detail":"not initialized"})");
  EXPECT_EQ(client_.post("/cache/delete", delete_body("mp-a", token_range(0, 8))).status, 502);
  server_.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"disk"})");
  auto not_ok = client_.post("/cache/delete", delete_body("mp-a", token_range(0, 8)));
  EXPECT_EQ(not_ok.status, 502);
  EXPECT_NE(not_ok.json().at("detail").as_string().find("disk"), std::string::npos);

  auto dead = client_.post("/cache/delete", delete_body("mp-dead", token_range(0, 8)));
  EXPECT_EQ(dead.status, 502);
  EXPECT_TRUE(dead.json().at("detail").is_string());
  EXPECT_EQ(
      metric_value(client_, R"(lmcache_coordinator_cache_delete_requests_total{outcome="failed"})"),
      3.0);
}

TEST_F(CacheControlTest, AForcedDeleteThatFailsKeepsThePins) {
  ASSERT_EQ(client_.post("/cache/pins", pin_body(token_range(0, 4))).status, 200);
  server_.set_delete_response(500, R"({"detail":"boom"})");
  EXPECT_EQ(
      client_.post("/cache/delete", delete_body("mp-a", token_range(0, 4), 1, "all", true)).status,
      502);
  EXPECT_EQ(pinned_keys().size(), 1U);
}

// --- POST /directory/blend-lookup --------------------------------------------------------

// One store (or delete) batch on `tier` of one entry per chunk: chunk i of `tokens` under hash
// `hashes[i]`, at offset 4*i, for world size 1 rank 0 (kv_rank 0x01000100).
json::object store_batch(int64_t seq, std::string_view type, const std::vector<std::string>& hashes,
                         const std::vector<int>& tokens, const std::string& salt = "t",
                         std::string_view tier = "l2") {
  json::array entries;
  for (size_t i = 0; i < hashes.size(); ++i) {
    json::object entry{{"key", json::object{{"chunk_hash_hex", hashes[i]},
                                            {"model_name", "llama"},
                                            {"kv_rank", 0x01000100},
                                            {"object_group_id", 0},
                                            {"cache_salt", salt}}},
                       {"size_bytes", 100}};
    if (type == "store") {
      json::array chunk;
      for (size_t j = 4 * i; j < 4 * i + 4 && j < tokens.size(); ++j) chunk.emplace_back(tokens[j]);
      entry["token_ids"] = std::move(chunk);
      entry["token_offset"] = 4 * i;
    }
    entries.push_back(std::move(entry));
  }
  return json::object{{"instance_id", "mp-a"}, {"incarnation", 1},  {"seq", seq},
                      {"event_type", type},    {"tier", tier},      {"backend", "fs"},
                      {"ts", 1788000000.5},    {"entries", entries}};
}

std::string lookup_body(const std::vector<int>& tokens, const std::string& salt = "t",
                        int world_size = 1) {
  json::array ids(tokens.begin(), tokens.end());
  return json::serialize(json::object{{"token_ids", ids},
                                      {"model_name", "llama"},
                                      {"world_size", world_size},
                                      {"cache_salt", salt}});
}

TEST_F(CacheControlTest, BlendLookupFindsStoredChunksAnywhereInTheRequest) {
  const std::string h1(64, 'a'), h2(64, 'b');
  auto posted = client_.post(
      "/events",
      json::serialize(json::object{
          {"batches", json::array{store_batch(1, "store", {h1, h2}, {1, 2, 3, 4, 5, 6, 7, 8})}}}));
  ASSERT_EQ(posted.status, 200) << posted.body;

  // The document's chunks, shifted by 3 tokens and in reverse order.
  auto res =
      client_.post("/directory/blend-lookup", lookup_body({9, 9, 9, 5, 6, 7, 8, 1, 2, 3, 4}));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(),
            json::parse(fmt::format(R"({{"matches":[{{"chunk_hash":"{}","old_st":4,"cur_st":3}},)"
                                    R"({{"chunk_hash":"{}","old_st":0,"cur_st":7}}]}})",
                                    h2, h1)));
  // Other salts and world sizes see nothing.
  EXPECT_EQ(client_.post("/directory/blend-lookup", lookup_body({1, 2, 3, 4}, "other")).json(),
            json::parse(R"({"matches":[]})"));
  EXPECT_EQ(client_.post("/directory/blend-lookup", lookup_body({1, 2, 3, 4}, "t", 2)).json(),
            json::parse(R"({"matches":[]})"));

  // The delete of its only placement takes the chunk out.
  ASSERT_EQ(client_
                .post("/events", json::serialize(json::object{
                                     {"batches", json::array{store_batch(2, "delete", {h1}, {})}}}))
                .status,
            200);
  auto after = client_.post("/directory/blend-lookup", lookup_body({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(after.json(),
            json::parse(
                fmt::format(R"({{"matches":[{{"chunk_hash":"{}","old_st":4,"cur_st":4}}]}})", h2)));
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_blend_lookup_requests_total"), 4.0);
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_blend_lookup_matches_total"), 3.0);
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_blend_feed_chunks"), 1.0);
  EXPECT_EQ(
      metric_value(client_, R"(lmcache_coordinator_blend_feed_chunks_total{change="removed"})"),
      1.0);
}

TEST_F(CacheControlTest, ARestartFencesChunksHeldOnlyInTheInstancesL1) {
  const std::string in_l1(64, 'c'), in_l2(64, 'd');
  json::array batches{store_batch(1, "store", {in_l1}, {1, 2, 3, 4}, "t", "l1"),
                      store_batch(2, "store", {in_l2}, {5, 6, 7, 8}, "t", "l2")};
  ASSERT_EQ(client_.post("/events", json::serialize(json::object{{"batches", batches}}))
                .json()
                .at("applied"),
            2);
  EXPECT_EQ(client_.post("/directory/blend-lookup", lookup_body({1, 2, 3, 4, 5, 6, 7, 8}))
                .json()
                .at("matches")
                .as_array()
                .size(),
            2U);
  // The instance restarts: a batch of a higher incarnation fences its L1 placements.
  json::object restart = store_batch(1, "store", {}, {});
  restart["incarnation"] = 2;
  ASSERT_EQ(
      client_.post("/events", json::serialize(json::object{{"batches", json::array{restart}}}))
          .status,
      200);
  EXPECT_EQ(client_.post("/directory/blend-lookup", lookup_body({1, 2, 3, 4, 5, 6, 7, 8})).json(),
            json::parse(fmt::format(
                R"({{"matches":[{{"chunk_hash":"{}","old_st":0,"cur_st":4}}]}})", in_l2)));
}

TEST_F(CacheControlTest, BlendLookupErrors) {
  auto empty = client_.post("/directory/blend-lookup", lookup_body({}));
  EXPECT_EQ(empty.status, 422);
  EXPECT_EQ(empty.json().at("detail").at(0).at("loc"), json::parse(R"(["body","token_ids"])"));
  auto no_model = client_.post("/directory/blend-lookup", R"({"token_ids":[1,2,3,4]})");
  EXPECT_EQ(no_model.status, 422);
  EXPECT_EQ(no_model.json().at("detail").at(0).at("loc"), json::parse(R"(["body","model_name"])"));
  auto no_tokens = client_.post("/directory/blend-lookup", R"({"model_name":"m"})");
  EXPECT_EQ(no_tokens.status, 422);
  EXPECT_EQ(client_.post("/directory/blend-lookup", "not json").status, 422);
  auto too_many =
      client_.post("/directory/blend-lookup", body_with_tokens(R"("model_name":"m")", 1'000'001));
  EXPECT_EQ(too_many.status, 400);
  // world_size defaults to 1 and cache_salt to "".
  auto defaults =
      client_.post("/directory/blend-lookup", R"({"token_ids":[1,2,3,4],"model_name":"m"})");
  EXPECT_EQ(defaults.status, 200);
  EXPECT_EQ(defaults.json(), json::parse(R"({"matches":[]})"));
}

}  // namespace
}  // namespace lmcache::testing
