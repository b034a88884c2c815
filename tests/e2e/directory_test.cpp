// End-to-end: the key directory (POST /directory/lookup, GET /directory/keys, GET
// /directory/stats) and fleet memory (GET /instances/usage, GET /instances/{id}/usage) of the
// real binary, fed through POST /events and the seed-era POST /l2/events.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

json::object key(char c, int64_t rank = 0) {
  return json::object{{"chunk_hash_hex", std::string(64, c)},
                      {"model_name", "llama"},
                      {"kv_rank", rank},
                      {"object_group_id", 0},
                      {"cache_salt", "tenant"}};
}

struct Entry {
  json::object key;
  int64_t size = 1000;
  json::array token_ids = {};
};

json::object batch(std::string_view instance, int64_t incarnation, int64_t seq,
                   std::string_view type, std::string_view tier, std::string_view backend,
                   std::vector<Entry> entries, bool shared = false) {
  json::array listed;
  for (Entry& e : entries) {
    json::object entry{{"key", std::move(e.key)}, {"size_bytes", e.size}};
    if (!e.token_ids.empty()) {
      entry["token_ids"] = std::move(e.token_ids);
      entry["token_offset"] = 0;
    }
    listed.push_back(std::move(entry));
  }
  return json::object{{"instance_id", instance},
                      {"incarnation", incarnation},
                      {"seq", seq},
                      {"event_type", type},
                      {"tier", tier},
                      {"backend", backend},
                      {"shared", shared},
                      {"ts", 1788000000.5},
                      {"entries", std::move(listed)}};
}

json::object placement(std::string_view instance, int64_t incarnation, std::string_view tier,
                       std::string_view backend, int64_t size, bool shared = false) {
  return json::object{{"instance_id", instance}, {"incarnation", incarnation}, {"tier", tier},
                      {"backend", backend},      {"size_bytes", size},         {"shared", shared}};
}

class DirectoryTest : public ::testing::Test {
 protected:
  void post_events(json::array batches) {
    auto res = client_.post("/events", json::serialize(json::object{{"batches", batches}}));
    ASSERT_EQ(res.status, 200) << res.body;
    ASSERT_EQ(res.json().at("applied"), batches.size()) << res.body;
  }

  TestResponse lookup(const json::object& body) {
    return client_.post("/directory/lookup", json::serialize(body));
  }

  json::value lookup_keys(json::array keys) {
    auto res = lookup(json::object{{"keys", std::move(keys)}});
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json();
  }

  json::value get_json(const std::string& target) {
    auto res = client_.get(target);
    EXPECT_EQ(res.status, 200) << target << ": " << res.body;
    return res.json();
  }

  // Chunks of 4 tokens keep the token bodies small.
  CoordinatorProcess coordinator_{{"--blend-chunk-size", "4"}};
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(DirectoryTest, LookupByKeysAnswersPlacementsSortedAndTokenIdsInRequestOrder) {
  post_events({batch("mp-b", 3, 1, "store", "l2", "fs", {{key('a'), 4096}}),
               batch("mp-a", 1, 1, "store", "l1", "cpu", {{key('a'), 512, {7, 8, 9, 10}}}),
               batch("mp-c", 2, 1, "store", "l2", "s3", {{key('a'), 4000}}, true)});
  const json::value answer = lookup_keys({key('f'), key('a')});
  EXPECT_EQ(answer.at("chunks"), 2);
  const auto& results = answer.at("results").as_array();
  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0],
            (json::object{
                {"key", key('f')}, {"placements", json::array{}}, {"token_ids", json::array{}}}));
  EXPECT_EQ(results[1].at("key"), key('a'));
  EXPECT_EQ(
      results[1].at("placements"),
      (json::array{placement("mp-a", 1, "l1", "cpu", 512), placement("mp-b", 3, "l2", "fs", 4096),
                   placement("mp-c", 2, "l2", "s3", 4000, true)}));
  EXPECT_EQ(results[1].at("token_ids"), (json::array{7, 8, 9, 10}));
  // The binding is keyed by the chunk hash alone: another rank of the hash shares it.
  EXPECT_EQ(lookup_keys({key('a', 1)}).at("results").at(0).at("token_ids"),
            (json::array{7, 8, 9, 10}));
}

