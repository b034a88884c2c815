// client::EtcdClient against a real etcd (skipped only when /usr/bin/etcd is missing).
#include "client/etcd_client.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <future>
#include <thread>

#include "etcd_process.h"

namespace lmcache::client {
namespace {

using testing::EtcdProcess;

TEST(EtcdBase64Test, RoundTripsBytesAndRejectsWhatIsNotBase64) {
  const std::string bytes("a\0\xff/leader", 10);
  EXPECT_EQ(etcd_base64_encode("ab"), "YWI=");
  EXPECT_EQ(etcd_base64_decode(etcd_base64_encode(bytes)), bytes);
  EXPECT_EQ(etcd_base64_decode(""), "");
  EXPECT_EQ(etcd_base64_decode("YWI="), "ab");
  EXPECT_EQ(etcd_base64_decode("YWI"), std::nullopt);
  EXPECT_EQ(etcd_base64_decode("Y*I="), std::nullopt);
  EXPECT_EQ(etcd_base64_decode("Y==="), std::nullopt);
}

TEST(EtcdEndpointsTest, ParsesHttpUrlsAndRejectsTheRest) {
  std::string why;
  auto parsed = EtcdClient::parse_endpoints("http://127.0.0.1:2379, 10.0.0.2:2380/", &why);
  ASSERT_TRUE(parsed) << why;
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[0].host, "127.0.0.1");
  EXPECT_EQ((*parsed)[0].port, 2379);
  EXPECT_EQ((*parsed)[1].host, "10.0.0.2");
  EXPECT_EQ((*parsed)[1].port, 2380);
  EXPECT_TRUE(EtcdClient::parse_endpoints("http://[::1]:2379", &why));
  for (const char* bad : {"", ",", "https://h:2379", "http://h", "http://h:0", "http://h:99999",
                          "http://h:x", "http://[::1]"}) {
    EXPECT_FALSE(EtcdClient::parse_endpoints(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

// A client on its own io_context thread; each call waits for its answer.
class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdProcess::available()) GTEST_SKIP() << EtcdProcess::kBinary << " is not installed";
    etcd_ = std::make_unique<EtcdProcess>();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  EtcdClient make_client(std::vector<MpEndpoint> endpoints = {},
                         MpTimeouts timeouts = {std::chrono::milliseconds(1000),
                                                std::chrono::milliseconds(2000)}) {
    if (endpoints.empty()) endpoints.push_back({"127.0.0.1", etcd_->client_port()});
    return EtcdClient(io_.get_executor(), std::move(endpoints), timeouts);
  }

  // Runs `start(done)` and waits for `done`'s argument.
  template <typename Result, typename Start>
  Result wait(Start start) {
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    start([promise](Result result) { promise->set_value(std::move(result)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread thread_;
  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdClientTest, CreateIfAbsentLetsOneLeaseHoldAKey) {
  EtcdClient etcd = make_client();
  const auto first = wait<EtcdLeaseResult>([&](auto done) { etcd.grant_lease(5, done); });
  const auto second = wait<EtcdLeaseResult>([&](auto done) { etcd.grant_lease(5, done); });
  ASSERT_TRUE(first.error.empty()) << first.error;
  EXPECT_NE(first.id, second.id);
  EXPECT_GE(first.ttl, 5);

  const auto won = wait<EtcdTxnResult>(
      [&](auto done) { etcd.create_if_absent("/t/leader", "node-a", first.id, done); });
  ASSERT_TRUE(won.error.empty()) << won.error;
  EXPECT_TRUE(won.succeeded);
  EXPECT_GT(won.revision, 0);

  const auto lost = wait<EtcdTxnResult>(
      [&](auto done) { etcd.create_if_absent("/t/leader", "node-b", second.id, done); });
  ASSERT_TRUE(lost.error.empty()) << lost.error;
  EXPECT_FALSE(lost.succeeded);
  ASSERT_TRUE(lost.existing);
  EXPECT_EQ(lost.existing->value, "node-a");
  EXPECT_EQ(lost.existing->create_revision, won.revision);
  EXPECT_EQ(lost.existing->lease, first.id);

  // The key goes with its lease.
  const auto alive = wait<EtcdLeaseResult>([&](auto done) { etcd.keep_alive(first.id, done); });
  EXPECT_GT(alive.ttl, 0) << alive.error;
  EXPECT_EQ(wait<std::string>([&](auto done) { etcd.revoke_lease(first.id, done); }), "");
  EXPECT_TRUE(wait<EtcdRangeResult>([&](auto done) { etcd.get("/t/leader", done); }).kvs.empty());
  const auto gone = wait<EtcdLeaseResult>([&](auto done) { etcd.keep_alive(first.id, done); });
  EXPECT_TRUE(gone.error.empty()) << gone.error;
  EXPECT_EQ(gone.ttl, 0);
}

TEST_F(EtcdClientTest, FencedWritesSucceedOnlyUnderTheGuardsCreateRevision) {
  EtcdClient etcd = make_client();
  const auto lease = wait<EtcdLeaseResult>([&](auto done) { etcd.grant_lease(5, done); });
  const auto won = wait<EtcdTxnResult>(
      [&](auto done) { etcd.create_if_absent("/f/leader", "me", lease.id, done); });
  ASSERT_TRUE(won.succeeded) << won.error;

  auto put = wait<EtcdTxnResult>(
      [&](auto done) { etcd.put_if_guard("/f/leader", won.revision, "/f/quota/a", "1", done); });
  EXPECT_TRUE(put.succeeded) << put.error;
  put = wait<EtcdTxnResult>([&](auto done) {
    etcd.put_if_guard("/f/leader", won.revision - 1, "/f/quota/b", "2", done);
  });
  EXPECT_TRUE(put.error.empty()) << put.error;
  EXPECT_FALSE(put.succeeded);  // a deposed leader's epoch

  auto all = wait<EtcdRangeResult>([&](auto done) { etcd.get_prefix("/f/quota/", done); });
  ASSERT_EQ(all.kvs.size(), 1U) << all.error;
  EXPECT_EQ(all.kvs[0].key, "/f/quota/a");
  EXPECT_EQ(all.kvs[0].value, "1");

  const auto removed = wait<EtcdTxnResult>(
      [&](auto done) { etcd.delete_if_guard("/f/leader", won.revision, "/f/quota/a", done); });
  EXPECT_TRUE(removed.succeeded) << removed.error;
  all = wait<EtcdRangeResult>([&](auto done) { etcd.get_prefix("/f/quota/", done); });
  EXPECT_TRUE(all.kvs.empty());
}

TEST_F(EtcdClientTest, FailsOverToTheNextEndpoint) {
  EtcdClient etcd = make_client(
      {{"127.0.0.1", testing::free_loopback_port()}, {"127.0.0.1", etcd_->client_port()}});
  const auto read = wait<EtcdRangeResult>([&](auto done) { etcd.get("/none", done); });
  EXPECT_TRUE(read.error.empty()) << read.error;
  EXPECT_GT(read.revision, 0);

  // The endpoint that answered stays the first one tried.
  const auto again = wait<EtcdRangeResult>([&](auto done) { etcd.get("/none", done); });
  EXPECT_TRUE(again.error.empty()) << again.error;

  EtcdClient dead = make_client({{"127.0.0.1", testing::free_loopback_port()}});
  const auto failed = wait<EtcdRangeResult>([&](auto done) { dead.get("/none", done); });
  EXPECT_NE(failed.error.find("connect"), std::string::npos) << failed.error;
}

TEST_F(EtcdClientTest, PassesOverAnEndpointThatAcceptsButNeverAnswers) {
  // A listening socket nobody accepts on: the kernel completes the handshake, nothing answers
  // (a paused etcd member).
  boost::asio::io_context idle;
  boost::asio::ip::tcp::acceptor hung(idle, {boost::asio::ip::make_address("127.0.0.1"), 0});
  EtcdClient etcd = make_client(
      {{"127.0.0.1", hung.local_endpoint().port()}, {"127.0.0.1", etcd_->client_port()}},
      {std::chrono::milliseconds(200), std::chrono::milliseconds(300)});
  const auto started = std::chrono::steady_clock::now();
  const auto read = wait<EtcdRangeResult>([&](auto done) { etcd.get("/none", done); });
  EXPECT_TRUE(read.error.empty()) << read.error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
}

}  // namespace
}  // namespace lmcache::client
