// End-to-end: HA mode with a real etcd (one member, or a cluster of three) and two coordinators
// (skipped only when /usr/bin/etcd is missing).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>

#include "base64_encode.h"
#include "coordinator_process.h"
#include "etcd_process.h"
#include "eventually.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"
#include "readiness_probe.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLease = 2s;
constexpr double kGiB = 1024.0 * 1024 * 1024;  // what "limit_gb": 1 stands for

std::string url_of(const CoordinatorProcess& node) {
  return "http://127.0.0.1:" + std::to_string(node.port());
}

// Registers the fake MP server `mp` as instance "mp" on the coordinator at `port` and reports four
// 1 KiB keys of salt "s" stored there (event batch `seq`).
void store_keys(uint16_t port, const FakeMpServer& mp, int seq) {
  HttpTestClient client(port);
  ASSERT_EQ(client
                .post("/instances", fmt::format(R"({{"instance_id":"mp","ip":"127.0.0.1",)"
                                                R"("http_port":{}}})",
                                                mp.port()))
                .status,
            200);
  json::array events;
  for (int i = 0; i < 4; ++i) {
    events.emplace_back(
        json::object{{"type", "store"},
                     {"key", json::object{{"chunk_hash_hex", fmt::format("{:064x}", i)},
                                          {"model_name", "m"},
                                          {"kv_rank", 0},
                                          {"object_group_id", 0},
                                          {"cache_salt", "s"}}},
                     {"bytes", 1024}});
  }
  const TestResponse res = client.post(
      "/l2/events",
      json::serialize(json::object{{"instance_id", "mp"}, {"seq", seq}, {"events", events}}));
  ASSERT_EQ(res.status, 200) << res.body;
}

// Every salt without a quota is over its 0-byte default: a leader evicts what is stored.
const std::vector<std::string> kEvicting = {"--eviction-check-interval", "0.2",
                                            "--default-quota-gb", "0"};

// The sample of GET /metrics on `port` (not forwarded: each node's own state).
std::optional<double> local_metric(uint16_t port, const std::string& sample) {
  HttpTestClient client(port);
  return metric_value(client, sample);
}

// The value etcd at `etcd_port` holds at `key`, base64 as the gateway sends it; nullopt when the
// key is absent.
std::optional<std::string> etcd_value_b64(uint16_t etcd_port, const std::string& key) {
  HttpTestClient client(etcd_port);
  const TestResponse res =
      client.post("/v3/kv/range",
                  json::serialize(json::object{{"key", base64_encode(key.data(), key.size())}}));
  EXPECT_EQ(res.status, 200) << res.body;
  const json::value body = res.json();
  if (!body.as_object().contains("kvs")) return std::nullopt;
  return std::string(body.at("kvs").at(0).at("value").as_string());
}

std::string b64(const std::string& text) { return base64_encode(text.data(), text.size()); }

// Waits until `mp` received a request carrying `epoch` after its first `from` requests, then
// checks that every request after those carries it: nothing was sent with another epoch.
void expect_dispatches_only_with(const FakeMpServer& mp, size_t from, const std::string& epoch) {
  EXPECT_TRUE(eventually(
      [&] {
        const auto requests = mp.requests();
        for (size_t i = from; i < requests.size(); ++i) {
          if (requests[i].epoch == epoch) return true;
        }
        return false;
      },
      10s));
  const auto requests = mp.requests();
  for (size_t i = from; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].epoch, epoch) << requests[i].method << " " << requests[i].target;
  }
}

