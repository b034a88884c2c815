// End-to-end: warm takeover in HA mode. A follower replays the leader's mutation log
// (GET /cluster/log), so after a kill -9 of the leader it serves the same usage, cursors and
// blend content. Real etcd (skipped only when /usr/bin/etcd is missing).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>

#include "coordinator_process.h"
#include "etcd_process.h"
#include "eventually.h"
#include "http_test_client.h"
#include "metrics_scrape.h"
#include "readiness_probe.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLease = 2s;
constexpr const char* kApplied = "lmcache_coordinator_replication_applied_total";
constexpr const char* kGaps = "lmcache_coordinator_replication_gaps_total";
constexpr const char* kSnapshots = "lmcache_coordinator_replication_snapshots_total";
constexpr const char* kPosition = "lmcache_coordinator_replication_position";

// The newest seq of the leader's mutation log.
uint64_t leader_last_seq(uint16_t leader_port) {
  HttpTestClient client(leader_port);
  const TestResponse res =
      client.get(fmt::format("/cluster/log?epoch={}&after=0", epoch_of(leader_port)));
  return std::stoull(res.header("x-lmcache-log-last"));
}

// Waits until the follower on `follower` has applied the leader's log up to its newest entry.
bool caught_up(HttpTestClient& follower, uint16_t leader_port) {
  return wait_for_metric(follower, kPosition, static_cast<double>(leader_last_seq(leader_port)));
}

std::string hash(int i) { return fmt::format("{:064x}", i); }

// A v2 batch of instance mp-a storing (or deleting) chunks `first..first+count-1` of `salt` in
// L2, 1000 bytes each, 4 tokens a chunk (token ids 4*i..4*i+3).
json::object v2_batch(int64_t seq, std::string_view type, int first, int count,
                      const std::string& salt, const std::string& instance = "mp-a") {
  json::array entries;
  for (int i = first; i < first + count; ++i) {
    json::object entry{{"key", json::object{{"chunk_hash_hex", hash(i)},
                                            {"model_name", "llama"},
                                            {"kv_rank", 0x01000100},
                                            {"object_group_id", 0},
                                            {"cache_salt", salt}}},
                       {"size_bytes", 1000}};
    if (type == "store") {
      entry["token_ids"] = json::array{4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3};
      entry["token_offset"] = 4 * (i - first);
    }
    entries.push_back(std::move(entry));
  }
  return json::object{{"instance_id", instance}, {"incarnation", 1},  {"seq", seq},
                      {"event_type", type},      {"tier", "l2"},      {"backend", "fs"},
                      {"ts", 1788000000.5},      {"entries", entries}};
}

std::string events_body(json::object batch) {
  return json::serialize(json::object{{"batches", json::array{std::move(batch)}}});
}

// A seed-era /l2/events batch of `instance` storing `count` keys of `salt`, `bytes` each.
std::string l2_batch(int64_t seq, int first, int count, const std::string& salt, int64_t bytes,
                     const std::string& instance = "n1") {
  json::array events;
  for (int i = first; i < first + count; ++i) {
    events.push_back(json::object{{"type", "store"},
                                  {"key", json::object{{"chunk_hash_hex", hash(1000000 + i)},
                                                       {"model_name", "llama"},
                                                       {"kv_rank", 0},
                                                       {"object_group_id", 0},
                                                       {"cache_salt", salt}}},
                                  {"bytes", bytes}});
  }
  return json::serialize(json::object{{"instance_id", instance}, {"seq", seq}, {"events", events}});
}

// A blend publish of one range: 8 tokens from `base`, chunk size 4, keys k<i>-0 and k<i>-1.
std::string blend_publish(int i) {
  json::array tokens;
  for (int t = 0; t < 8; ++t) tokens.emplace_back(100000 + 8 * i + t);
  return json::serialize(json::object{
      {"ranges", json::array{json::object{
                     {"model_scope", "m"},
                     {"tokens", tokens},
                     {"object_keys", json::array{fmt::format("k{}-0", i), fmt::format("k{}-1", i)}},
                     {"old_st_base", 0}}}}});
}