TEST_F(DirectoryTest, LookupByTokensExpandsChunksRankMinorAndFindsStoredKeys) {
  const json::object body{{"token_ids", json::array{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
                          {"model_name", "llama"},
                          {"world_size", 2},
                          {"cache_salt", "tenant"}};
  auto res = lookup(body);
  ASSERT_EQ(res.status, 200) << res.body;
  json::value answer = res.json();
  EXPECT_EQ(answer.at("chunks"), 2);  // the partial third chunk is ignored
  const auto& results = answer.at("results").as_array();
  ASSERT_EQ(results.size(), 4U);
  // Chunk-major, rank-minor; ranks packed as upstream: (2<<24)|(w<<16)|(2<<8)|w.
  const std::vector<int64_t> ranks = {0x02000200, 0x02010201, 0x02000200, 0x02010201};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(results[i].at("key").at("kv_rank"), ranks[i]) << i;
    EXPECT_EQ(results[i].at("placements"), json::array{}) << i;
  }
  EXPECT_EQ(results[0].at("key").at("chunk_hash_hex"), results[1].at("key").at("chunk_hash_hex"));
  EXPECT_NE(results[0].at("key").at("chunk_hash_hex"), results[2].at("key").at("chunk_hash_hex"));

  // Store the second chunk's rank-1 key; the same tokens find it.
  json::object stored = results[3].at("key").as_object();
  post_events({batch("mp-a", 1, 1, "store", "l2", "fs", {{stored, 777, {4, 5, 6, 7}}})});
  answer = lookup(body).json();
  EXPECT_EQ(answer.at("results").at(3).at("placements"),
            json::array{placement("mp-a", 1, "l2", "fs", 777)});
  EXPECT_EQ(answer.at("results").at(3).at("token_ids"), (json::array{4, 5, 6, 7}));
  EXPECT_EQ(answer.at("results").at(1).at("placements"), json::array{});
  EXPECT_EQ(answer.at("results").at(2).at("token_ids"), (json::array{4, 5, 6, 7}));

  // world_size defaults to 1.
  answer =
      lookup(json::object{{"token_ids", json::array{0, 1, 2, 3}}, {"model_name", "llama"}}).json();
  ASSERT_EQ(answer.at("results").as_array().size(), 1U);
  EXPECT_EQ(answer.at("results").at(0).at("key").at("kv_rank"), 0x01000100);
  EXPECT_EQ(answer.at("results").at(0).at("key").at("cache_salt"), "");
}

TEST_F(DirectoryTest, LookupByTokensAnswersTheSameWhenTheLinkCacheAnswers) {
  // A prompt of 5 chunks, a continuation sharing its first 3, and a coordinator without the
  // cache as the reference.
  json::array prompt;
  for (int64_t t = 0; t < 20; ++t) prompt.push_back(t * 7919 % 128000);
  json::array continuation(prompt.begin(), prompt.begin() + 12);
  for (int64_t t = 0; t < 8; ++t) continuation.push_back(100000 + t);
  auto body = [](const json::array& tokens) {
    return json::object{{"token_ids", tokens},
                        {"model_name", "llama"},
                        {"world_size", 2},
                        {"cache_salt", "tenant"}};
  };
  CoordinatorProcess uncached{{"--blend-chunk-size", "4", "--token-chain-cache-mb", "0"}};
  HttpTestClient reference(uncached.port());
  const auto expected = [&](const json::array& tokens) {
    auto res = reference.post("/directory/lookup", json::serialize(body(tokens)));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.body;
  };
  const std::string prompt_answer = expected(prompt);
  const std::string continuation_answer = expected(continuation);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(lookup(body(prompt)).body, prompt_answer) << "round " << round;
    EXPECT_EQ(lookup(body(continuation)).body, continuation_answer) << "round " << round;
  }
  // From the second request of each prompt on its links are held: the third round alone reads
  // all 10 of them from the cache.
  EXPECT_GE(metric_value(client_, "lmcache_coordinator_token_chain_cache_hits_total"), 10.0);
  EXPECT_EQ(metric_value(reference, "lmcache_coordinator_token_chain_cache_hits_total"), 0.0);
}