// Checks that `leader` goes on leading with `epoch` through three more seconds of lease
// renewals, never having stepped down, and that `follower` follows it.
void expect_leads_on(const CoordinatorProcess& leader, const CoordinatorProcess& follower,
                     int64_t epoch) {
  HttpTestClient client(leader.port());
  auto renewal = [&] { return client.get("/cluster").json().at("last_lease_renewal").as_double(); };
  const double renewed = renewal();
  EXPECT_TRUE(eventually([&] { return renewal() > renewed + 3.0; }, 10s)) << leader.log();
  EXPECT_EQ(role_of(leader.port()), "leader");
  EXPECT_EQ(epoch_of(leader.port()), epoch);
  EXPECT_EQ(leader.log().find("stepping down"), std::string::npos) << leader.log();
  EXPECT_EQ(role_of(follower.port()), "follower");
}

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdProcess::available()) GTEST_SKIP() << EtcdProcess::kBinary << " is not installed";
    etcd_ = std::make_unique<EtcdProcess>();
    endpoints_ = etcd_->client_url();
  }

  std::vector<std::string> ha_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--etcd-endpoints", endpoints_, "--leader-lease",
                                     std::to_string(lease_.count())};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Starts a node and waits until it has the role `role`.
  std::unique_ptr<CoordinatorProcess> start_node(const std::string& role,
                                                 std::vector<std::string> extra = {}) {
    auto node = std::make_unique<CoordinatorProcess>(ha_args(std::move(extra)));
    const uint16_t port = node->port();
    EXPECT_TRUE(eventually([&] { return role_of(port) == role; }, 10s))
        << "never became " << role << ":\n"
        << node->log();
    return node;
  }

  // Starts two evicting nodes, `a` leading, and has `a` dispatch deletes to `mp` that fail, so
  // it sends them again at every sweep; returns a's epoch once `mp` has seen three.
  std::string start_dispatching(FakeMpServer& mp, std::unique_ptr<CoordinatorProcess>& a,
                                std::unique_ptr<CoordinatorProcess>& b) {
    a = start_node("leader", kEvicting);
    b = start_node("follower", kEvicting);
    mp.set_fail_all(500);
    store_keys(a->port(), mp, 1);
    EXPECT_TRUE(mp.wait_for_requests(3, 10s));
    return std::to_string(epoch_of(a->port()));
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::string endpoints_;  // --etcd-endpoints
  std::chrono::seconds lease_ = kLease;
};

TEST_F(HaTest, TwoNodesElectOneLeaderAndTheFollowerForwardsToIt) {
  auto a = start_node("leader");
  auto b = start_node("follower");

  const TestResponse leader = readyz(a->port());
  EXPECT_EQ(leader.status, 200);
  EXPECT_EQ(leader.json().at("leader").as_string(), url_of(*a));
  const int64_t epoch = leader.json().at("epoch").to_number<int64_t>();
  EXPECT_GT(epoch, 0);
  const TestResponse follower = readyz(b->port());
  EXPECT_EQ(follower.status, 503);
  EXPECT_EQ(follower.json().at("leader").as_string(), url_of(*a));
  EXPECT_EQ(follower.json().at("epoch").to_number<int64_t>(), epoch);

  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  const json::value cluster_a = to_a.get("/cluster").json();
  const json::value cluster_b = to_b.get("/cluster").json();
  EXPECT_EQ(cluster_a.at("mode").as_string(), "ha");
  EXPECT_EQ(cluster_a.at("role").as_string(), "leader");
  EXPECT_EQ(cluster_a.at("node_url").as_string(), url_of(*a));
  EXPECT_TRUE(cluster_a.at("last_lease_renewal").is_double());
  EXPECT_EQ(cluster_b.at("role").as_string(), "follower");
  EXPECT_EQ(cluster_b.at("node_url").as_string(), url_of(*b));
  EXPECT_EQ(cluster_b.at("leader").as_string(), url_of(*a));
  EXPECT_TRUE(cluster_b.at("last_lease_renewal").is_null());
  EXPECT_NE(cluster_a.at("node_id"), cluster_b.at("node_id"));

  // The fleet page shows the role and the leader; each node's /metrics tells whether it leads.
  const json::value summary = to_a.get("/fleet/summary").json();
  EXPECT_EQ(summary.at("ha").at("role").as_string(), "leader");
  EXPECT_EQ(summary.at("ha").at("leader").as_string(), url_of(*a));
  EXPECT_EQ(metric_value(to_a, "lmcache_coordinator_ha_is_leader"), 1.0);
  EXPECT_EQ(metric_value(to_b, "lmcache_coordinator_ha_is_leader"), 0.0);
  EXPECT_EQ(metric_value(to_b, "lmcache_coordinator_ha_epoch"), static_cast<double>(epoch));

  // The follower answers /healthz itself and relays everything else from the leader.
  EXPECT_EQ(to_b.get("/healthz").status, 200);
  const TestResponse registered =
      to_b.post("/instances", R"({"instance_id":"mp-1","ip":"127.0.0.1","http_port":1})");
  EXPECT_EQ(registered.status, 200) << registered.body;
  EXPECT_EQ(registered.header("content-type"), "application/json");
  EXPECT_NE(to_a.get("/instances").body.find("mp-1"), std::string::npos);
  const TestResponse missing = to_b.get("/no/such/path");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().at("detail").as_string(), "Not Found");
}