// The number of matches of /blend/match for the tokens of blend_publish(i).
size_t blend_matches(HttpTestClient& client, int i) {
  json::array tokens;
  for (int t = 0; t < 8; ++t) tokens.emplace_back(100000 + 8 * i + t);
  const TestResponse res = client.post(
      "/blend/match", json::serialize(json::object{{"model_scope", "m"}, {"tokens", tokens}}));
  EXPECT_EQ(res.status, 200) << res.body;
  if (res.status != 200) return 0;
  return res.json().at("matches").as_array().size();
}

class HaWarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdProcess::available()) GTEST_SKIP() << EtcdProcess::kBinary << " is not installed";
    etcd_ = std::make_unique<EtcdProcess>();
  }

  std::unique_ptr<CoordinatorProcess> start_node(const std::string& role,
                                                 std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--etcd-endpoints",   etcd_->client_url(),
                                     "--leader-lease",     std::to_string(kLease.count()),
                                     "--blend-chunk-size", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto node = std::make_unique<CoordinatorProcess>(args);
    const uint16_t port = node->port();
    EXPECT_TRUE(eventually([&] { return role_of(port) == role; }, 10s))
        << "never became " << role << ":\n"
        << node->log();
    return node;
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(HaWarmTest, AFollowerElectedAfterAKillServesTheOldLeadersStateWarm) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  // b starts empty: it loads a snapshot of a's (empty) state first, then tails the log.
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();

  int mutations = 0;
  ASSERT_EQ(
      to_a.post("/instances", R"({"instance_id":"mp-a","ip":"127.0.0.1","http_port":1})").status,
      200);
  ++mutations;
  // v2: 10 batches of 20 chunks over two salts, then a delete of 5 chunks of "alpha".
  int64_t seq = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string salt = i % 2 == 0 ? "alpha" : "beta";
    const TestResponse res =
        to_a.post("/events", events_body(v2_batch(++seq, "store", 20 * i, 20, salt)));
    ASSERT_EQ(res.status, 200) << res.body;
    ASSERT_EQ(res.json().at("applied"), 1) << res.body;
    ++mutations;
  }
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(++seq, "delete", 0, 5, "alpha"))).status,
            200);
  ++mutations;
  // Seed-era: 5 batches of 10 keys of "gamma", 4096 bytes each.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(to_a.post("/l2/events", l2_batch(i + 1, 10 * i, 10, "gamma", 4096)).status, 200);
    ++mutations;
  }
  // Blend: 20 publishes of two chunks each.
  for (int i = 0; i < 20; ++i) {
    const TestResponse res = to_a.post("/blend/fingerprints", blend_publish(i));
    ASSERT_EQ(res.status, 200) << res.body;
    ++mutations;
  }

  // mp-z speaks, then deregisters: its cursor is forgotten.
  ASSERT_EQ(
      to_a.post("/instances", R"({"instance_id":"mp-z","ip":"127.0.0.1","http_port":2})").status,
      200);
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(5, "store", 900, 1, "beta", "mp-z"))).status,
            200);
  ASSERT_EQ(to_a.del("/instances/mp-z").status, 204);
  mutations += 3;

  const json::value status_before = to_a.get("/l2/status").json();
  const json::value stats_before = to_a.get("/directory/stats").json();
  const std::string lookup =
      json::serialize(json::object{{"token_ids", json::array{40, 41, 42, 43, 44, 45, 46, 47}},
                                   {"model_name", "llama"},
                                   {"world_size", 1},
                                   {"cache_salt", "alpha"}});
  const json::value blend_lookup_before = to_a.post("/directory/blend-lookup", lookup).json();
  ASSERT_FALSE(blend_lookup_before.at("matches").as_array().empty());

  // The follower has applied every mutation (its /metrics is its own, never forwarded).
  EXPECT_EQ(leader_last_seq(a->port()), static_cast<uint64_t>(mutations));
  EXPECT_EQ(metric_value(to_a, "lmcache_coordinator_replication_log_entries"), mutations);
  EXPECT_EQ(metric_value(to_b, "lmcache_coordinator_replication_log_entries"), 0.0);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();
  EXPECT_EQ(metric_value(to_b, kApplied), mutations);

  const int64_t old_epoch = epoch_of(a->port());
  a->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200U; }, 10s)) << b->log();
  EXPECT_GT(epoch_of(b->port()), old_epoch);

  // Usage per salt, the directory and the blend content are the old leader's.
  EXPECT_EQ(to_b.get("/l2/status").json(), status_before);
  EXPECT_EQ(to_b.get("/directory/stats").json(), stats_before);
  EXPECT_EQ(to_b.post("/directory/blend-lookup", lookup).json(), blend_lookup_before);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(blend_matches(to_b, i), 2U) << i;

  // The cursors came along: a replayed batch is a duplicate, the next one applies.
  const TestResponse replayed =
      to_b.post("/events", events_body(v2_batch(seq, "delete", 0, 5, "alpha")));
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_EQ(replayed.json().at("duplicates"), 1) << replayed.body;
  const TestResponse next =
      to_b.post("/events", events_body(v2_batch(seq + 1, "store", 500, 1, "alpha")));
  EXPECT_EQ(next.json().at("applied"), 1) << next.body;
  const TestResponse seed_replayed = to_b.post("/l2/events", l2_batch(5, 40, 10, "gamma", 4096));
  EXPECT_EQ(seed_replayed.json().at("duplicate"), true) << seed_replayed.body;
  // The deregistration came along too: mp-z's seq 5 is new again, as it was on a.
  const TestResponse after_deregistration =
      to_b.post("/events", events_body(v2_batch(5, "store", 900, 1, "beta", "mp-z")));
  EXPECT_EQ(after_deregistration.json().at("applied"), 1) << after_deregistration.body;
}

