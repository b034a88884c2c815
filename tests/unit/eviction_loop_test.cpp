#include "app/eviction_loop.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_mp_server.h"

namespace lmcache::app {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::FakeMpServer;

constexpr auto kPatience = 10s;

// An eviction loop over real accounting, an in-memory quota store (no quotas: every stored key
// is a victim) and a client whose io_context runs on a thread of its own.
class EvictionLoopTest : public ::testing::Test {
 protected:
  ~EvictionLoopTest() override {
    work_.reset();
    io_.stop();
    runner_.join();
  }

  // Records stores of one-byte keys with hashes `hashes` (one byte each) by `instance`.
  void store(const std::string& instance, const std::vector<uint8_t>& hashes) {
    std::vector<std::string> raw;
    raw.reserve(hashes.size());
    for (uint8_t h : hashes) raw.emplace_back(1, static_cast<char>(h));
    std::vector<core::L2Event> events;
    events.reserve(raw.size());
    for (const auto& hash : raw) {
      events.push_back({core::L2EventType::kStore, core::ObjectKeyView(hash, "m", 0, 0, ""), 1});
    }
    l2_.apply_batch(instance, ++seq_, events);
  }

  // Records stores of one-byte keys with hashes `hashes` by `instance` through POST /events
  // (tier l2): the instance then speaks v2.
  void store_v2(const std::string& instance, const std::vector<uint8_t>& hashes) {
    std::vector<std::string> raw;
    raw.reserve(hashes.size());
    for (uint8_t h : hashes) raw.emplace_back(1, static_cast<char>(h));
    std::vector<core::CacheEventEntry> entries;
    entries.reserve(raw.size());
    for (const auto& hash : raw) {
      entries.push_back({core::ObjectKeyView(hash, "m", 0, 0, ""), 1, {}, -1});
    }
    core::CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = 1;
    batch.seq = ++v2_seq_;
    batch.type = core::CacheEventType::kStore;
    batch.tier = core::CacheTier::kL2;
    batch.backend = "fs";
    batch.entries = entries;
    ASSERT_EQ(events_.ingest(batch).verdict, core::EventGate::Verdict::kAdmitted);
  }

  void register_instance(const std::string& id, uint16_t port) {
    core::InstanceRecord record;
    record.instance_id = id;
    record.ip = "127.0.0.1";
    record.http_port = port;
    registry_.register_instance(std::move(record), core::InstanceRegistry::Clock::now());
  }

  // The value of the loop's counter `lmcache_coordinator_eviction_<name>_total`.
  double count(const std::string& name) const {
    const std::string family_name = "lmcache_coordinator_eviction_" + name + "_total";
    for (const auto& family : metrics_.Collect()) {
      if (family.name == family_name) return family.metric.at(0).counter.value;
    }
    ADD_FAILURE() << "no family " << family_name;
    return -1;
  }

  // The hex hashes of every key `server` was asked to delete.
  static std::set<std::string> deleted(const FakeMpServer& server) {
    std::set<std::string> hashes;
    for (const auto& key : server.deleted_keys()) {
      hashes.emplace(key.at("chunk_hash_hex").as_string());
    }
    return hashes;
  }

  core::L2Accounting l2_{core::EvictionConfig{}};
  core::QuotaStore quotas_{std::string(core::QuotaStore::kInMemory)};
  core::InstanceRegistry registry_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{
      net::make_work_guard(io_)};
  std::thread runner_{[this] { io_.run(); }};
  client::MpClient client_{io_.get_executor(), client::MpClient::Timeouts{1s, 5s}};
  prometheus::Registry metrics_;
  core::EventIngest events_{l2_};
  EvictionLoop loop_{l2_, quotas_, registry_, events_, client_, metrics_};
  uint64_t seq_ = 0;
  uint64_t v2_seq_ = 0;
};

// With nobody to send deletes to, a sweep plans nothing: the victims are not marked in flight,
// so the first sweep after an instance registers sends them at once.
TEST_F(EvictionLoopTest, NoRegisteredInstanceSkipsTheSweep) {
  store("mp-a", {1, 2, 3});
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 0U);
  EXPECT_EQ(count("sweeps"), 0);
  EXPECT_EQ(count("dispatches"), 0);