TEST(HaStartTest, UnreachableEtcdServesHealthzAndAnswersEverythingElse503) {
  CoordinatorProcess node(
      {"--etcd-endpoints", "http://127.0.0.1:" + std::to_string(free_loopback_port())});
  HttpTestClient client(node.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
  const TestResponse other = client.get("/instances");
  EXPECT_EQ(other.status, 503);
  EXPECT_EQ(other.header("retry-after"), "1");
  EXPECT_TRUE(other.json().at("detail").is_string());
  const TestResponse ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.json().at("role").as_string(), "candidate");
  EXPECT_TRUE(ready.json().at("leader").is_null());
  EXPECT_TRUE(node.wait_for_log("retrying"));
}

TEST(HaStartTest, WithoutEtcdTheOneNodeIsTheReadyLeader) {
  CoordinatorProcess node;
  HttpTestClient client(node.port());
  const TestResponse ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json(), json::parse(R"({"role":"leader","leader":null,"epoch":0})"));
  const json::value cluster = client.get("/cluster").json();
  EXPECT_EQ(cluster.at("mode"), "single");
  EXPECT_EQ(cluster.at("role"), "leader");
  EXPECT_EQ(cluster.at("node_url").as_string(), url_of(node));
}

TEST_F(HaTest, AfterKillNineTheFollowerLeadsWithinLeasePlusOneSecondWithQuotasAndPins) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  const int64_t old_epoch = epoch_of(a->port());
  HttpTestClient to_b(b->port());
  // Written through the follower: answered after the leader committed it to etcd.
  const TestResponse put = to_b.put("/l2/quota/tenant", R"({"limit_gb": 2})");
  ASSERT_EQ(put.status, 200) << put.body;
  const TestResponse put_default = to_b.put("/quota/config", R"({"default_limit_gb": 3})");
  ASSERT_EQ(put_default.status, 200) << put_default.body;
  // 256 tokens: one chunk of the default chunk size, one rank.
  json::array tokens;
  for (int i = 0; i < 256; ++i) tokens.emplace_back(i);
  const TestResponse pinned = to_b.post(
      "/cache/pins",
      json::serialize(json::object{{"model_name", "m"}, {"world_size", 1}, {"token_ids", tokens}}));
  ASSERT_EQ(pinned.status, 200) << pinned.body;
  ASSERT_EQ(pinned.json().at("affected"), 1) << pinned.body;

  a->stop(SIGKILL);
  const auto killed = Clock::now();
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200; }, 10s)) << b->log();
  const auto took = Clock::now() - killed;
  EXPECT_LE(took, kLease + 1s) << std::chrono::duration<double>(took).count() << " s";
  EXPECT_GT(epoch_of(b->port()), old_epoch);

  const json::value status = to_b.get("/l2/status").json();
  bool found = false;
  for (const json::value& entry : status.at("by_cache_salt").as_array()) {
    if (entry.at("cache_salt") != "tenant") continue;
    found = true;
    EXPECT_EQ(entry.at("quota_limit_gb").to_number<double>(), 2.0);
  }
  EXPECT_TRUE(found) << json::serialize(status);
  EXPECT_EQ(to_b.get("/quota/config").json().at("default_limit_gb").to_number<double>(), 3.0);
  EXPECT_EQ(to_b.get("/cache/pins").json().at("total"), 1);
}

