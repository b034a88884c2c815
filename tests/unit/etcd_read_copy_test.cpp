// app::EtcdReadCopy against a real etcd (skipped only when /usr/bin/etcd is missing).
#include "app/etcd_read_copy.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>

#include "etcd_client_fixture.h"

namespace lmcache::app {
namespace {

using namespace std::chrono_literals;

core::ObjectKey key(char c) { return core::ObjectKey{std::string(32, c), "m", 0, 0, ""}; }

class EtcdReadCopyTest : public testing::EtcdClientFixture {
 protected:
  void SetUp() override {
    EtcdClientFixture::SetUp();
    if (IsSkipped()) return;
    copy_ = std::make_shared<EtcdReadCopy>(io_.get_executor(), *etcd_, "/rc/", quotas_, pins_,
                                           100ms, [] { return false; });
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

TEST_F(EtcdReadCopyTest, PollsMakeTheLocalStateWhatThePrefixHolds) {
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