  FakeMpServer server;
  register_instance("mp-b", server.port());
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 3U);
  EXPECT_EQ(count("sweeps"), 1);
  ASSERT_TRUE(server.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(server), (std::set<std::string>{"01", "02", "03"}));
}

TEST_F(EvictionLoopTest, VictimsGoToTheInstanceThatStoredThem) {
  FakeMpServer server_a;
  FakeMpServer server_b;
  register_instance("mp-a", server_a.port());
  register_instance("mp-b", server_b.port());
  store("mp-a", {1, 2});
  store("mp-b", {3, 4, 5});
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 5U);
  EXPECT_EQ(count("dispatches"), 2);  // one request per owner
  ASSERT_TRUE(server_a.wait_for_deletes(1, kPatience));
  ASSERT_TRUE(server_b.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(server_a), (std::set<std::string>{"01", "02"}));
  EXPECT_EQ(deleted(server_b), (std::set<std::string>{"03", "04", "05"}));
}

// The owner refuses connections: its victims come back and the next sweep sends them to the
// other instance, since the owner has just failed.
TEST_F(EvictionLoopTest, VictimsOfAFailedOwnerGoElsewhereOnTheNextSweep) {
  uint16_t closed_port = 0;
  {
    FakeMpServer gone;
    closed_port = gone.port();
  }
  FakeMpServer live;
  register_instance("dead", closed_port);
  register_instance("live", live.port());
  store("dead", {7, 8});
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 2U);
  // Sweeps send nothing until the failed request has released its victims.
  size_t resent = 0;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (resent == 0 && std::chrono::steady_clock::now() < deadline) {
    resent = loop_.sweep(EvictionLoop::Clock::now());
    if (resent == 0) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(resent, 2U);
  EXPECT_EQ(count("dispatch_failures"), 1);
  ASSERT_TRUE(live.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(live), (std::set<std::string>{"07", "08"}));
}

// A mixed fleet: each instance gets the delete of its dialect, for the keys it stored.
TEST_F(EvictionLoopTest, EachInstanceGetsTheDeleteOfItsDialect) {
  FakeMpServer seed_era;
  FakeMpServer v2(FakeMpServer::Dialect::kV2);
  register_instance("mp-old", seed_era.port());
  register_instance("mp-new", v2.port());
  store("mp-old", {1, 2});
  store_v2("mp-new", {3, 4, 5});
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 5U);
  ASSERT_TRUE(seed_era.wait_for_deletes(1, kPatience));
  ASSERT_TRUE(v2.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(seed_era), (std::set<std::string>{"01", "02"}));
  EXPECT_EQ(deleted(v2), (std::set<std::string>{"03", "04", "05"}));
  // Each received exactly one request, of its own dialect (the fakes answer 404 to the other).
  ASSERT_EQ(v2.requests().size(), 1U);
  EXPECT_EQ(v2.requests()[0].method, "DELETE");
  EXPECT_EQ(v2.requests()[0].target, "/cache/objects");
  ASSERT_EQ(seed_era.requests().size(), 1U);
  EXPECT_EQ(seed_era.requests()[0].target, "/l2");
  EXPECT_EQ(count("dispatches"), 2);
}

// A v2 instance whose dialect was forgotten (it deregistered and came back without posting
// /events yet) gets DELETE /l2 again.
TEST_F(EvictionLoopTest, AForgottenDialectFallsBackToDeleteL2) {
  FakeMpServer server;
  register_instance("mp-new", server.port());
  store_v2("mp-new", {1});
  events_.on_instance_deregistered("mp-new");
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 1U);
  ASSERT_TRUE(server.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(server), (std::set<std::string>{"01"}));
}