TEST_F(HaTest, PausedLeaderComesBackAsFollowerAndSendsNothingWithItsOldEpoch) {
  FakeMpServer mp;
  std::unique_ptr<CoordinatorProcess> a;
  std::unique_ptr<CoordinatorProcess> b;
  // The leader is dispatching when it is paused, and its eviction timer is due before its lease
  // timer when it resumes.
  const std::string old_epoch = start_dispatching(mp, a, b);
  for (const auto& request : mp.requests()) EXPECT_EQ(request.epoch, old_epoch);

  ASSERT_EQ(kill(a->pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200; }, 10s)) << b->log();
  const std::string new_epoch = std::to_string(epoch_of(b->port()));
  ASSERT_NE(new_epoch, old_epoch);
  const size_t before_resume = mp.requests().size();
  ASSERT_EQ(kill(a->pid(), SIGCONT), 0);
  EXPECT_TRUE(a->wait_for_log("stepping down", 10s)) << a->log();
  EXPECT_TRUE(eventually([&] { return role_of(a->port()) == "follower"; }, 10s)) << a->log();

  // The new leader learns the instance and the keys (as after any takeover) and dispatches.
  store_keys(b->port(), mp, 1);
  expect_dispatches_only_with(mp, before_resume, new_epoch);
}

TEST_F(HaTest, ACleanStopHandsOverWithoutWaitingForTheLease) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  const auto stopping = Clock::now();
  EXPECT_EQ(a->stop(SIGTERM), 0);  // revokes the lease on the way out
  ASSERT_TRUE(eventually([&] { return readyz(b->port()).status == 200; }, 10s)) << b->log();
  // Without the revoke it takes at least the rest of the lease: 2/3 of it since the last renewal.
  EXPECT_LT(Clock::now() - stopping, 1300ms)
      << std::chrono::duration<double>(Clock::now() - stopping).count() << " s";
}

TEST_F(HaTest, LeaderStepsDownWithinTheLeaseWhenEtcdIsGone) {
  auto a = start_node("leader");
  etcd_->kill_now();
  const auto killed = Clock::now();
  ASSERT_TRUE(eventually([&] { return readyz(a->port()).status == 503; }, 10s)) << a->log();
  const auto took = Clock::now() - killed;
  EXPECT_LE(took, kLease + 300ms) << std::chrono::duration<double>(took).count() << " s";
  EXPECT_EQ(role_of(a->port()), "candidate");
  EXPECT_TRUE(a->wait_for_log("stepping down"));
  HttpTestClient client(a->port());
  EXPECT_EQ(client.get("/instances").status, 503);
}

TEST_F(HaTest, AFollowerForwardsToTheLeaderItLastSawWhileEtcdCannotBeRead) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  etcd_->kill_now();
  // The follower has failed to read the leader key; the leader still holds its lease (2/3 of it
  // at least, less the follower's 200 ms poll) and serves what is forwarded to it.
  ASSERT_TRUE(b->wait_for_log("reading the leader key failed", 5s)) << b->log();
  HttpTestClient to_b(b->port());
  const TestResponse relayed = to_b.get("/instances");
  EXPECT_EQ(relayed.status, 200) << relayed.body;
  EXPECT_EQ(role_of(b->port()), "follower");
  // Once a lease has passed without etcd, it knows no leader.
  EXPECT_TRUE(eventually([&] { return role_of(b->port()) == "candidate"; }, kLease + 2s));
  EXPECT_EQ(to_b.get("/instances").status, 503);
}

