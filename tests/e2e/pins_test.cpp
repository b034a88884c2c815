// End-to-end: POST, DELETE and GET /cache/pins (protocol-v2.md Part A 7-8): reference counts,
// validation, durability across a restart, and pinned keys never sent for eviction.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Chunks of 4 tokens keep the bodies small.
const std::vector<std::string> kChunkOfFour = {"--blend-chunk-size", "4"};

std::string pin_body(int world_size, const json::array& tokens, const std::string& salt = "") {
  return json::serialize(json::object{{"model_name", "llama"},
                                      {"world_size", world_size},
                                      {"token_ids", tokens},
                                      {"cache_salt", salt}});
}

json::array token_range(int first, int count) {
  json::array tokens;
  for (int i = 0; i < count; ++i) tokens.emplace_back(first + i);
  return tokens;
}

json::value answer(int requested, int affected, const std::string& status) {
  return json::object{{"requested", requested}, {"affected", affected}, {"status", status}};
}

// The first error of a 422 answer.
json::value first_error(const TestResponse& res) {
  return json::parse(res.body).at("detail").at(0);
}

TEST(PinRoutesTest, PinsAreCountedPerKeyAndUnpinFloorsAtZero) {
  CoordinatorProcess coordinator(kChunkOfFour);
  HttpTestClient client(coordinator.port());
  const std::string body = pin_body(2, token_range(0, 10));  // 2 full chunks x 2 ranks

  auto res = client.post("/cache/pins", body);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), answer(2, 4, "pinned"));
  EXPECT_EQ(client.post("/cache/pins", body).json(), answer(2, 4, "pinned"));

  auto listing = client.get("/cache/pins").json();
  EXPECT_EQ(listing.at("total"), 4);
  const auto& pins = listing.at("pins").as_array();
  ASSERT_EQ(pins.size(), 4U);
  for (const auto& pin : pins) EXPECT_EQ(pin.at("pin_count"), 2) << pin;
  // Ranks of world size 2, packed as upstream: (2<<24)|(w<<16)|(2<<8)|w.
  std::vector<int64_t> ranks;
  for (const auto& pin : pins) ranks.push_back(pin.at("key").at("kv_rank").to_number<int64_t>());
  std::sort(ranks.begin(), ranks.end());
  EXPECT_EQ(ranks, (std::vector<int64_t>{0x02000200, 0x02000200, 0x02010201, 0x02010201}));
  EXPECT_EQ(pins[0].at("key").at("model_name"), "llama");
  EXPECT_EQ(pins[0].at("key").at("object_group_id"), 0);
  EXPECT_EQ(pins[0].at("key").at("chunk_hash_hex").as_string().size(), 64U);
  EXPECT_EQ(metric_value(client, "lmcache_coordinator_pinned_keys"), 4.0);

  EXPECT_EQ(client.del("/cache/pins", body).json(), answer(2, 4, "unpinned"));
  EXPECT_EQ(client.get("/cache/pins").json().at("pins").at(0).at("pin_count"), 1);
  EXPECT_EQ(client.del("/cache/pins", body).json(), answer(2, 4, "unpinned"));
  EXPECT_EQ(client.get("/cache/pins").json(), json::parse(R"({"total":0,"pins":[]})"));
  EXPECT_EQ(client.del("/cache/pins", body).json(), answer(2, 0, "unpinned"));  // floors at 0
  EXPECT_EQ(metric_value(client, "lmcache_coordinator_pinned_keys"), 0.0);

  // Fewer tokens than a chunk: nothing to pin.
  EXPECT_EQ(client.post("/cache/pins", pin_body(1, token_range(0, 3))).json(),
            answer(0, 0, "pinned"));
}

TEST(PinRoutesTest, RanksAboveInt32MaxAreSentUnsigned) {
  CoordinatorProcess coordinator(kChunkOfFour);
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(client.post("/cache/pins", pin_body(128, token_range(0, 4))).json(),
            answer(1, 128, "pinned"));
  const auto listing = client.get("/cache/pins").json();
  EXPECT_EQ(listing.at("total"), 128);
  // Sorted by rank: worker 0 first, (128<<24)|(128<<8) = 2147516416.
  EXPECT_EQ(listing.at("pins").at(0).at("key").at("kv_rank").to_number<int64_t>(), 2147516416);
  EXPECT_EQ(listing.at("pins").at(127).at("key").at("kv_rank").to_number<int64_t>(),
            (int64_t{128} << 24) | (127 << 16) | (128 << 8) | 127);
}

