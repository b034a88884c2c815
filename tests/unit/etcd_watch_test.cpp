// client::EtcdWatch against a real etcd (skipped only when /usr/bin/etcd is missing).
#include "client/etcd_watch.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "etcd_client_fixture.h"

namespace lmcache::client {
namespace {

using namespace std::chrono_literals;

class EtcdWatchTest : public testing::EtcdClientFixture {
 protected:
  MpEndpoint endpoint() const { return {"127.0.0.1", etcd_process_->client_port()}; }

  // A watch of `prefix` from `start_revision` that records what it reports.
  std::shared_ptr<EtcdWatch> watch(const std::string& prefix, int64_t start_revision,
                                   const MpEndpoint& to) {
    auto watch = std::make_shared<EtcdWatch>(
        io_.get_executor(), to, prefix, start_revision,
        [this](int64_t revision) { changes_.push_back(revision); },
        [this](const std::string& reason) { closed_.push_back(reason); }, 1s);
    watch->start();
    return watch;
  }

  // The store's revision now.
  int64_t now() {
    int64_t revision = 0;
    etcd_->current_revision("/", [&](const EtcdRangeResult& result) {
      EXPECT_TRUE(result.error.empty()) << result.error;
      revision = result.revision;
    });
    EXPECT_TRUE(run_until([&] { return revision != 0; }));
    return revision;
  }

  // Creates `key` = `value`; the revision of the write.
  int64_t put(const std::string& key, const std::string& value) {
    int64_t revision = 0;
    etcd_->create_if_absent(key, value, 0, [&](const EtcdTxnResult& result) {
      EXPECT_TRUE(result.succeeded) << result.error;
      revision = result.revision;
    });
    EXPECT_TRUE(run_until([&] { return revision != 0; }));
    return revision;
  }

  int64_t remove(const std::string& key) {
    int64_t revision = 0;
    etcd_->remove(key, [&](const EtcdTxnResult& result) { revision = result.revision; });
    EXPECT_TRUE(run_until([&] { return revision != 0; }));
    return revision;
  }

  std::vector<int64_t> changes_;
  std::vector<std::string> closed_;
};

TEST_F(EtcdWatchTest, ReportsChangesUnderThePrefixOnly) {
  auto w = watch("/w/", now() + 1, endpoint());
  const int64_t outside = put("/other/a", "1");
  const int64_t inside = put("/w/a", "1");
  ASSERT_LT(outside, inside);
  ASSERT_TRUE(run_until([&] { return !changes_.empty(); })) << ::testing::PrintToString(closed_);
  EXPECT_EQ(changes_.front(), inside);  // the write outside the prefix was not reported
  EXPECT_TRUE(w->created());

  const int64_t deleted = remove("/w/a");
  ASSERT_TRUE(run_until([&] { return changes_.back() == deleted; }));
  EXPECT_TRUE(closed_.empty());
  w->stop();
}

TEST_F(EtcdWatchTest, ReplaysChangesFromItsStartRevision) {
  const int64_t first = put("/w/a", "1");
  const int64_t second = put("/w/b", "2");
  auto w = watch("/w/", first, endpoint());
  // Replayed events may come in one message: reported at the newest one's revision.
  ASSERT_TRUE(run_until([&] { return !changes_.empty() && changes_.back() == second; }));
  EXPECT_GE(changes_.front(), first);
  w->stop();
}

TEST_F(EtcdWatchTest, AfterStopNothingIsReported) {
  auto stopped = watch("/w/", now() + 1, endpoint());
  ASSERT_TRUE(run_until([&] { return stopped->created(); }));
  stopped->stop();
  // A second watch sees the next write; the stopped one, on the same loop, reports nothing.
  std::optional<int64_t> seen;
  auto witness = std::make_shared<EtcdWatch>(
      io_.get_executor(), endpoint(), "/w/", now() + 1, [&](int64_t revision) { seen = revision; },
      [](const std::string&) {});
  witness->start();
  const int64_t revision = put("/w/a", "1");
  ASSERT_TRUE(run_until([&] { return seen == revision; }));
  EXPECT_TRUE(changes_.empty());
  EXPECT_TRUE(closed_.empty());
  witness->stop();
}

TEST_F(EtcdWatchTest, ClosesOnceWhenEtcdGoesAway) {
  auto w = watch("/w/", now() + 1, endpoint());
  ASSERT_TRUE(run_until([&] { return w->created(); }));
  etcd_process_->kill_now();
  ASSERT_TRUE(run_until([&] { return !closed_.empty(); }));
  EXPECT_EQ(closed_.size(), 1U);
  EXPECT_FALSE(closed_.front().empty());
}

TEST_F(EtcdWatchTest, ClosesWhenNothingListens) {
  auto w = watch("/w/", 0, {"127.0.0.1", testing::free_loopback_port()});
  ASSERT_TRUE(run_until([&] { return !closed_.empty(); }));
  EXPECT_NE(closed_.front().find("connect"), std::string::npos) << closed_.front();
  EXPECT_FALSE(w->created());
}

TEST_F(EtcdWatchTest, ClosesWhenItsStartRevisionWasCompacted) {
  const int64_t first = put("/w/a", "1");
  put("/w/b", "2");
  const int64_t compact_at = put("/w/c", "3");
  MpClient http(io_.get_executor());
  std::optional<MpResponse> compacted;
  http.request(boost::beast::http::verb::post, endpoint(), "/v3/kv/compaction",
               R"({"revision":")" + std::to_string(compact_at) + R"(","physical":true})",
               [&](MpResponse response) { compacted = std::move(response); });
  ASSERT_TRUE(run_until([&] { return compacted.has_value(); }));
  ASSERT_TRUE(compacted->success()) << compacted->error_text << compacted->body;

  auto w = watch("/w/", first, endpoint());
  ASSERT_TRUE(run_until([&] { return !closed_.empty(); }));
  EXPECT_NE(closed_.front().find("compacted"), std::string::npos) << closed_.front();
  EXPECT_TRUE(changes_.empty());
}

TEST_F(EtcdWatchTest, ClosesOnAMessageOverTheLimit) {
  auto w = watch("/w/", now() + 1, endpoint());
  // The event carries the value in base64: 4/3 of 0.9 MiB is over 1 MiB.
  put("/w/big", std::string(EtcdWatch::kMaxMessageBytes * 9 / 10, 'x'));
  ASSERT_TRUE(run_until([&] { return !closed_.empty(); }));
  EXPECT_NE(closed_.front().find("over"), std::string::npos) << closed_.front();
  EXPECT_TRUE(changes_.empty());
}

}  // namespace
}  // namespace lmcache::client