TEST_F(HaTest, FollowersKeepAReadCopyOfQuotasTheDefaultAndPins) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  HttpTestClient to_a(a->port());
  HttpTestClient to_b(b->port());
  const std::string quota = R"(lmcache_coordinator_l2_quota_bytes{cache_salt="tenant"})";
  const std::string default_quota = "lmcache_coordinator_l2_default_quota_bytes";
  const std::string pinned = "lmcache_coordinator_pinned_keys";
  ASSERT_EQ(local_metric(b->port(), quota), std::nullopt);
  ASSERT_EQ(local_metric(b->port(), pinned), 0.0);

  // Through the leader: the follower's own state (its /metrics is not forwarded) follows.
  ASSERT_EQ(to_a.put("/l2/quota/tenant", R"({"limit_gb": 2})").status, 200);
  EXPECT_TRUE(eventually([&] { return local_metric(b->port(), quota) == 2 * kGiB; }, 5s))
      << b->log();
  // Through the follower, forwarded to the leader, and back into the follower's copy.
  ASSERT_EQ(to_b.put("/quota/config", R"({"default_limit_gb": 3})").status, 200);
  EXPECT_TRUE(eventually([&] { return local_metric(b->port(), default_quota) == 3 * kGiB; }, 5s));
  json::array tokens;
  for (int i = 0; i < 256; ++i) tokens.emplace_back(i);
  const TestResponse pin = to_b.post(
      "/cache/pins",
      json::serialize(json::object{{"model_name", "m"}, {"world_size", 1}, {"token_ids", tokens}}));
  ASSERT_EQ(pin.status, 200) << pin.body;
  EXPECT_TRUE(eventually([&] { return local_metric(b->port(), pinned) == 1.0; }, 5s));
  ASSERT_EQ(to_b.del("/l2/quota/tenant").status, 200);
  EXPECT_TRUE(eventually([&] { return local_metric(b->port(), quota) == std::nullopt; }, 5s));
  // The leader's own state is what it wrote.
  EXPECT_EQ(local_metric(a->port(), default_quota), 3 * kGiB);
  EXPECT_EQ(local_metric(a->port(), pinned), 1.0);
}

