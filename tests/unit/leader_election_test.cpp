// app::LeaderElection against a real etcd (skipped only when /usr/bin/etcd is missing).
#include "app/leader_election.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <thread>

#include "etcd_client_fixture.h"

namespace lmcache::app {
namespace {

using namespace std::chrono_literals;

class LeaderElectionTest : public testing::EtcdClientFixture {
 protected:
  std::shared_ptr<LeaderElection> make(const std::string& node, LeaderElection::Hooks hooks) {
    LeaderElectionOptions options;
    options.prefix = "/test/";
    options.node_id = node;
    options.advertise_url = "http://" + node + ":9300";
    options.lease = 2s;
    return std::make_shared<LeaderElection>(io_.get_executor(), *etcd_, options, std::move(hooks));
  }
};

TEST_F(LeaderElectionTest, APausedLeadersFenceClosesWhenItsLeaseTimeIsUpBeforeAnyHandlerRuns) {
  int elected = 0;
  int deposed = 0;
  auto election = make("a", {{}, [&](int64_t) { ++elected; }, [&] { ++deposed; }});
  election->start();
  ASSERT_TRUE(run_until([&] { return election->dispatch_epoch().has_value(); }, 10s));
  EXPECT_EQ(elected, 1);
  const LeadershipView view = election->view();
  EXPECT_EQ(view.role, Role::kLeader);
  EXPECT_EQ(view.leader_url, "http://a:9300");
  EXPECT_EQ(static_cast<int64_t>(*election->dispatch_epoch()), view.epoch);
  EXPECT_TRUE(view.last_renewal.has_value());

  // As a SIGSTOPped process: nothing runs on the io_context while the lease time passes.
  std::this_thread::sleep_for(2100ms);
  EXPECT_FALSE(election->dispatch_epoch().has_value());
  EXPECT_EQ(deposed, 0);  // no handler has run: the clock alone closed the fence

  // Resumed, it steps down at once.
  ASSERT_TRUE(run_until([&] { return deposed == 1; }, 5s));
  EXPECT_NE(election->view().role, Role::kLeader);
  election->stop();
  run_until([&] { return election->stopped(); }, 5s);
}

TEST_F(LeaderElectionTest, TheOtherNodeFollowsAndLeadsOnceTheLeaderStops) {
  auto a = make("a", {});
  a->start();
  ASSERT_TRUE(run_until([&] { return a->dispatch_epoch().has_value(); }, 10s));
  const int64_t first_epoch = a->view().epoch;
  auto b = make("b", {});
  b->start();
  ASSERT_TRUE(run_until([&] { return b->view().role == Role::kFollower; }, 10s));
  EXPECT_EQ(b->view().leader_url, "http://a:9300");
  EXPECT_EQ(b->view().epoch, first_epoch);

  a->stop();  // revokes its lease: b need not wait for it to expire
  ASSERT_TRUE(run_until([&] { return b->dispatch_epoch().has_value(); }, 2s));
  EXPECT_GT(b->view().epoch, first_epoch);
  EXPECT_TRUE(a->stopped());
  EXPECT_FALSE(a->dispatch_epoch().has_value());
  b->stop();
  run_until([&] { return b->stopped(); }, 5s);
}

}  // namespace
}  // namespace lmcache::app
