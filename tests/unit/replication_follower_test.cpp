// ReplicationFollower against in-process leaders (the real GET /cluster/log route over HTTP):
// it applies the log in order, and once held (this node won an election) it applies nothing
// until a leader of a newer epoch leads, with one polling loop throughout.
#include "app/replication_follower.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "eventually.h"
#include "http/http_server.h"
#include "http/replication_routes.h"
#include "http/router.h"

namespace lmcache::app {
namespace {

namespace net = boost::asio;
using core::MutationKind;
using std::chrono::milliseconds;
using testing::eventually;

constexpr milliseconds kWait{10000};

// One leader: its mutation log served by the real route on 127.0.0.1, counting the log
// requests it answers and how many were under way at once.
class LogLeader {
 public:
  LogLeader(net::io_context& io, milliseconds max_wait) {
    http::ReplicationRouteOptions options;
    options.max_wait = max_wait;
    http::add_replication_routes(router_, io.get_executor(), log, options);
    router_.set_front([this](http::HttpRequest&, http::Respond& respond) {
      const int now = ++in_flight;
      int seen = max_in_flight.load();
      while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
      }
      respond = [this, respond = std::move(respond)](http::HttpResponse response) {
        --in_flight;
        respond(std::move(response));
        ++answered;
      };
      return false;
    });
    http::HttpServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server_.emplace(io, server_options, router_);
    server_->start();
  }
  ~LogLeader() { server_->stop_accepting(); }
  LogLeader(const LogLeader&) = delete;
  LogLeader& operator=(const LogLeader&) = delete;

  ReplicationFollower::Leader leader(int64_t epoch) const {
    return {"http://127.0.0.1:" + std::to_string(server_->port()), epoch};
  }

  core::MutationLog log{1 << 20};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> answered{0};

 private:
  http::Router router_;
  std::optional<http::HttpServer> server_;
};

class ReplicationFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ReplicationFollower::Snapshots snapshots;  // the follower starts warm; no gap is made
    snapshots.load = [](std::string_view) { return false; };
    snapshots.download_path =
        (std::filesystem::temp_directory_path() /
         ("replication_follower_test." + std::to_string(::getpid()) + ".download"))
            .string();
    follower_ = std::make_shared<ReplicationFollower>(
        io_.get_executor(),
        [this]() -> std::optional<ReplicationFollower::Leader> {
          ++leader_calls_;
          std::lock_guard lock(mu_);
          return leader_;
        },
        [this](core::Mutation& mutation) {
          std::lock_guard lock(mu_);
          applied_.push_back(mutation.payload);
        },
        std::move(snapshots), metrics_);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    follower_->stop();
    work_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
    leaders_.clear();  // their long-polls wait on io_: never run again
  }

  LogLeader& add_leader(milliseconds max_wait) {
    return *leaders_.emplace_back(std::make_unique<LogLeader>(io_, max_wait));
  }
  void follow(const std::optional<ReplicationFollower::Leader>& leader) {
    std::lock_guard lock(mu_);
    leader_ = leader;
  }
  std::vector<std::string> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  // Holds the follower for `epoch` and waits until it says it is held.
  void hold(int64_t epoch) {
    std::atomic<bool> held{false};
    follower_->hold(epoch, [&held] { held = true; });
    ASSERT_TRUE(eventually([&] { return held.load(); }, kWait));
  }
  // Proof that the follower keeps polling: it asks its leader source `times` more times.
  void wait_for_polls(int times) {
    const int target = leader_calls_.load() + times;
    ASSERT_TRUE(eventually([&] { return leader_calls_.load() >= target; }, kWait));
  }

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  prometheus::Registry metrics_;
  std::vector<std::unique_ptr<LogLeader>> leaders_;
  std::shared_ptr<ReplicationFollower> follower_;
  std::vector<std::thread> threads_;
  std::atomic<int> leader_calls_{0};
  std::mutex mu_;
  std::optional<ReplicationFollower::Leader> leader_;
  std::vector<std::string> applied_;
};