TEST_F(HaTest, ConcurrentQuotaWritesOfOneSaltLeaveEtcdHoldingTheLeadersValue) {
  auto a = start_node("leader");
  auto b = start_node("follower");
  // Eight writers, half through the follower, each setting its own values in turn.
  std::vector<std::thread> writers;
  writers.reserve(8);
  std::atomic<int> failures{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      HttpTestClient client(w % 2 == 0 ? a->port() : b->port());
      for (int i = 1; i <= 15; ++i) {
        const TestResponse res =
            client.put("/l2/quota/race", fmt::format(R"({{"limit_gb": {}}})", w * 100 + i));
        if (res.status != 200) ++failures;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  const std::optional<double> held =
      local_metric(a->port(), R"(lmcache_coordinator_l2_quota_bytes{cache_salt="race"})");
  ASSERT_TRUE(held);
  EXPECT_EQ(etcd_value_b64(etcd_->client_port(), "/lmcache-coordinator/quota/race"),
            b64(std::to_string(static_cast<uint64_t>(*held))));
  // And the follower's copy settles on it too.
  EXPECT_TRUE(eventually(
      [&] {
        return local_metric(b->port(),
                            R"(lmcache_coordinator_l2_quota_bytes{cache_salt="race"})") == held;
      },
      5s));
}

// Three etcd members; the coordinators are given all three endpoints.
class HaEtcdClusterTest : public HaTest {
 protected:
  void SetUp() override {
    if (!EtcdProcess::available()) GTEST_SKIP() << EtcdProcess::kBinary << " is not installed";
    cluster_ = std::make_unique<EtcdCluster>(3);
    endpoints_ = cluster_->client_urls();
  }

  // The Raft leader's index once the running members agree on one.
  size_t etcd_leader() {
    std::optional<size_t> leader;
    EXPECT_TRUE(eventually(
        [&] {
          leader = cluster_->leader();
          return leader.has_value();
        },
        15s));
    return leader.value_or(0);
  }

  // Lists member `first`'s endpoint first in --etcd-endpoints, so the coordinators use it.
  void try_first(size_t first) {
    endpoints_ = cluster_->member(first).client_url();
    for (size_t i = 0; i < cluster_->size(); ++i) {
      if (i != first) endpoints_ += "," + cluster_->member(i).client_url();
    }
  }

  std::unique_ptr<EtcdCluster> cluster_;
};

TEST_F(HaEtcdClusterTest, LosingOneEtcdMemberOfThreeTheServiceGoesOn) {
  // The member the coordinators talk to first is etcd's Raft leader, and that is the one lost:
  // the client fails over and etcd elects a new leader, both within the coordinator's lease
  // (5 s here: etcd's own election may take 1-2 s).
  lease_ = 5s;
  const size_t lost = etcd_leader();
  try_first(lost);
  auto a = start_node("leader");
  auto b = start_node("follower");
  const int64_t epoch = epoch_of(a->port());
  HttpTestClient to_b(b->port());
  ASSERT_EQ(to_b.put("/l2/quota/before", R"({"limit_gb": 1})").status, 200);

  cluster_->member(lost).kill_now();
  const size_t next = etcd_leader();
  EXPECT_NE(next, lost);
  // Quota writes are stored, through either node, without a retry.
  const TestResponse through_b = to_b.put("/l2/quota/after", R"({"limit_gb": 2})");
  EXPECT_EQ(through_b.status, 200) << through_b.body << a->log();
  HttpTestClient to_a(a->port());
  const TestResponse through_a = to_a.put("/quota/config", R"({"default_limit_gb": 4})");
  EXPECT_EQ(through_a.status, 200) << through_a.body;
  EXPECT_EQ(
      etcd_value_b64(cluster_->member(next).client_port(), "/lmcache-coordinator/quota/after"),
      b64(std::to_string(2ULL << 30)));
  expect_leads_on(*a, *b, epoch);
  EXPECT_TRUE(eventually(
      [&] {
        return local_metric(b->port(),
                            R"(lmcache_coordinator_l2_quota_bytes{cache_salt="after"})") ==
               2 * kGiB;
      },
      5s));
}

TEST_F(HaEtcdClusterTest, AHungEtcdMemberIsPassedOverWithinTheLease) {
  // The member tried first is paused (it accepts connections and never answers); it is not
  // etcd's Raft leader, so the cluster itself goes on. The leader must reach the others before
  // its 2 s lease runs out, at every renewal.
  const size_t hung = (etcd_leader() + 1) % cluster_->size();
  try_first(hung);
  auto a = start_node("leader");
  auto b = start_node("follower");
  const int64_t epoch = epoch_of(a->port());
  ASSERT_EQ(kill(cluster_->member(hung).pid(), SIGSTOP), 0);

  HttpTestClient to_b(b->port());
  const TestResponse put = to_b.put("/l2/quota/paused", R"({"limit_gb": 1})");
  EXPECT_EQ(put.status, 200) << put.body;
  expect_leads_on(*a, *b, epoch);
  ASSERT_EQ(kill(cluster_->member(hung).pid(), SIGCONT), 0);
}

TEST_F(HaEtcdClusterTest, LosingAllEtcdMembersTheLeaderStepsDownInTheLeaseAndNobodyEvicts) {
  FakeMpServer mp;
  std::unique_ptr<CoordinatorProcess> a;
  std::unique_ptr<CoordinatorProcess> b;
  const std::string old_epoch = start_dispatching(mp, a, b);  // dispatching when etcd goes

  for (size_t i = 0; i < cluster_->size(); ++i) cluster_->member(i).kill_now();
  const auto killed = Clock::now();
  ASSERT_TRUE(eventually([&] { return readyz(a->port()).status == 503; }, 10s)) << a->log();
  const auto took = Clock::now() - killed;
  const size_t after_step_down = mp.requests().size();
  EXPECT_LE(took, kLease + 300ms) << std::chrono::duration<double>(took).count() << " s";
  EXPECT_EQ(readyz(b->port()).status, 503);
  for (const auto& request : mp.requests()) EXPECT_EQ(request.epoch, old_epoch);

  // etcd comes back: a leader is elected anew and dispatches again, with a new epoch. Nothing
  // reached the MP server in between: whatever came after the step-down carries the new epoch.
  for (size_t i = 0; i < cluster_->size(); ++i) cluster_->member(i).restart();
  uint16_t leader_port = 0;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& node : {a.get(), b.get()}) {
          if (readyz(node->port()).status == 200) leader_port = node->port();
        }
        return leader_port != 0;
      },
      30s))
      << a->log() << b->log();
  const std::string new_epoch = std::to_string(epoch_of(leader_port));
  ASSERT_NE(new_epoch, old_epoch);
  store_keys(leader_port, mp, 2);
  expect_dispatches_only_with(mp, after_step_down, new_epoch);
}

}  // namespace
}  // namespace lmcache::testing