TEST_F(DirectoryTest, LookupRejectsBadBodies) {
  const auto status_of = [this](const std::string& body) {
    return client_.post("/directory/lookup", body).status;
  };
  EXPECT_EQ(status_of("{}"), 422);                                               // neither form
  EXPECT_EQ(status_of(R"({"keys":[],"token_ids":[1],"model_name":"m"})"), 422);  // both
  EXPECT_EQ(status_of(R"({"token_ids":[1,2,3,4]})"), 422);                       // no model_name
  EXPECT_EQ(status_of(R"({"token_ids":[1],"model_name":"m","world_size":0})"), 422);
  EXPECT_EQ(status_of(R"({"keys":"nope"})"), 422);
  EXPECT_EQ(status_of("[1]"), 422);
  EXPECT_EQ(status_of("not json"), 422);

  // A token outside [0, 2^32) is a 422 naming its index.
  auto res =
      client_.post("/directory/lookup", R"({"token_ids":[1,4294967296,3,4],"model_name":"m"})");
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(res.json().at("detail").at(0).at("loc"), (json::array{"body", "token_ids", 1}));
  res = client_.post("/directory/lookup", R"({"token_ids":[-1],"model_name":"m"})");
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(res.json().at("detail").at(0).at("loc"), (json::array{"body", "token_ids", 0}));

  // An invalid key is a 400 naming it.
  json::object bad = key('a');
  bad["chunk_hash_hex"] = "abc";
  res = lookup(json::object{{"keys", json::array{key('a'), bad}}});
  ASSERT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.json().at("detail").as_string().find("keys[1]"), json::string::npos) << res.body;

  // Over 1,000,000 tokens is a 400.
  std::string many = R"({"model_name":"m","token_ids":[)";
  for (int i = 0; i < 1'000'001; ++i) many += i == 0 ? "1" : ",1";
  many += "]}";
  res = client_.post("/directory/lookup", many);
  EXPECT_EQ(res.status, 400) << res.body.substr(0, 200);
  EXPECT_EQ(client_.get("/healthz").status, 200);
}

TEST_F(DirectoryTest, KeyStoredThroughL2EventsHasOneL2Placement) {
  json::object store{{"type", "store"}, {"key", key('a')}, {"bytes", 4096}};
  auto res = client_.post(
      "/l2/events", json::serialize(json::object{
                        {"instance_id", "mp-old"}, {"seq", 1}, {"events", json::array{store}}}));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(lookup_keys({key('a')}).at("results").at(0).at("placements"),
            json::array{placement("mp-old", 0, "l2", "", 4096)});

  // A v2 delete of the key in L2 removes the seed-era placement too (one key, both dialects).
  post_events({batch("mp-new", 1, 1, "delete", "l2", "fs", {{key('a')}})});
  EXPECT_EQ(lookup_keys({key('a')}).at("results").at(0).at("placements"), json::array{});
}

TEST_F(DirectoryTest, RestartAndDeregistrationFenceL1PlacementsOnly) {
  post_events({batch("mp-a", 1, 1, "store", "l1", "cpu", {{key('a'), 10}, {key('b'), 10}}),
               batch("mp-a", 1, 2, "store", "l2", "fs", {{key('a'), 100}}),
               batch("mp-b", 1, 1, "store", "l1", "cpu", {{key('b'), 20}})});
  EXPECT_EQ(get_json("/directory/stats").at("l1_keys_by_instance"),
            (json::object{{"mp-a", 2}, {"mp-b", 1}}));

  // mp-a restarts: its L1 placements go, its L2 placement stays.
  post_events({batch("mp-a", 2, 1, "store", "l1", "cpu", {{key('c'), 30}})});
  json::value answer = lookup_keys({key('a'), key('b'), key('c')});
  EXPECT_EQ(answer.at("results").at(0).at("placements"),
            json::array{placement("mp-a", 1, "l2", "fs", 100)});
  EXPECT_EQ(answer.at("results").at(1).at("placements"),
            json::array{placement("mp-b", 1, "l1", "cpu", 20)});
  EXPECT_EQ(answer.at("results").at(2).at("placements"),
            json::array{placement("mp-a", 2, "l1", "cpu", 30)});

  // Deregistration fences too.
  EXPECT_EQ(client_.del("/instances/mp-a").status, 204);
  answer = lookup_keys({key('a'), key('c')});
  EXPECT_EQ(answer.at("results").at(0).at("placements").as_array().size(), 1U);
  EXPECT_EQ(answer.at("results").at(1).at("placements"), json::array{});
  const json::value stats = get_json("/directory/stats");
  EXPECT_EQ(stats.at("num_keys"), 2);
  EXPECT_EQ(stats.at("num_placements"), 2);
  EXPECT_EQ(stats.at("l1_keys_by_instance"), (json::object{{"mp-b", 1}}));
}

