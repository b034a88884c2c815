// End-to-end: quota eviction dispatched to fake MP servers.
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

std::string hash_hex(int i) { return fmt::format("{:064x}", i); }

json::object key_json(int i, const std::string& salt) {
  return json::object{{"chunk_hash_hex", hash_hex(i)},
                      {"model_name", "llama"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

// Posts one batch of events of `type` for keys [first, last) of `salt`.
void post_events(HttpTestClient& client, const std::string& instance, int seq,
                 const std::string& type, int first, int last, const std::string& salt,
                 uint64_t bytes = 1024) {
  json::array events;
  for (int i = first; i < last; ++i) {
    events.emplace_back(json::object{{"type", type}, {"key", key_json(i, salt)}, {"bytes", bytes}});
  }
  auto res = client.post(
      "/l2/events",
      json::serialize(json::object{{"instance_id", instance}, {"seq", seq}, {"events", events}}));
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_EQ(res.json().at("recorded").to_number<int>(), last - first) << res.body;
}

void register_instance(HttpTestClient& client, const std::string& id, uint16_t port) {
  auto res = client.post(
      "/instances",
      fmt::format(R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", id, port));
  ASSERT_EQ(res.status, 200) << res.body;
}

// The hashes of every key in every DELETE /l2 received, in order.
std::vector<std::string> deleted_hashes(const FakeMpServer& server) {
  std::vector<std::string> hashes;
  for (const auto& key : server.deleted_keys()) {
    hashes.emplace_back(key.at("chunk_hash_hex").as_string());
  }
  return hashes;
}

// DELETE /l2 requests the coordinator has sent, counted when sent.
double dispatches(HttpTestClient& client) {
  return metric_value(client, "lmcache_coordinator_eviction_dispatches_total").value_or(-1);
}

// 4096 bytes, exactly representable in GiB.
constexpr double kFourKiBInGib = 4096.0 / 1073741824.0;

TEST(EvictionTest, OverQuotaSaltGetsExactlyTheLruVictims) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2", "--eviction-ratio", "0.5"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server.port());
  ASSERT_EQ(
      client.put("/l2/quota/t", json::serialize(json::object{{"limit_gb", kFourKiBInGib}})).status,
      200);
  post_events(client, "mp-a", 1, "store", 0, 10, "t");  // keys 0..9, 1 KiB each
  post_events(client, "mp-a", 2, "lookup", 0, 1, "t");  // key 0 becomes most recent

  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  std::vector<std::string> expected;
  for (int i = 1; i <= 5; ++i) expected.push_back(hash_hex(i));  // floor(10 * 0.5) from the LRU end
  EXPECT_EQ(deleted_hashes(server), expected);
  const auto first = server.deleted_keys().front();
  EXPECT_EQ(first, json::value(key_json(1, "t")));

  // In flight: not sent again on the next sweeps.
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 3));
  EXPECT_EQ(dispatches(client), 1);
  EXPECT_EQ(server.delete_bodies().size(), 1U);

  // Usage only moves when the deletes come back as events.
  auto status = client.get("/l2/status/t").json();
  EXPECT_DOUBLE_EQ(status.at("usage_gb").to_number<double>(), 10240.0 / 1073741824.0);
  post_events(client, "mp-a", 3, "delete", 1, 6, "t");
  status = client.get("/l2/status/t").json();
  EXPECT_DOUBLE_EQ(status.at("usage_gb").to_number<double>(), 5120.0 / 1073741824.0);

  // Still over (5120 >= 4096): the next sweep takes floor(5 * 0.5) = 2 more from the LRU end.
  ASSERT_TRUE(server.wait_for_deletes(2, 15s));
  const auto all = deleted_hashes(server);
  ASSERT_EQ(all.size(), 7U);
  EXPECT_EQ(all[5], hash_hex(6));
  EXPECT_EQ(all[6], hash_hex(7));
}

TEST(EvictionTest, SaltWithoutQuotaIsEvictedWhole) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server.port());
  post_events(client, "mp-a", 1, "store", 0, 7, "no-quota");
  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  EXPECT_EQ(deleted_hashes(server).size(), 7U);
}