TEST_F(HaWarmTest, TheLogIsServedByTheLeaderOnlyAndFencedByEpoch) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  // b starts empty: it loads a snapshot of a's (empty) state first, then tails the log.
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();
  const int64_t epoch = epoch_of(a->port());
  ASSERT_EQ(to_a.post("/l2/events", l2_batch(1, 0, 1, "s", 10)).status, 200);
  ASSERT_EQ(to_a.post("/blend/match", R"({"model_scope":"m","tokens":[1,2,3,4]})").status, 200);

  const TestResponse log = to_a.get(fmt::format("/cluster/log?epoch={}&after=0", epoch));
  ASSERT_EQ(log.status, 200) << log.body;
  EXPECT_EQ(log.header("content-type"), "application/octet-stream");
  EXPECT_EQ(log.header("x-lmcache-log-epoch"), std::to_string(epoch));
  EXPECT_EQ(log.header("x-lmcache-log-first"), "1");
  EXPECT_EQ(log.header("x-lmcache-log-last"), "1");  // a read (/blend/match) is not logged
  EXPECT_NE(log.body.find(R"("instance_id":"n1")"), std::string::npos);

  const TestResponse other = to_a.get(fmt::format("/cluster/log?epoch={}&after=0", epoch + 1));
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(other.header("x-lmcache-log-refusal"), "epoch");
  const TestResponse ahead = to_a.get(fmt::format("/cluster/log?epoch={}&after=5", epoch));
  EXPECT_EQ(ahead.status, 409) << ahead.body;
  EXPECT_EQ(ahead.header("x-lmcache-log-refusal"), "ahead");
  const TestResponse bad = to_a.get("/cluster/log?epoch=x");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(bad.json().at("detail").as_array().size(), 2U) << bad.body;

  // Nothing newer: a long-poll answers 200 with no entries once its wait is over.
  const TestResponse empty = to_a.get(fmt::format("/cluster/log?epoch={}&after=1", epoch));
  EXPECT_EQ(empty.status, 200) << empty.body;
  EXPECT_TRUE(empty.body.empty());

  // A follower answers for itself (it leads no epoch) rather than forwarding.
  const TestResponse on_follower = to_b.get(fmt::format("/cluster/log?epoch={}&after=0", epoch));
  EXPECT_EQ(on_follower.status, 409) << on_follower.body;
  EXPECT_EQ(on_follower.header("x-lmcache-log-refusal"), "epoch");
}