TEST_F(ReplicationFollowerTest, AppliesTheLeadersEntriesInOrder) {
  LogLeader& leader = add_leader(milliseconds(1000));
  leader.log.begin_epoch(5);
  leader.log.append(MutationKind::kL2Events, "one");
  leader.log.append(MutationKind::kL2Events, "two");
  follow(leader.leader(5));
  follower_->start();
  ASSERT_TRUE(eventually([&] { return applied().size() == 2; }, kWait));
  leader.log.append(MutationKind::kL2Events, "three");
  ASSERT_TRUE(eventually([&] { return applied().size() == 3; }, kWait));
  EXPECT_EQ(applied(), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(follower_->position(), (std::pair<int64_t, uint64_t>{5, 3}));
}

TEST_F(ReplicationFollowerTest, AHeldFollowerAppliesNothingUntilANewerLeaderLeads) {
  LogLeader& old_leader = add_leader(milliseconds(5000));
  old_leader.log.begin_epoch(5);
  old_leader.log.append(MutationKind::kL2Events, "a1");
  follow(old_leader.leader(5));
  follower_->start();
  ASSERT_TRUE(eventually([&] { return applied().size() == 1; }, kWait));
  // Its next long-poll waits at the old leader when this node wins epoch 6.
  ASSERT_TRUE(eventually([&] { return old_leader.in_flight.load() == 1; }, kWait));
  const int answered = old_leader.answered.load();
  hold(6);

  // The view still names the old leader (as during an election's prepare step), and the poll
  // under way is answered with new entries: none is applied, and the follower stays alive.
  old_leader.log.append(MutationKind::kL2Events, "a2");
  old_leader.log.append(MutationKind::kL2Events, "a3");
  ASSERT_TRUE(eventually([&] { return old_leader.answered.load() > answered; }, kWait));
  wait_for_polls(5);
  EXPECT_EQ(applied(), std::vector<std::string>{"a1"});

  // This node was deposed: the leader of epoch 7 is followed from its first entry.
  LogLeader& new_leader = add_leader(milliseconds(300));
  new_leader.log.begin_epoch(7);
  new_leader.log.append(MutationKind::kL2Events, "b1");
  follow(new_leader.leader(7));
  ASSERT_TRUE(eventually([&] { return applied().size() == 2; }, kWait));
  new_leader.log.append(MutationKind::kL2Events, "b2");
  ASSERT_TRUE(eventually([&] { return applied().size() == 3; }, kWait));
  EXPECT_EQ(applied(), (std::vector<std::string>{"a1", "b1", "b2"}));
  EXPECT_EQ(follower_->position(), (std::pair<int64_t, uint64_t>{7, 2}));
}

TEST_F(ReplicationFollowerTest, ALeaderOfTheHeldEpochOrOlderDoesNotRelease) {
  LogLeader& leader = add_leader(milliseconds(300));
  leader.log.begin_epoch(5);
  leader.log.append(MutationKind::kL2Events, "a1");
  follow(leader.leader(5));
  follower_->start();
  ASSERT_TRUE(eventually([&] { return applied().size() == 1; }, kWait));
  hold(6);

  leader.log.append(MutationKind::kL2Events, "a2");  // an older epoch
  wait_for_polls(5);
  EXPECT_EQ(applied(), std::vector<std::string>{"a1"});

  leader.log.begin_epoch(6);  // the held epoch itself (this node's own)
  leader.log.append(MutationKind::kL2Events, "c1");
  follow(leader.leader(6));
  wait_for_polls(5);
  EXPECT_EQ(applied(), std::vector<std::string>{"a1"});
  EXPECT_EQ(follower_->position(), (std::pair<int64_t, uint64_t>{5, 1}));
}

TEST_F(ReplicationFollowerTest, AReleaseWhileAnOldAnswerIsUnderWayKeepsOneLoop) {
  LogLeader& old_leader = add_leader(milliseconds(2000));
  old_leader.log.begin_epoch(5);
  follow(old_leader.leader(5));
  follower_->start();
  ASSERT_TRUE(eventually([&] { return old_leader.in_flight.load() == 1; }, kWait));
  hold(6);

  // Released by the leader of epoch 7 while the old long-poll still waits.
  LogLeader& new_leader = add_leader(milliseconds(200));
  new_leader.log.begin_epoch(7);
  follow(new_leader.leader(7));
  ASSERT_TRUE(eventually([&] { return new_leader.answered.load() >= 1; }, kWait));
  ASSERT_EQ(old_leader.answered.load(), 0);
  // The old answer comes and is dropped; a second loop would poll the new leader twice at once.
  ASSERT_TRUE(eventually([&] { return old_leader.answered.load() == 1; }, kWait));
  const int answered = new_leader.answered.load();
  ASSERT_TRUE(eventually([&] { return new_leader.answered.load() >= answered + 5; }, kWait));
  EXPECT_EQ(new_leader.max_in_flight.load(), 1);
  new_leader.log.append(MutationKind::kL2Events, "b1");
  ASSERT_TRUE(eventually([&] { return applied().size() == 1; }, kWait));
  EXPECT_EQ(applied(), std::vector<std::string>{"b1"});
}

TEST_F(ReplicationFollowerTest, AHoldBeforeStartHoldsFromTheFirstTick) {
  LogLeader& leader = add_leader(milliseconds(300));
  leader.log.begin_epoch(5);
  leader.log.append(MutationKind::kL2Events, "a1");
  follow(leader.leader(5));
  hold(6);
  follower_->start();
  wait_for_polls(5);
  EXPECT_TRUE(applied().empty());
  EXPECT_EQ(leader.answered.load(), 0);
}

}  // namespace
}  // namespace lmcache::app