// Sweeps until one dispatches something; returns how many victims it sent.
size_t sweep_until_resent(EvictionLoop& loop) {
  size_t resent = 0;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (resent == 0 && std::chrono::steady_clock::now() < deadline) {
    resent = loop.sweep(EvictionLoop::Clock::now());
    if (resent == 0) std::this_thread::sleep_for(1ms);
  }
  return resent;
}

// A 200 whose answer says "ok": false is a failed dispatch: the keys are released and go to
// another instance, since the one that failed is avoided.
TEST_F(EvictionLoopTest, AV2AnswerOkFalseIsAFailedDispatch) {
  FakeMpServer failing(FakeMpServer::Dialect::kV2);
  failing.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"boom"})");
  FakeMpServer other(FakeMpServer::Dialect::kV2);
  register_instance("mp-failing", failing.port());
  register_instance("mp-other", other.port());
  store_v2("mp-failing", {7, 8});
  store_v2("mp-other", {});  // mp-other speaks v2 too
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 2U);
  EXPECT_EQ(sweep_until_resent(loop_), 2U);
  EXPECT_EQ(count("dispatch_failures"), 1);
  ASSERT_TRUE(other.wait_for_deletes(1, kPatience));
  EXPECT_EQ(deleted(other), (std::set<std::string>{"07", "08"}));
  EXPECT_EQ(deleted(failing), (std::set<std::string>{"07", "08"}));
}

// So is a non-2xx answer (here 503, the server has no adapter yet).
TEST_F(EvictionLoopTest, AV2ServiceUnavailableIsAFailedDispatch) {
  FakeMpServer failing(FakeMpServer::Dialect::kV2);
  failing.set_fail_all(503);
  FakeMpServer other;
  register_instance("mp-failing", failing.port());
  register_instance("mp-old", other.port());
  store_v2("mp-failing", {9});
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), 1U);
  EXPECT_EQ(sweep_until_resent(loop_), 1U);
  EXPECT_EQ(count("dispatch_failures"), 1);
  ASSERT_TRUE(other.wait_for_deletes(1, kPatience));  // in the other instance's dialect
  EXPECT_EQ(deleted(other), (std::set<std::string>{"09"}));
}

// More than 10,000 victims for a v2 instance go in requests of at most 10,000 keys, each a
// DELETE /cache/objects.
TEST_F(EvictionLoopTest, V2RequestsCarryAtMostTenThousandKeys) {
  FakeMpServer v2(FakeMpServer::Dialect::kV2);
  register_instance("mp-new", v2.port());
  constexpr size_t kVictims = EvictionLoop::kMaxKeysPerRequest + 5;
  std::vector<std::string> raw;
  raw.reserve(kVictims);
  for (size_t i = 0; i < kVictims; ++i) raw.push_back(fmt::format("{:08x}", i));
  std::vector<core::CacheEventEntry> entries;
  entries.reserve(raw.size());
  for (const auto& hash : raw) {
    entries.push_back({core::ObjectKeyView(hash, "m", 0, 0, ""), 1, {}, -1});
  }
  core::CacheEventBatch batch;
  batch.instance_id = "mp-new";
  batch.incarnation = 1;
  batch.seq = 1;
  batch.type = core::CacheEventType::kStore;
  batch.backend = "fs";
  batch.entries = entries;
  events_.ingest(batch);
  EXPECT_EQ(loop_.sweep(EvictionLoop::Clock::now()), kVictims);
  ASSERT_TRUE(v2.wait_for_deletes(2, kPatience));
  const auto bodies = v2.delete_bodies();
  ASSERT_EQ(bodies.size(), 2U);
  for (const auto& body : bodies) {
    EXPECT_LE(boost::json::parse(body).at("keys").as_array().size(),
              EvictionLoop::kMaxKeysPerRequest);
  }
  EXPECT_EQ(v2.deleted_keys().size(), kVictims);
  for (const auto& request : v2.requests()) EXPECT_EQ(request.target, "/cache/objects");
}

}  // namespace
}  // namespace lmcache::app
