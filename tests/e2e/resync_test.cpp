// End-to-end: startup resync from a fake MP server's GET /l2/keys.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

std::string entry(int i, uint64_t size, const std::string& salt = "") {
  return fmt::format(
      R"({{"key":{{"chunk_hash_hex":"{:064x}","model_name":"m","kv_rank":0,"object_group_id":0,"cache_salt":"{}"}},"size_bytes":{}}})",
      i, salt, size);
}

std::map<std::string, std::string> resync_env(const std::string& page_size) {
  return {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", "true"},
          {"LMCACHE_MP_COORDINATOR_RESYNC_POLL_INTERVAL", "0.1"},
          {"LMCACHE_MP_COORDINATOR_RESYNC_MAX_WAIT", "20"},
          {"LMCACHE_MP_COORDINATOR_RESYNC_PAGE_SIZE", page_size}};
}

double usage_bytes(HttpTestClient& client, const std::string& salt_path) {
  return client.get("/l2/status/" + salt_path).json().at("usage_gb").to_number<double>() *
         1073741824.0;
}

void register_at(HttpTestClient& client, uint16_t port) {
  auto res =
      client.post("/instances",
                  fmt::format(R"({{"instance_id":"src","ip":"127.0.0.1","http_port":{}}})", port));
  ASSERT_EQ(res.status, 200);
}

TEST(ResyncTest, PagesThroughKeysSkippingBadEntries) {
  FakeMpServer server;
  std::vector<std::string> entries;
  entries.reserve(9);  // seven keys and two bad entries
  for (int i = 0; i < 7; ++i) entries.push_back(entry(i, 100 + i));
  entries.insert(entries.begin() + 4,
                 R"({"key":{"chunk_hash_hex":"zz","model_name":"m","kv_rank":0},"size_bytes":5})");
  entries.push_back(R"({"nonsense":true})");
  entries.push_back(entry(50, 1000, "tenant"));
  server.set_keys(entries);

  CoordinatorProcess coordinator({"--eviction-check-interval", "0"}, resync_env("3"));
  HttpTestClient client(coordinator.port());
  register_at(client, server.port());
  ASSERT_TRUE(coordinator.wait_for_log("resync done", 20s)) << coordinator.log();
  EXPECT_NE(coordinator.log().find("8 keys recorded"), std::string::npos) << coordinator.log();
  EXPECT_NE(coordinator.log().find("2 entries skipped"), std::string::npos) << coordinator.log();
  EXPECT_DOUBLE_EQ(usage_bytes(client, "_default"), 100 + 101 + 102 + 103 + 104 + 105 + 106);
  EXPECT_DOUBLE_EQ(usage_bytes(client, "tenant"), 1000);
  for (size_t size : server.keys_page_sizes()) EXPECT_EQ(size, 3U);
  EXPECT_EQ(server.keys_page_sizes().size(), 4U);  // 10 entries in pages of 3
}

TEST(ResyncTest, PageSizeAboveFiveThousandIsClamped) {
  FakeMpServer server;
  server.set_keys({entry(1, 10)});
  CoordinatorProcess coordinator({"--eviction-check-interval", "0"}, resync_env("10000"));
  HttpTestClient client(coordinator.port());
  register_at(client, server.port());
  ASSERT_TRUE(coordinator.wait_for_log("resync done", 20s)) << coordinator.log();
  EXPECT_NE(coordinator.log().find("clamped to 5000"), std::string::npos);
  ASSERT_FALSE(server.keys_page_sizes().empty());
  EXPECT_EQ(server.keys_page_sizes().front(), 5000U);
  EXPECT_DOUBLE_EQ(usage_bytes(client, "_default"), 10);
}

TEST(ResyncTest, HttpFailureKeepsWhatWasRecordedAndGivesUp) {
  FakeMpServer server;
  std::vector<std::string> entries;
  entries.reserve(6);
  for (int i = 0; i < 6; ++i) entries.push_back(entry(i, 10));
  server.set_keys(entries);
  server.set_keys_fail_at_page(1);
  CoordinatorProcess coordinator({"--eviction-check-interval", "0"}, resync_env("2"));
  HttpTestClient client(coordinator.port());
  register_at(client, server.port());
  ASSERT_TRUE(coordinator.wait_for_log("resync gave up", 20s)) << coordinator.log();
  EXPECT_DOUBLE_EQ(usage_bytes(client, "_default"), 20);  // the first page only
  EXPECT_EQ(client.get("/healthz").status, 200);
}

TEST(ResyncTest, NoInstanceWithinMaxWaitSkips) {
  auto env = resync_env("10");
  env["LMCACHE_MP_COORDINATOR_RESYNC_MAX_WAIT"] = "0.3";
  CoordinatorProcess coordinator({}, env);
  EXPECT_TRUE(coordinator.wait_for_log("skipped", 10s)) << coordinator.log();
}

TEST(ResyncTest, DisabledDoesNotCallTheServer) {
  FakeMpServer server;
  server.set_keys({entry(1, 10)});
  auto env = resync_env("10");
  env["LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC"] = "no";
  // Eviction sweeps count only while an instance is registered: five of them, every 0.1 s, span
  // five resync polls (RESYNC_POLL_INTERVAL 0.1), each of which would have paged the server.
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.1"}, env);
  HttpTestClient client(coordinator.port());
  register_at(client, server.port());
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 5)) << coordinator.log();
  EXPECT_TRUE(server.keys_page_sizes().empty());
}

}  // namespace
}  // namespace lmcache::testing