TEST_F(HaWarmTest, AFollowerThatMissedDroppedEntriesRebuildsFromASnapshot) {
  auto a = start_node("leader", {"--replication-log-mb", "1"});
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  // b starts empty: it loads a snapshot of a's (empty) state first, then tails the log.
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();
  ASSERT_EQ(to_a.post("/l2/events", l2_batch(1, 0, 1, "s", 10)).status, 200);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();

  // Paused, the follower misses more than the leader keeps (1 MiB).
  ASSERT_EQ(kill(b->pid(), SIGSTOP), 0);
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(to_a.post("/l2/events", l2_batch(i + 2, 2000 * i, 2000, "s", 10)).status, 200);
  }
  ASSERT_EQ(kill(b->pid(), SIGCONT), 0);
  EXPECT_GE(metric_value(to_a, "lmcache_coordinator_replication_log_dropped_total"), 1.0);
  EXPECT_LE(metric_value(to_a, "lmcache_coordinator_replication_log_bytes").value_or(1e18),
            1 << 20);
  EXPECT_TRUE(wait_for_metric(to_b, kGaps, 1)) << b->log();
  // It rebuilds from a second snapshot, then tails the log again.
  EXPECT_TRUE(wait_for_metric(to_b, kSnapshots, 2)) << b->log();
  ASSERT_EQ(to_a.post("/l2/events", l2_batch(100, 50000, 1, "s", 10)).status, 200);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();

  // Nothing was lost: elected, b has a's usage.
  const json::value status_before = to_a.get("/l2/status").json();
  a->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200U; }, 10s)) << b->log();
  EXPECT_EQ(to_b.get("/l2/status").json(), status_before);
}

