// End-to-end: warm restart from --checkpoint-path. The real binary is stopped cleanly or
// killed, started again on the same checkpoint, and observed through GET /quota, POST /events
// answers, /metrics and its log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator_process.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr double kGib = 1073741824.0;

json::object key(int n, const std::string& salt) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", n);
  return json::object{{"chunk_hash_hex", hex},
                      {"model_name", "llama"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

// One store batch of `count` keys of `size` bytes each in `salt`, from key number `first`.
std::string store_batch(const std::string& instance, int64_t seq, const std::string& salt,
                        int first, int count, int64_t size) {
  json::array entries;
  for (int n = first; n < first + count; ++n) {
    entries.push_back(json::object{{"key", key(n, salt)}, {"size_bytes", size}});
  }
  json::object batch{{"instance_id", instance},
                     {"incarnation", 1788000000},
                     {"seq", seq},
                     {"event_type", "store"},
                     {"tier", "l2"},
                     {"backend", "fs"},
                     {"ts", 1788000000.5},
                     {"entries", std::move(entries)}};
  return json::serialize(json::object{{"batches", json::array{batch}}});
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("checkpoint_e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "derived.ckpt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> args(const std::string& interval) const {
    return {"--checkpoint-path",         path_, "--checkpoint-interval", interval,
            "--eviction-check-interval", "0"};
  }

  static double usage_bytes(HttpTestClient& client, const std::string& salt) {
    auto res = client.get("/quota/" + salt);
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("usage_gb").to_number<double>() * kGib;
  }

  static json::value post(HttpTestClient& client, const std::string& body) {
    auto res = client.post("/events", body);
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json();
  }

  // Stores 20 keys of salt alpha in a coordinator started with `args`, then stops it cleanly,
  // which writes the checkpoint.
  static void write_checkpoint_of_alpha(const std::vector<std::string>& args) {
    CoordinatorProcess coordinator(args);
    HttpTestClient client(coordinator.port());
    post(client, store_batch("mp-1", 1, "alpha", 0, 20, 1000));
    EXPECT_EQ(coordinator.stop(SIGTERM), 0);
  }

  // The checkpoint file as it is on disk.
  std::string checkpoint_bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(CheckpointTest, CleanStopWritesACheckpointThatTheNextStartLoads) {
  {
    CoordinatorProcess coordinator(args("0"));
    HttpTestClient client(coordinator.port());
    post(client, store_batch("mp-1", 1, "alpha", 0, 100, 1000));
    post(client, store_batch("mp-1", 2, "beta", 100, 10, 5000));
    EXPECT_EQ(coordinator.stop(SIGTERM), 0);
  }
  ASSERT_TRUE(fs::exists(path_));

  CoordinatorProcess coordinator(args("0"));
  EXPECT_TRUE(coordinator.wait_for_log("warm start from " + path_ + ": 110 L2 keys"))
      << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_NEAR(usage_bytes(client, "alpha"), 100 * 1000.0, 1);
  EXPECT_NEAR(usage_bytes(client, "beta"), 10 * 5000.0, 1);
  // The cursor came back too: the last batch again is a duplicate, the next one applies.
  EXPECT_EQ(post(client, store_batch("mp-1", 2, "beta", 100, 10, 5000)).at("duplicates"), 1);
  EXPECT_EQ(post(client, store_batch("mp-1", 3, "beta", 200, 1, 7)).at("applied"), 1);
  EXPECT_NEAR(usage_bytes(client, "beta"), 10 * 5000.0 + 7, 1);
}

TEST_F(CheckpointTest, PeriodicCheckpointSurvivesAKill) {
  {
    CoordinatorProcess coordinator(args("0.2"));
    HttpTestClient client(coordinator.port());
    post(client, store_batch("mp-1", 1, "alpha", 0, 50, 2048));
    // Two more checkpoints written after the store: the second began after it.
    const double written =
        metric_value(client, "checkpoint_writes_total{outcome=\"written\"}").value_or(0);
    ASSERT_TRUE(
        wait_for_metric(client, "checkpoint_writes_total{outcome=\"written\"}", written + 2));
    EXPECT_GT(metric_value(client, "checkpoint_last_bytes").value_or(0), 50 * 32);
    coordinator.stop(SIGKILL);
  }
  CoordinatorProcess coordinator(args("0.2"));
  HttpTestClient client(coordinator.port());
  EXPECT_NEAR(usage_bytes(client, "alpha"), 50 * 2048.0, 1);
}

TEST_F(CheckpointTest, CorruptCheckpointIsLoggedAndTheStartIsCold) {
  write_checkpoint_of_alpha(args("0"));
  // Flip one byte in the middle of the body.
  std::string bytes = checkpoint_bytes();
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;

  CoordinatorProcess coordinator(args("0"));
  EXPECT_TRUE(coordinator.wait_for_log("checkpoint not loaded, starting cold"))
      << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_NEAR(usage_bytes(client, "alpha"), 0.0, 1);
  // The cursor is gone with the rest: the same batch applies again.
  EXPECT_EQ(post(client, store_batch("mp-1", 1, "alpha", 0, 20, 1000)).at("applied"), 1);
  EXPECT_NEAR(usage_bytes(client, "alpha"), 20 * 1000.0, 1);
}

// The matches of `body` at `route`, as "key old_st cur_st" lines (`key_field` names the key).
std::vector<std::string> matches(HttpTestClient& client, const std::string& route,
                                 const std::string& body, const char* key_field) {
  auto res = client.post(route, body);
  EXPECT_EQ(res.status, 200) << res.body;
  std::vector<std::string> out;
  if (res.status != 200) return out;
  const json::value answer = res.json();
  for (const auto& m : answer.at("matches").as_array()) {
    out.push_back(std::string(m.at(key_field).as_string()) + " " +
                  std::to_string(m.at("old_st").to_number<uint64_t>()) + " " +
                  std::to_string(m.at("cur_st").to_number<uint64_t>()));
  }
  return out;
}

// A v2 store of one chunk of four tokens (world size 1, rank 0) under hash h, at offset 8.
std::string blend_store_batch(int64_t seq, std::string_view type, const std::string& h) {
  json::object entry{{"key", json::object{{"chunk_hash_hex", h},
                                          {"model_name", "llama"},
                                          {"kv_rank", 0x01000100},
                                          {"object_group_id", 0},
                                          {"cache_salt", "t"}}},
                     {"size_bytes", 100}};
  if (type == "store") {
    entry["token_ids"] = json::array{11, 12, 13, 14};
    entry["token_offset"] = 8;
  }
  json::object batch{{"instance_id", "mp-b"},
                     {"incarnation", 1},
                     {"seq", seq},
                     {"event_type", type},
                     {"tier", "l2"},
                     {"backend", "fs"},
                     {"ts", 1788000000.5},
                     {"entries", json::array{entry}}};
  return json::serialize(json::object{{"batches", json::array{batch}}});
}

TEST_F(CheckpointTest, BlendContentPublishedBeforeARestartIsFoundAfterIt) {
  std::vector<std::string> args = this->args("0");
  args.insert(args.end(), {"--blend-chunk-size", "4"});
  const std::string publish =
      R"({"ranges":[{"model_scope":"m","tokens":[1,2,3,4,5,6,7,8],"object_keys":["a","b"],)"
      R"("old_st_base":100}]})";
  const std::string match = R"({"model_scope":"m","tokens":[0,5,6,7,8,1,2,3,4]})";
  const std::string lookup = R"({"token_ids":[9,11,12,13,14],"model_name":"llama",)"
                             R"("world_size":1,"cache_salt":"t"})";
  const std::string h(64, 'c');
  std::vector<std::string> before_match;
  {
    CoordinatorProcess coordinator(args);
    HttpTestClient client(coordinator.port());
    ASSERT_EQ(client.post("/blend/fingerprints", publish).status, 200);
    post(client, blend_store_batch(1, "store", h));
    before_match = matches(client, "/blend/match", match, "object_key");
    ASSERT_EQ(before_match, (std::vector<std::string>{"b 104 1", "a 100 5"}));
    ASSERT_EQ(matches(client, "/directory/blend-lookup", lookup, "chunk_hash"),
              (std::vector<std::string>{h + " 8 1"}));
    EXPECT_EQ(coordinator.stop(SIGTERM), 0);
  }

  CoordinatorProcess coordinator(args);
  EXPECT_TRUE(coordinator.wait_for_log("3 blend entries")) << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(matches(client, "/blend/match", match, "object_key"), before_match);
  EXPECT_EQ(matches(client, "/directory/blend-lookup", lookup, "chunk_hash"),
            (std::vector<std::string>{h + " 8 1"}));
  // The chunk's placement came back with it: its delete takes the chunk out.
  post(client, blend_store_batch(2, "delete", h));
  EXPECT_TRUE(matches(client, "/directory/blend-lookup", lookup, "chunk_hash").empty());
}

TEST_F(CheckpointTest, CheckpointOfAnOlderFormatIsLoggedAndTheStartIsCold) {
  write_checkpoint_of_alpha(args("0"));
  // Version 1 in the header (before the blend index was in the body); the digest covers the
  // body only, so the file is sound but of another format.
  std::string bytes = checkpoint_bytes();
  ASSERT_GT(bytes.size(), 16u);
  ASSERT_EQ(bytes[8], 2);
  bytes[8] = 1;
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;

  CoordinatorProcess coordinator(args("0"));
  EXPECT_TRUE(coordinator.wait_for_log("checkpoint not loaded, starting cold"))
      << coordinator.log();
  EXPECT_TRUE(coordinator.wait_for_log("checkpoint format version 1.0, expected 2.0"))
      << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_NEAR(usage_bytes(client, "alpha"), 0.0, 1);
}

TEST_F(CheckpointTest, AnotherBlendChunkSizeIsALoggedColdStart) {
  std::vector<std::string> args = this->args("0");
  args.insert(args.end(), {"--blend-chunk-size", "4"});
  write_checkpoint_of_alpha(args);
  // The saved fingerprints cover windows of 4 tokens: useless to an index of 8.
  args.back() = "8";
  CoordinatorProcess coordinator(args);
  EXPECT_TRUE(coordinator.wait_for_log("its state does not load: starting cold"))
      << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_NEAR(usage_bytes(client, "alpha"), 0.0, 1);
}

TEST_F(CheckpointTest, MissingCheckpointIsAColdStart) {
  CoordinatorProcess coordinator(args("0"));
  EXPECT_TRUE(coordinator.wait_for_log("no checkpoint at " + path_)) << coordinator.log();
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
}

}  // namespace
}  // namespace lmcache::testing