TEST_F(DirectoryTest, KeysListsMatchingPlacementsAndPages) {
  post_events({batch("mp-a", 1, 1, "store", "l2", "fs", {{key('a')}, {key('b'), 1000, {1, 2}}}),
               batch("mp-b", 1, 1, "store", "l1", "cpu", {{key('b'), 10}, {key('c'), 10}})});
  json::value page = get_json("/directory/keys");
  EXPECT_EQ(page.at("total"), 3);
  ASSERT_EQ(page.at("keys").as_array().size(), 3U);
  EXPECT_EQ(page.at("keys").at(0).at("key"), key('a'));  // insertion order
  EXPECT_EQ(page.at("keys").at(1).at("num_tokens"), 2);
  EXPECT_EQ(page.at("keys").at(1).at("placements").as_array().size(), 2U);

  page = get_json("/directory/keys?tier=l1");
  EXPECT_EQ(page.at("total"), 2);
  EXPECT_EQ(page.at("keys").at(0),
            (json::object{{"key", key('b')},
                          {"placements", json::array{placement("mp-b", 1, "l1", "cpu", 10)}},
                          {"num_tokens", 2}}));
  page = get_json("/directory/keys?instance_id=mp-a&backend=fs&offset=1&limit=1");
  EXPECT_EQ(page.at("total"), 2);
  ASSERT_EQ(page.at("keys").as_array().size(), 1U);
  EXPECT_EQ(page.at("keys").at(0).at("key"), key('b'));
  EXPECT_EQ(get_json("/directory/keys?instance_id=nobody").at("total"), 0);
  EXPECT_EQ(get_json("/directory/keys?tier=all&offset=5").at("keys"), json::array{});

  for (const char* bad : {"tier=l3", "offset=-1", "limit=0", "limit=10001", "limit=x"}) {
    auto res = client_.get(std::string("/directory/keys?") + bad);
    EXPECT_EQ(res.status, 422) << bad << ": " << res.body;
    EXPECT_EQ(res.json().at("detail").at(0).at("loc").at(0), "query") << bad;
  }
}

TEST_F(DirectoryTest, StatsCountKeysPlacementsAndTheBlendIndex) {
  json::value stats = get_json("/directory/stats");
  EXPECT_EQ(stats, json::parse(R"({"num_keys":0,"num_placements":0,"l1_keys_by_instance":{},
      "blend":{"num_contents":0,"num_chunks":0,"num_claims":0,"num_namespaces":0,
      "table_size":0}})"));
  post_events({batch("mp-a", 1, 1, "store", "l2", "fs", {{key('a')}, {key('b')}}),
               batch("mp-a", 1, 2, "store", "l1", "cpu", {{key('a')}})});
  stats = get_json("/directory/stats");
  EXPECT_EQ(stats.at("num_keys"), 2);
  EXPECT_EQ(stats.at("num_placements"), 3);
  EXPECT_EQ(stats.at("l1_keys_by_instance"), (json::object{{"mp-a", 1}}));
  EXPECT_TRUE(stats.at("blend").as_object().contains("table_size"));
}

TEST_F(DirectoryTest, MetricsCountKeysAndPlacementsByTierAndLookups) {
  post_events({batch("mp-a", 1, 1, "store", "l2", "fs", {{key('a')}, {key('b')}}),
               batch("mp-b", 1, 1, "store", "l2", "fs", {{key('a')}}),
               batch("mp-a", 1, 2, "store", "l1", "cpu", {{key('c')}})});
  lookup_keys({key('a')});
  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_directory_keys{tier="l2"})"), 2.0);
  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_directory_keys{tier="l1"})"), 1.0);
  EXPECT_EQ(metric_value(client_, R"(lmcache_coordinator_directory_placements{tier="l2"})"), 3.0);
  EXPECT_EQ(metric_value(client_, "lmcache_coordinator_directory_lookups_total"), 1.0);
}

