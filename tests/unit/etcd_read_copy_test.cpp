// app::EtcdReadCopy against a real etcd (skipped only when /usr/bin/etcd is missing).
#include "app/etcd_read_copy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>

#include "etcd_client_fixture.h"

namespace lmcache::app {
namespace {

using namespace std::chrono_literals;

core::ObjectKey key(char c) { return core::ObjectKey{std::string(32, c), "m", 0, 0, ""}; }

// Polls only, every 100 ms: the safety net alone.
EtcdReadCopy::Options poll_only() { return {100ms, 100ms, false}; }
// A watch, and polls too slow to show anything within a test's bounds.
EtcdReadCopy::Options watch_only() { return {30s, 30s, true}; }

class EtcdReadCopyTest : public testing::EtcdClientFixture {
 protected:
  void SetUp() override {
    EtcdClientFixture::SetUp();
    if (IsSkipped()) return;
    copy_ = make_copy(poll_only(), quotas_, pins_);
  }

  std::shared_ptr<EtcdReadCopy> make_copy(
      EtcdReadCopy::Options options, core::QuotaStore& quotas, core::Pins& pins,
      std::function<bool()> serving = [] { return false; }) {
    return std::make_shared<EtcdReadCopy>(io_.get_executor(), *etcd_, "/rc/", quotas, pins, options,
                                          std::move(serving));
  }

  // Sets `key` = `value` in etcd (deleting it first), waiting for both.
  void put(const std::string& key, const std::string& value) {
    bool removed = false;
    etcd_->remove(key, [&](const client::EtcdTxnResult&) { removed = true; });
    ASSERT_TRUE(run_until([&] { return removed; }));
    bool created = false;
    etcd_->create_if_absent(key, value, 0, [&](const client::EtcdTxnResult& result) {
      EXPECT_TRUE(result.succeeded) << result.error;
      created = true;
    });
    ASSERT_TRUE(run_until([&] { return created; }));
  }

  void remove(const std::string& key) {
    bool removed = false;
    etcd_->remove(key, [&](const client::EtcdTxnResult&) { removed = true; });
    ASSERT_TRUE(run_until([&] { return removed; }));
  }

  core::QuotaStore quotas_{":memory:", 7};
  core::Pins pins_{quotas_};
  std::shared_ptr<EtcdReadCopy> copy_;
};

TEST_F(EtcdReadCopyTest, PollsAloneMakeTheLocalStateWhatThePrefixHolds) {
  quotas_.set("stale", 1);  // not in etcd: goes
  const core::ObjectKey pinned = key('a');
  pins_.pin(std::span(&pinned, 1));
  const std::optional<std::string> pin_table = copy_->pins_key().read();
  ASSERT_TRUE(pin_table);
  pins_.replace_all({});

  put("/rc/quota/a", "5");
  put("/rc/quota-default", "none");
  put("/rc/pins", *pin_table);
  copy_->start();
  EXPECT_TRUE(run_until([&] { return quotas_.get("a") == 5U; }));
  EXPECT_TRUE(run_until([&] { return !quotas_.get("stale"); }));
  EXPECT_EQ(quotas_.default_limit(), core::DefaultLimit{});
  EXPECT_TRUE(pins_.keys().contains(core::ObjectKeyView(pinned)));
  EXPECT_GT(copy_->revision(), 0);

  put("/rc/quota/a", "6");
  EXPECT_TRUE(run_until([&] { return quotas_.get("a") == 6U; }));
  remove("/rc/quota/a");
  remove("/rc/pins");
  EXPECT_TRUE(run_until([&] { return !quotas_.get("a") && pins_.keys().size() == 0; }));
  copy_->stop();
}

TEST_F(EtcdReadCopyTest, TheWatchShowsAChangeLongBeforeThePoll) {
  put("/rc/quota/a", "5");
  copy_ = make_copy(watch_only(), quotas_, pins_);
  copy_->start();  // the first read happens at once
  ASSERT_TRUE(run_until([&] { return quotas_.get("a") == 5U; }));

  put("/rc/quota/b", "7");
  EXPECT_TRUE(run_until([&] { return quotas_.get("b") == 7U; }, 3s));
  remove("/rc/quota/a");
  EXPECT_TRUE(run_until([&] { return !quotas_.get("a"); }, 3s));
  copy_->stop();
}

TEST_F(EtcdReadCopyTest, AfterEtcdRestartsTheWatchResumes) {
  copy_ = make_copy(watch_only(), quotas_, pins_);
  copy_->start();
  put("/rc/quota/a", "5");
  ASSERT_TRUE(run_until([&] { return quotas_.get("a") == 5U; }, 3s));

  etcd_process_->kill_now();
  etcd_process_->restart();
  etcd_process_->wait_ready();
  put("/rc/quota/b", "7");  // whether the watch is back yet or not: it resumes after `a`
  EXPECT_TRUE(run_until([&] { return quotas_.get("b") == 7U; }, 10s));
  copy_->stop();
}

TEST_F(EtcdReadCopyTest, TheLeaderAppliesNothingWatchedAndCatchesUpWhenItStopsServing) {
  std::atomic<bool> serving{true};
  copy_ = make_copy({100ms, 30s, true}, quotas_, pins_, [&] { return serving.load(); });
  core::QuotaStore witness_quotas{":memory:", 7};
  core::Pins witness_pins{witness_quotas};
  auto witness = make_copy(watch_only(), witness_quotas, witness_pins);
  copy_->start();
  witness->start();

  put("/rc/quota/a", "5");
  // The follower beside it on the same loop has seen the change; the leader took none of it.
  ASSERT_TRUE(run_until([&] { return witness_quotas.get("a") == 5U; }, 3s));
  EXPECT_EQ(quotas_.get("a"), std::nullopt);
  EXPECT_EQ(copy_->revision(), 0);

  serving = false;  // deposed: its next poll (100 ms) reads etcd
  EXPECT_TRUE(run_until([&] { return quotas_.get("a") == 5U; }, 3s));
  copy_->stop();
  witness->stop();
}

TEST_F(EtcdReadCopyTest, ALoadWithPinsThatDoNotParseFailsAndChangesNothing) {
  put("/rc/quota/a", "5");
  put("/rc/pins", "not a pin table");
  std::optional<bool> ready;
  copy_->load([&](bool ok) { ready = ok; });
  ASSERT_TRUE(run_until([&] { return ready.has_value(); }));
  EXPECT_FALSE(*ready);
  EXPECT_EQ(quotas_.get("a"), std::nullopt);
  EXPECT_EQ(quotas_.default_limit(), core::DefaultLimit{7});
}

}  // namespace
}  // namespace lmcache::app
