// End-to-end: eviction in each instance's own dialect. An instance that has posted /events gets
// DELETE /cache/objects, any other DELETE /l2; both carry {"keys":[...]}.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using Dialect = FakeMpServer::Dialect;

std::string hash_hex(int i) { return fmt::format("{:064x}", i); }

json::object key_json(int i) {
  return json::object{{"chunk_hash_hex", hash_hex(i)},
                      {"model_name", "llama"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", "s"}};
}

// A seed-era server's POST /l2/events: one batch of `type` for keys [first, last).
void post_l2_events(HttpTestClient& client, const std::string& instance, int seq,
                    const std::string& type, int first, int last) {
  json::array events;
  for (int i = first; i < last; ++i) {
    events.emplace_back(json::object{{"type", type}, {"key", key_json(i)}, {"bytes", 1024}});
  }
  auto res = client.post(
      "/l2/events",
      json::serialize(json::object{{"instance_id", instance}, {"seq", seq}, {"events", events}}));
  ASSERT_EQ(res.status, 200) << res.body;
}

// A v2 server's POST /events: one tier-l2 batch of `type` for keys [first, last).
void post_events(HttpTestClient& client, const std::string& instance, int seq,
                 const std::string& type, int first, int last) {
  json::array entries;
  for (int i = first; i < last; ++i) {
    entries.emplace_back(json::object{{"key", key_json(i)}, {"size_bytes", 1024}});
  }
  json::object batch{{"instance_id", instance}, {"incarnation", 1},  {"seq", seq},
                     {"event_type", type},      {"tier", "l2"},      {"backend", "fs"},
                     {"ts", 1788000000.5},      {"entries", entries}};
  auto res = client.post("/events", json::serialize(json::object{{"batches", json::array{batch}}}));
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_EQ(res.json().at("applied"), 1) << res.body;
}

void register_instance(HttpTestClient& client, const std::string& id, uint16_t port) {
  auto res = client.post(
      "/instances",
      fmt::format(R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", id, port));
  ASSERT_EQ(res.status, 200) << res.body;
}

std::set<std::string> hashes(int first, int last) {
  std::set<std::string> out;
  for (int i = first; i < last; ++i) out.insert(hash_hex(i));
  return out;
}

// The hashes of every key in every delete of the server's dialect.
std::set<std::string> deleted_hashes(const FakeMpServer& server) {
  std::set<std::string> out;
  for (const auto& key : server.deleted_keys()) out.emplace(key.at("chunk_hash_hex").as_string());
  return out;
}

// Waits until `server` has been asked to delete every key of `expected`; false on timeout.
bool wait_until_deleted(const FakeMpServer& server, const std::set<std::string>& expected,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::size_t n = 1;; ++n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !server.wait_for_deletes(n, left)) return false;
    const auto got = deleted_hashes(server);
    bool all = true;
    for (const auto& hash : expected) all = all && got.count(hash) > 0;
    if (all) return true;
  }
}

// The targets of every request the server received.
std::set<std::string> targets(const FakeMpServer& server) {
  std::set<std::string> out;
  for (const auto& request : server.requests()) out.insert(request.method + " " + request.target);
  return out;
}

// No quota and the default --default-quota-gb 0: every stored key is a victim.
TEST(EvictionV2Test, MixedFleetGetsTheDeleteOfEachDialect) {
  FakeMpServer seed_era;
  FakeMpServer v2(Dialect::kV2);
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-old", seed_era.port());
  register_instance(client, "mp-new", v2.port());
  post_l2_events(client, "mp-old", 1, "store", 0, 5);
  post_events(client, "mp-new", 1, "store", 100, 103);

  ASSERT_TRUE(seed_era.wait_for_deletes(1, 15s));
  ASSERT_TRUE(v2.wait_for_deletes(1, 15s));
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 2));  // in flight: nothing more is sent
  EXPECT_EQ(deleted_hashes(seed_era), hashes(0, 5));
  EXPECT_EQ(deleted_hashes(v2), hashes(100, 103));
  EXPECT_EQ(targets(seed_era), std::set<std::string>{"DELETE /l2"});
  EXPECT_EQ(targets(v2), std::set<std::string>{"DELETE /cache/objects"});
  EXPECT_EQ(seed_era.delete_bodies().size(), 1U);
  EXPECT_EQ(v2.delete_bodies().size(), 1U);
  EXPECT_EQ(json::parse(v2.delete_bodies()[0]).at("keys").at(0), json::value(key_json(100)));
}

// A 200 answering "ok": false means the server's adapter raised: the keys are sent again, to the
// other instance.
TEST(EvictionV2Test, OkFalseIsRetriedOnAnotherInstance) {
  FakeMpServer failing(Dialect::kV2);
  failing.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"boom"})");
  FakeMpServer other(Dialect::kV2);
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-failing", failing.port());
  register_instance(client, "mp-other", other.port());
  post_events(client, "mp-other", 1, "store", 50, 51);
  post_events(client, "mp-failing", 1, "store", 0, 4);

  ASSERT_TRUE(failing.wait_for_deletes(1, 15s));
  ASSERT_TRUE(wait_until_deleted(other, hashes(0, 4), 20s));
  EXPECT_EQ(targets(other), std::set<std::string>{"DELETE /cache/objects"});
  EXPECT_TRUE(coordinator.wait_for_log("ok:false: boom"));
}

// A 503 (no adapter yet) is retried too, in the other instance's dialect.
TEST(EvictionV2Test, ServiceUnavailableIsRetriedOnAnotherInstance) {
  FakeMpServer failing(Dialect::kV2);
  failing.set_fail_all(503);
  FakeMpServer seed_era;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-failing", failing.port());
  register_instance(client, "mp-old", seed_era.port());
  post_events(client, "mp-failing", 1, "store", 0, 3);

  ASSERT_TRUE(seed_era.wait_for_deletes(1, 20s));
  EXPECT_EQ(deleted_hashes(seed_era), hashes(0, 3));
  EXPECT_EQ(targets(seed_era), std::set<std::string>{"DELETE /l2"});
  const auto failed = failing.requests();
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(failed[0].target, "/cache/objects");
}

// Deregistration forgets the dialect: the same id, back without posting /events, gets DELETE /l2.
TEST(EvictionV2Test, DeregistrationForgetsTheDialect) {
  FakeMpServer v2(Dialect::kV2);
  FakeMpServer seed_era;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-x", v2.port());
  post_events(client, "mp-x", 1, "store", 0, 2);
  ASSERT_TRUE(v2.wait_for_deletes(1, 15s));
  EXPECT_EQ(deleted_hashes(v2), hashes(0, 2));
  post_events(client, "mp-x", 2, "delete", 0, 2);  // the deletes come back: nothing tracked

  ASSERT_EQ(client.del("/instances/mp-x").status, 204);
  register_instance(client, "mp-x", seed_era.port());
  post_l2_events(client, "mp-x", 1, "store", 10, 12);
  ASSERT_TRUE(seed_era.wait_for_deletes(1, 15s));
  EXPECT_EQ(deleted_hashes(seed_era), hashes(10, 12));
  EXPECT_EQ(targets(seed_era), std::set<std::string>{"DELETE /l2"});
  EXPECT_EQ(v2.delete_bodies().size(), 1U);
}

}  // namespace
}  // namespace lmcache::testing