// The v2 key of chunk `i` of `salt` (as v2_batch stores it), for /directory/lookup.
json::object v2_key(int i, const std::string& salt) {
  return json::object{{"chunk_hash_hex", hash(i)},
                      {"model_name", "llama"},
                      {"kv_rank", 0x01000100},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

// A /directory/blend-lookup of the tokens of chunks `first` and `first + 1` (as v2_batch binds
// them) in `salt`.
std::string blend_lookup(int first, const std::string& salt) {
  json::array tokens;
  for (int t = 4 * first; t < 4 * first + 8; ++t) tokens.emplace_back(t);
  return json::serialize(json::object{
      {"token_ids", tokens}, {"model_name", "llama"}, {"world_size", 1}, {"cache_salt", salt}});
}

// GET /directory/stats without the blend index's table size, which follows the index's history
// (a loaded index's tables are sized for what it holds, the leader's for what it once held).
json::value stats_without_table_size(HttpTestClient& client) {
  json::value stats = client.get("/directory/stats").json();
  stats.at("blend").as_object().erase("table_size");
  return stats;
}

TEST_F(HaWarmTest, AFollowerRebuiltAfterAGapHoldsNeitherKeysNorBlendContentDeletedWithinIt) {
  auto a = start_node("leader", {"--replication-log-mb", "1"});
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();

  // Before the gap: v2 chunks 0..19 of "alpha" (indexed for blend too) and two blend publishes.
  int64_t seq = 0;
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(++seq, "store", 0, 20, "alpha"))).status,
            200);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(to_a.post("/blend/fingerprints", blend_publish(i)).status, 200);
  }
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();
  ASSERT_TRUE(wait_for_metric(to_b, "lmcache_coordinator_l2_tracked_keys", 20)) << b->log();

  // Within the gap: chunks 0..9 deleted, chunks 100..109 of "beta" stored, publish 0 removed and
  // publish 5 added, between two rounds of more than the leader's log keeps (1 MiB). The first
  // round answers the long-poll b left waiting (b reads that answer when it resumes), so b can
  // only learn of these changes through the log, which dropped them.
  ASSERT_EQ(kill(b->pid(), SIGSTOP), 0);
  int64_t seed_seq = 0;
  auto overflow_the_log = [&] {
    for (int i = 0; i < 6; ++i, ++seed_seq) {
      ASSERT_EQ(to_a.post("/l2/events",
                          l2_batch(seed_seq + 1, 2000 * static_cast<int>(seed_seq), 2000, "s", 10))
                    .status,
                200);
    }
  };
  overflow_the_log();
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(++seq, "delete", 0, 10, "alpha"))).status,
            200);
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(++seq, "store", 100, 10, "beta"))).status,
            200);
  const std::string removed =
      json::serialize(json::object{{"object_keys", json::array{"k0-0", "k0-1"}}});
  ASSERT_EQ(to_a.del("/blend/fingerprints", removed).json().at("removed"), 2);
  ASSERT_EQ(to_a.post("/blend/fingerprints", blend_publish(5)).status, 200);
  overflow_the_log();
  ASSERT_EQ(kill(b->pid(), SIGCONT), 0);
  ASSERT_TRUE(wait_for_metric(to_b, kGaps, 1)) << b->log();
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 2)) << b->log();
  ASSERT_EQ(to_a.post("/events", events_body(v2_batch(++seq, "store", 200, 1, "beta"))).status,
            200);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();

  json::array keys;
  for (int i : {0, 9, 10, 19}) keys.push_back(v2_key(i, "alpha"));
  for (int i : {100, 109, 200}) keys.push_back(v2_key(i, "beta"));
  const std::string lookup = json::serialize(json::object{{"keys", keys}});
  const json::value status_before = to_a.get("/l2/status").json();
  const json::value stats_before = stats_without_table_size(to_a);
  const json::value lookup_before = to_a.post("/directory/lookup", lookup).json();
  const json::value deleted_blend_before =
      to_a.post("/directory/blend-lookup", blend_lookup(0, "alpha")).json();
  const json::value added_blend_before =
      to_a.post("/directory/blend-lookup", blend_lookup(100, "beta")).json();
  // What the leader answers: the deleted keys and chunks are gone, the added ones there.
  const json::array& results = lookup_before.at("results").as_array();
  ASSERT_EQ(results.size(), 7U);
  EXPECT_TRUE(results[0].at("placements").as_array().empty());
  EXPECT_TRUE(results[1].at("placements").as_array().empty());
  EXPECT_FALSE(results[2].at("placements").as_array().empty());
  EXPECT_FALSE(results[4].at("placements").as_array().empty());
  EXPECT_TRUE(deleted_blend_before.at("matches").as_array().empty());
  EXPECT_EQ(added_blend_before.at("matches").as_array().size(), 2U);

  // Elected, b answers exactly as a did.
  a->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200U; }, 10s)) << b->log();
  EXPECT_EQ(to_b.get("/l2/status").json(), status_before);
  EXPECT_EQ(stats_without_table_size(to_b), stats_before);
  EXPECT_EQ(to_b.post("/directory/lookup", lookup).json(), lookup_before);
  EXPECT_EQ(to_b.post("/directory/blend-lookup", blend_lookup(0, "alpha")).json(),
            deleted_blend_before);
  EXPECT_EQ(to_b.post("/directory/blend-lookup", blend_lookup(100, "beta")).json(),
            added_blend_before);
  EXPECT_EQ(blend_matches(to_b, 0), 0U);
  EXPECT_EQ(blend_matches(to_b, 1), 2U);
  EXPECT_EQ(blend_matches(to_b, 5), 2U);
}

