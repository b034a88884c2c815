#include "app/eviction_loop.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
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
  EvictionLoop loop_{l2_, quotas_, registry_, client_, metrics_};
  uint64_t seq_ = 0;
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

}  // namespace
}  // namespace lmcache::app