TEST(PinRoutesTest, InvalidRequestsAreRejectedAndPinNothing) {
  CoordinatorProcess coordinator(kChunkOfFour);
  HttpTestClient client(coordinator.port());

  json::array bad_tokens = token_range(0, 8);
  bad_tokens[5] = int64_t{4294967296};
  auto res = client.post("/cache/pins", pin_body(1, bad_tokens));
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(first_error(res).at("loc"), json::parse(R"(["body","token_ids",5])"));

  bad_tokens[5] = -1;
  res = client.del("/cache/pins", pin_body(1, bad_tokens));
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(first_error(res).at("loc"), json::parse(R"(["body","token_ids",5])"));

  res = client.post("/cache/pins", pin_body(1, json::array(1'000'001, json::value(7))));
  EXPECT_EQ(res.status, 400) << res.body;

  for (int world_size : {0, 256}) {
    res = client.post("/cache/pins", pin_body(world_size, token_range(0, 4)));
    ASSERT_EQ(res.status, 422) << res.body;
    EXPECT_EQ(first_error(res).at("loc"), json::parse(R"(["body","world_size"])"));
  }
  res = client.post("/cache/pins", R"({"world_size":1,"token_ids":[1,2,3,4]})");
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(first_error(res).at("loc"), json::parse(R"(["body","model_name"])"));
  res = client.post("/cache/pins", pin_body(1, token_range(0, 4), "a/b"));
  ASSERT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(first_error(res).at("loc"), json::parse(R"(["body","cache_salt"])"));

  EXPECT_EQ(client.get("/cache/pins").json().at("total"), 0);
}

TEST(PinRoutesTest, PinsSurviveARestart) {
  const fs::path dir = fs::temp_directory_path() / ("pins-e2e-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "state.db").string();
  std::vector<std::string> args = kChunkOfFour;
  args.insert(args.end(), {"--state-path", db});
  json::value before;
  {
    CoordinatorProcess coordinator(args);
    HttpTestClient client(coordinator.port());
    ASSERT_EQ(client.post("/cache/pins", pin_body(2, token_range(0, 8), "t")).status, 200);
    ASSERT_EQ(client.post("/cache/pins", pin_body(2, token_range(0, 4), "t")).status, 200);
    before = client.get("/cache/pins").json();
    ASSERT_EQ(before.at("total"), 4);
    client.close();
    EXPECT_EQ(coordinator.stop(SIGKILL), 128 + SIGKILL);  // answered writes are already on disk
  }
  {
    CoordinatorProcess coordinator(args);
    HttpTestClient client(coordinator.port());
    EXPECT_EQ(client.get("/cache/pins").json(), before);
    EXPECT_EQ(metric_value(client, "lmcache_coordinator_pinned_keys"), 4.0);
  }
  fs::remove_all(dir);
}

TEST(PinRoutesTest, PinnedKeysAreNeverEvicted) {
  FakeMpServer server;
  std::vector<std::string> args = kChunkOfFour;
  args.insert(args.end(), {"--eviction-check-interval", "0.2"});
  CoordinatorProcess coordinator(args);
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(client.post("/cache/pins", pin_body(1, token_range(100, 4))).status, 200);
  const json::value pinned_key = client.get("/cache/pins").json().at("pins").at(0).at("key");
  const json::value unpinned_key = json::object{{"chunk_hash_hex", fmt::format("{:064x}", 7)},
                                                {"model_name", "llama"},
                                                {"kv_rank", 16777472},
                                                {"object_group_id", 0},
                                                {"cache_salt", ""}};

  ASSERT_EQ(client
                .post("/instances", fmt::format(R"({{"instance_id":"mp-a","ip":"127.0.0.1",)"
                                                R"("http_port":{}}})",
                                                server.port()))
                .status,
            200);
  // Salt "" has no quota and the default is 0: every unpinned key of it is a victim. The pinned
  // key is the least recent.
  json::array events;
  for (const auto& key : {pinned_key, unpinned_key}) {
    events.emplace_back(json::object{{"type", "store"}, {"key", key}, {"bytes", 1024}});
  }
  auto res = client.post(
      "/l2/events",
      json::serialize(json::object{{"instance_id", "mp-a"}, {"seq", 1}, {"events", events}}));
  ASSERT_EQ(res.status, 200) << res.body;

  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 3));
  EXPECT_EQ(server.deleted_keys(), (std::vector<json::value>{unpinned_key}));

  // Unpinned, it is the next victim.
  ASSERT_EQ(client.del("/cache/pins", pin_body(1, token_range(100, 4))).json(),
            answer(1, 1, "unpinned"));
  ASSERT_TRUE(server.wait_for_deletes(2, 15s));
  EXPECT_EQ(server.deleted_keys(), (std::vector<json::value>{unpinned_key, pinned_key}));
}

}  // namespace
}  // namespace lmcache::testing