TEST_F(HaWarmTest, ANodeJoiningLateLoadsASnapshotAndCarriesTheStateThroughTwoFailovers) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  // b starts empty: it loads a snapshot of a's (empty) state first, then tails the log.
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();
  // Before the first failover: through a.
  int64_t seq = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(
        to_a.post("/events", events_body(v2_batch(++seq, "store", 10 * i, 10, "alpha"))).status,
        200);
  }
  ASSERT_EQ(to_a.post("/l2/events", l2_batch(1, 0, 10, "gamma", 4096)).status, 200);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();
  a->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200U; }, 10s)) << b->log();

  // Between the failovers: through b, whose log starts with its epoch.
  for (int i = 4; i < 6; ++i) {
    ASSERT_EQ(
        to_b.post("/events", events_body(v2_batch(++seq, "store", 10 * i, 10, "beta"))).status,
        200);
  }
  // A fresh node (the old leader restarted, say) starts from a snapshot of b's state.
  auto c = start_node("follower");
  HttpTestClient to_c(c->port());
  ASSERT_TRUE(wait_for_metric(to_c, kSnapshots, 1)) << c->log();
  const double applied = metric_value(to_c, kApplied).value_or(0);
  ASSERT_EQ(to_b.post("/l2/events", l2_batch(2, 10, 10, "gamma", 4096)).status, 200);
  ASSERT_TRUE(wait_for_metric(to_c, kApplied, applied + 1)) << c->log();
  ASSERT_TRUE(caught_up(to_c, b->port())) << c->log();

  const json::value status_before = to_b.get("/l2/status").json();
  const json::value stats_before = to_b.get("/directory/stats").json();
  b->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(c->port()).status == 200U; }, 10s)) << c->log();
  EXPECT_EQ(to_c.get("/l2/status").json(), status_before);
  const json::value stats_after = to_c.get("/directory/stats").json();
  EXPECT_EQ(stats_after.at("num_keys"), stats_before.at("num_keys")) << stats_after;
  const TestResponse replayed =
      to_c.post("/events", events_body(v2_batch(seq, "store", 50, 10, "beta")));
  EXPECT_EQ(replayed.json().at("duplicates"), 1) << replayed.body;
  EXPECT_EQ(to_c.post("/l2/events", l2_batch(2, 10, 10, "gamma", 4096)).json().at("duplicate"),
            true);
}

TEST_F(HaWarmTest, ADeposedLeaderFollowsTheNewOneAndLeadsAgainWarm) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  ASSERT_TRUE(wait_for_metric(to_b, kSnapshots, 1)) << b->log();
  ASSERT_EQ(to_a.post("/l2/events", l2_batch(1, 0, 10, "gamma", 4096)).status, 200);
  ASSERT_TRUE(caught_up(to_b, a->port())) << b->log();

  // a pauses past its lease; b leads and takes more writes.
  ASSERT_EQ(kill(a->pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200U; }, 10s)) << b->log();
  ASSERT_EQ(to_b.post("/l2/events", l2_batch(2, 10, 10, "gamma", 4096)).status, 200);
  ASSERT_EQ(to_b.post("/l2/events", l2_batch(1, 100, 5, "delta", 1000, "n2")).status, 200);

  // Resumed, a follows b and applies b's log on top of its own state.
  ASSERT_EQ(kill(a->pid(), SIGCONT), 0);
  ASSERT_TRUE(eventually([&] { return role_of(a->port()) == "follower"; }, 10s)) << a->log();
  ASSERT_TRUE(caught_up(to_a, b->port())) << a->log();

  const json::value status_before = to_b.get("/l2/status").json();
  b->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return readyz(a->port()).status == 200U; }, 10s)) << a->log();
  EXPECT_EQ(to_a.get("/l2/status").json(), status_before);
}

}  // namespace
}  // namespace lmcache::testing