TEST(EvictionTest, LargeVictimSetsAreSplitIntoRequestsOfAtMostTenThousandKeys) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.3"});
  HttpTestClient client(coordinator.port());
  // All 25,000 keys are stored before the instance registers: sweeps skip while nobody is
  // registered, so the first sweep that sends anything sees every key, however slowly the
  // stores arrive (a sweep between two stores would split the victims differently).
  int seq = 1;
  for (int first = 0; first < 25000; first += 2500) {
    post_events(client, "mp-a", seq++, "store", first, first + 2500, "bulk", 1);
  }
  register_instance(client, "mp-a", server.port());
  ASSERT_TRUE(server.wait_for_deletes(3, 30s));
  // A later sweep sends nothing more: the victims are in flight.
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 2));
  EXPECT_EQ(dispatches(client), 3);
  EXPECT_EQ(server.delete_bodies().size(), 3U);
  size_t total = 0;
  for (const auto& body : server.delete_bodies()) {
    const size_t keys = json::parse(body).at("keys").as_array().size();
    EXPECT_LE(keys, 10000U);
    total += keys;
  }
  EXPECT_EQ(total, 25000U);
}

TEST(EvictionTest, VictimsGoToTheInstanceThatStoredThem) {
  FakeMpServer server_a;
  FakeMpServer server_b;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server_a.port());
  register_instance(client, "mp-b", server_b.port());
  post_events(client, "mp-a", 1, "store", 0, 5, "s");
  post_events(client, "mp-b", 1, "store", 100, 103, "s");
  ASSERT_TRUE(server_a.wait_for_deletes(1, 15s));
  ASSERT_TRUE(server_b.wait_for_deletes(1, 15s));
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 2));
  EXPECT_EQ(dispatches(client), 2);
  auto a = deleted_hashes(server_a);
  auto b = deleted_hashes(server_b);
  EXPECT_EQ(a.size(), 5U);
  EXPECT_EQ(b.size(), 3U);
  for (const auto& h : a) EXPECT_LT(h, hash_hex(100));
  for (const auto& h : b) EXPECT_GE(h, hash_hex(100));
}

TEST(EvictionTest, FailedDispatchIsRetriedOnAnotherInstance) {
  uint16_t closed_port = 0;
  {
    FakeMpServer gone;  // bound, then closed: connections are refused
    closed_port = gone.port();
  }
  FakeMpServer live;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "dead", closed_port);
  register_instance(client, "live", live.port());
  post_events(client, "dead", 1, "store", 0, 4, "s");
  ASSERT_TRUE(live.wait_for_deletes(1, 20s));
  EXPECT_EQ(deleted_hashes(live).size(), 4U);
  EXPECT_TRUE(coordinator.wait_for_log("failed"));
}

TEST(EvictionTest, UnresponsiveInstanceDoesNotStallTheLoopOrInboundTraffic) {
  FakeMpServer stuck;
  stuck.set_blackhole(true);
  FakeMpServer live;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "stuck", stuck.port());
  register_instance(client, "live", live.port());
  post_events(client, "stuck", 1, "store", 0, 3, "s1");
  ASSERT_TRUE(stuck.wait_for_requests(1, 15s));

  // While the stuck server holds its DELETE open, inbound requests are answered
  // promptly and later sweeps still dispatch other victims.
  post_events(client, "live", 1, "store", 10, 12, "s2");
  for (int i = 0; i < 20; ++i) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(client.get("/healthz").status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  }
  ASSERT_TRUE(live.wait_for_deletes(1, 15s));
  EXPECT_EQ(deleted_hashes(live).size(), 2U);
}

}  // namespace
}  // namespace lmcache::testing