TEST_F(DirectoryTest, InstanceUsageJoinsBytesWithDeclaredCapacity) {
  ASSERT_EQ(
      client_.post("/instances", R"({"instance_id":"mp-r","ip":"10.0.0.1","http_port":80})").status,
      200);
  json::object fs_config = batch("mp-a", 1, 1, "config", "l2", "fs", {});
  fs_config.erase("entries");
  fs_config["capacity_bytes"] = 4000;
  fs_config["capacity_revision"] = 1;
  json::object pool_a = fs_config;
  pool_a["seq"] = 2;
  pool_a["backend"] = "s3";
  pool_a["shared"] = true;
  pool_a["capacity_bytes"] = 1 << 20;
  json::object pool_b = pool_a;
  pool_b["instance_id"] = "mp-b";
  pool_b["seq"] = 1;
  post_events({fs_config, pool_a, pool_b,
               batch("mp-a", 1, 3, "store", "l2", "fs", {{key('a'), 1000}, {key('b'), 1000}}),
               batch("mp-a", 1, 4, "store", "l2", "s3", {{key('c'), 500}}, true),
               batch("mp-b", 1, 2, "store", "l2", "s3", {{key('d'), 300}}, true),
               batch("mp-b", 1, 3, "store", "l1", "cpu", {{key('d'), 50}})});

  const json::value fleet = get_json("/instances/usage");
  const auto& instances = fleet.at("instances").as_array();
  ASSERT_EQ(instances.size(), 3U) << fleet;
  EXPECT_EQ(instances[0], json::parse(R"({"instance_id":"mp-a","registered":false,
      "declared_capacity":true,"modules":[{"tier":"l2","backend":"fs","shared":false,
      "used_bytes":2000,"capacity_bytes":4000,"usage_ratio":0.5}]})"));
  EXPECT_EQ(instances[1], json::parse(R"({"instance_id":"mp-b","registered":false,
      "declared_capacity":true,"modules":[{"tier":"l1","backend":"cpu","shared":false,
      "used_bytes":50,"capacity_bytes":0,"usage_ratio":null}]})"));
  EXPECT_EQ(instances[2], json::parse(R"({"instance_id":"mp-r","registered":true,
      "declared_capacity":false,"modules":[]})"));
  // The shared pool is counted once, with the capacity both declarers agree on.
  ASSERT_EQ(fleet.at("shared_modules").as_array().size(), 1U) << fleet;
  const auto& pool = fleet.at("shared_modules").at(0);
  EXPECT_EQ(pool.at("tier"), "l2");
  EXPECT_EQ(pool.at("backend"), "s3");
  EXPECT_EQ(pool.at("shared"), true);
  EXPECT_EQ(pool.at("used_bytes"), 800);
  EXPECT_EQ(pool.at("capacity_bytes"), 1 << 20);
  EXPECT_DOUBLE_EQ(pool.at("usage_ratio").to_number<double>(), 800.0 / (1 << 20));

  EXPECT_EQ(get_json("/instances/mp-a/usage"), instances[0]);
  EXPECT_EQ(get_json("/instances/mp-r/usage"), instances[2]);
  auto res = client_.get("/instances/nobody/usage");
  EXPECT_EQ(res.status, 404) << res.body;
  EXPECT_TRUE(res.json().as_object().contains("detail"));

  // Declarers that disagree leave the pool's capacity undeclared.
  json::object pool_b2 = pool_b;
  pool_b2["seq"] = 4;
  pool_b2["capacity_bytes"] = 5;
  post_events({pool_b2});
  const json::value after = get_json("/instances/usage");
  EXPECT_EQ(after.at("shared_modules").at(0).at("capacity_bytes"), 0);
  EXPECT_TRUE(after.at("shared_modules").at(0).at("usage_ratio").is_null());
}

}  // namespace
}  // namespace lmcache::testing
