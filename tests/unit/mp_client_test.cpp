#include "client/mp_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_mp_server.h"

namespace lmcache::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeMpServer;

// Generous bound on anything that should be "prompt": a hung test fails here
// instead of at the ctest timeout.
constexpr auto kPatience = 10s;

class MpClientTest : public ::testing::Test {
 protected:
  MpEndpoint endpoint() const { return {server_.host(), server_.port()}; }

  // Runs the io_context until `start` has produced a response.
  MpResponse run(const std::function<void(MpClient::Callback)>& start) {
    return run_until<MpResponse>(start);
  }

  // The same for GET /l2/keys.
  MpKeysPageResult page(std::size_t page_size, const std::optional<std::string>& token) {
    return run_until<MpKeysPageResult>([&](MpClient::KeysPageCallback done) {
      client_.get_keys_page(endpoint(), page_size, token, std::move(done));
    });
  }

  template <typename Result>
  Result run_until(const std::function<void(std::function<void(Result)>)>& start) {
    std::optional<Result> result;
    start([&](Result r) { result = std::move(r); });
    ioc_.restart();
    ioc_.run_for(kPatience);
    EXPECT_TRUE(result.has_value()) << "no response within " << kPatience.count() << " s";
    return result.value_or(Result{});
  }

  FakeMpServer server_;
  asio::io_context ioc_;
  MpClient client_{ioc_.get_executor(), MpClient::Timeouts{200ms, 500ms}};
};

// Keys for delete_keys, as views.
std::vector<core::ObjectKeyView> views(const std::vector<core::ObjectKey>& keys) {
  return {keys.begin(), keys.end()};
}

TEST_F(MpClientTest, DeleteSendsBodyAndServerRecordsIt) {
  const std::string body =
      R"({"keys":[{"chunk_hash_hex":"ab","model_name":"m","kv_rank":0,"object_group_id":0,"cache_salt":""}]})";
  const std::vector<core::ObjectKey> keys = {{"\xab", "m", 0, 0, ""}};
  const MpResponse r = run([&](auto done) { client_.delete_keys(endpoint(), views(keys), done); });
  ASSERT_TRUE(r.ok()) << r.error_text;
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"status":"ok","deleted":1})"));

  ASSERT_TRUE(server_.wait_for_deletes(1, kPatience));
  EXPECT_EQ(server_.delete_bodies(), std::vector<std::string>{body});
  ASSERT_EQ(server_.deleted_keys().size(), 1u);
  EXPECT_EQ(server_.deleted_keys()[0].at("chunk_hash_hex"), "ab");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].target, "/l2");
}

// DELETE /cache/objects to a v2 server, its answer decoded.
class MpClientDeleteObjectsTest : public MpClientTest {
 protected:
  MpDeleteObjectsResult delete_objects(const std::vector<core::ObjectKey>& keys) {
    return run_until<MpDeleteObjectsResult>([&](MpClient::DeleteObjectsCallback done) {
      client_.delete_objects({v2_.host(), v2_.port()}, views(keys), std::move(done));
    });
  }

  FakeMpServer v2_{FakeMpServer::Dialect::kV2};
};

TEST_F(MpClientDeleteObjectsTest, SendsTheKeysAndDecodesTheAnswer) {
  const MpDeleteObjectsResult r =
      delete_objects({{"\xab", "m", 0, 0, ""}, {"\xcd", "m", 1, 0, "t"}});
  EXPECT_TRUE(r.ok()) << r.error;
  ASSERT_TRUE(r.answer.has_value());
  EXPECT_EQ(r.answer->deleted, 2u);
  EXPECT_TRUE(r.answer->ok);
  const auto requests = v2_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].target, "/cache/objects");
  ASSERT_EQ(v2_.deleted_keys().size(), 2u);
  EXPECT_EQ(v2_.deleted_keys()[1].at("cache_salt"), "t");
}

TEST_F(MpClientDeleteObjectsTest, OkFalseIsAFailureWithTheServersError) {
  v2_.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"disk gone"})");
  const MpDeleteObjectsResult r = delete_objects({{"\xab", "m", 0, 0, ""}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "ok:false: disk gone");
  ASSERT_TRUE(r.answer.has_value());
  EXPECT_FALSE(r.answer->ok);
}

TEST_F(MpClientDeleteObjectsTest, NonSuccessAndTransportErrorsAreFailures) {
  v2_.set_fail_all(503);
  MpDeleteObjectsResult r = delete_objects({});
  EXPECT_EQ(r.error, "HTTP 503");
  EXPECT_FALSE(r.answer.has_value());
  EXPECT_EQ(r.response.status, 503u);

  uint16_t closed_port = 0;
  {
    FakeMpServer gone;
    closed_port = gone.port();
  }
  r = run_until<MpDeleteObjectsResult>([&](MpClient::DeleteObjectsCallback done) {
    client_.delete_objects({"127.0.0.1", closed_port}, {}, std::move(done));
  });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error.rfind("connect: ", 0), 0u) << r.error;
}

// Only an explicit "ok": false says the keys were not deleted: a 2xx without a readable answer
// succeeds, with no answer.
TEST_F(MpClientDeleteObjectsTest, UnreadableSuccessAnswerIsStillASuccess) {
  v2_.set_delete_response(200, "null");
  const MpDeleteObjectsResult r = delete_objects({});
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.answer.has_value());
}

TEST_F(MpClientTest, KeysPageTokenIsPercentEncoded) {
  const MpKeysPageResult r = page(7, std::string("a b&c=d/\xC3\xA9~"));
  ASSERT_TRUE(r.response.ok()) << r.response.error_text;
  EXPECT_EQ(r.error, "HTTP 400");  // the fake knows no such token
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/l2/keys?page_size=7&page_token=a%20b%26c%3Dd%2F%C3%A9~");
}

TEST_F(MpClientTest, PagesThroughAllKeysFollowingOpaqueTokens) {
  std::vector<std::string> entries;
  entries.reserve(6);
  for (int i = 0; i < 5; ++i) {
    entries.push_back(R"({"key":{"chunk_hash_hex":"0)" + std::to_string(i) +
                      R"(","model_name":"m","kv_rank":0},"size_bytes":)" + std::to_string(i) + "}");
  }
  entries.push_back(R"({"key":{"chunk_hash_hex":"zz"},"size_bytes":1})");  // served as is
  server_.set_keys(entries);

  std::vector<std::pair<core::ObjectKey, uint64_t>> seen;
  std::size_t skipped = 0;
  std::optional<std::string> token;
  for (int pages = 0; pages < 10; ++pages) {
    const MpKeysPageResult r = page(4, token);
    ASSERT_TRUE(r.ok()) << r.error << " " << r.response.status << " " << r.response.body;
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.response.status, 200u);
    seen.insert(seen.end(), r.page->entries.begin(), r.page->entries.end());
    skipped += r.page->skipped;
    if (!r.page->next_page_token) break;
    token = r.page->next_page_token;
  }
  ASSERT_EQ(seen.size(), 5u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first,
              (core::ObjectKey{std::string(1, static_cast<char>(i)), "m", 0, 0, ""}));
    EXPECT_EQ(seen[i].second, i);
  }
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(server_.keys_page_sizes(), (std::vector<std::size_t>{4, 4}));
}

TEST_F(MpClientTest, KeysPageTransportFailureIsAnError) {
  uint16_t closed_port = 0;
  {
    asio::io_context probe;
    asio::ip::tcp::acceptor acceptor(probe, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  MpKeysPageResult r = run_until<MpKeysPageResult>([&](MpClient::KeysPageCallback done) {
    client_.get_keys_page({"127.0.0.1", closed_port}, 1, {}, std::move(done));
  });
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.response.ok());
  EXPECT_EQ(r.error.rfind("connect: ", 0), 0u) << r.error;
}

TEST_F(MpClientTest, NonSuccessStatusIsRelayedWithBodyNotAsTransportError) {
  server_.set_delete_response(503, R"({"detail":"busy"})");
  const MpResponse r = run([&](auto done) { client_.delete_keys(endpoint(), {}, done); });
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.success());
  EXPECT_FALSE(r.error);
  EXPECT_TRUE(r.error_text.empty());
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, R"({"detail":"busy"})");
}

TEST_F(MpClientTest, ConnectionRefusedFailsPromptly) {
  uint16_t closed_port = 0;
  {
    asio::io_context scratch;
    asio::ip::tcp::acceptor a(scratch, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  const auto start = std::chrono::steady_clock::now();
  const MpResponse r = run([&](auto done) {
    client_.delete_keys({"127.0.0.1", closed_port}, {}, done);
  });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, asio::error::connection_refused) << r.error_text;
  EXPECT_EQ(r.error_text.rfind("connect: ", 0), 0u) << r.error_text;
  EXPECT_EQ(r.status, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(MpClientTest, ServerThatNeverAnswersHitsRequestTimeout) {
  server_.set_blackhole(true);
  const auto start = std::chrono::steady_clock::now();
  const MpResponse r = run([&](auto done) { client_.submit_prefetch(endpoint(), "{}", done); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, beast::error::timeout) << r.error_text;
  EXPECT_EQ(r.error_text.rfind("read: ", 0), 0u) << r.error_text;
  EXPECT_GE(elapsed, 400ms);  // request timeout is 500 ms
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(server_.requests().size(), 1u);  // it was received, just not answered
}

TEST_F(MpClientTest, SlowServerWithinTimeoutSucceeds) {
  server_.set_delay(100ms);
  const MpResponse r = run([&](auto done) { client_.poll_prefetch(endpoint(), "r-1", done); });
  ASSERT_TRUE(r.success()) << r.error_text;
}

TEST_F(MpClientTest, PrefetchSubmitAndPoll) {
  const std::string submit = R"({"model_name":"m","world_size":1,"token_ids":[)" + [] {
    std::string ids;
    for (int i = 0; i < 600; ++i) ids += (i ? "," : "") + std::to_string(i);
    return ids;
  }() + R"(],"cache_salt":""})";
  MpResponse r = run([&](auto done) { client_.submit_prefetch(endpoint(), submit, done); });
  ASSERT_TRUE(r.ok()) << r.error_text;
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"request_id":"r-1","chunks":2,"status":"submitted"})"));
  EXPECT_EQ(server_.prefetch_bodies(), std::vector<std::string>{submit});

  // The id is one percent-encoded path segment.
  r = run([&](auto done) { client_.poll_prefetch(endpoint(), "r/1 x", done); });
  ASSERT_TRUE(r.ok()) << r.error_text;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"request_id":"r/1 x","status":"done"})"));
  EXPECT_EQ(server_.requests().back().target, "/l2/prefetch/r%2F1%20x");

  server_.set_prefetch_status("r-9", {404, "no such request", "text/plain"});
  r = run([&](auto done) { client_.poll_prefetch(endpoint(), "r-9", done); });
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body, "no such request");
}

TEST_F(MpClientTest, OversizedResponseBodyIsAnErrorNotAnAllocation) {
  server_.set_prefetch_status("big", {200, std::string(MpClient::kMaxResponseBodyBytes + 1, 'x')});
  // Building 64 MiB takes the fake a while under sanitizers: no tight deadline here.
  MpClient patient(ioc_.get_executor(), MpClient::Timeouts{2s, kPatience / 2});
  const MpResponse r = run([&](auto done) { patient.poll_prefetch(endpoint(), "big", done); });
  EXPECT_EQ(r.error, http::error::body_limit) << r.error_text;
  EXPECT_TRUE(r.body.empty());
}

TEST_F(MpClientTest, HostNameIsResolved) {
  const MpResponse r = run([&](auto done) {
    client_.poll_prefetch({"localhost", server_.port()}, "r-1", done);
  });
  ASSERT_TRUE(r.success()) << r.error_text;
}

TEST(MpEndpointTest, HostHeaderBracketsIpv6Literals) {
  EXPECT_EQ((MpEndpoint{"127.0.0.1", 8080}.host_header()), "127.0.0.1:8080");
  EXPECT_EQ((MpEndpoint{"mp-0.local", 80}.host_header()), "mp-0.local:80");
  EXPECT_EQ((MpEndpoint{"::1", 8080}.host_header()), "[::1]:8080");
  EXPECT_EQ((MpEndpoint{"[::1]", 8080}.host_header()), "[::1]:8080");
  EXPECT_EQ((MpEndpoint{"fe80::1%eth0", 1}.host_header()), "[fe80::1%25eth0]:1");
}

TEST(MpEndpointTest, BareHostDropsTheBracketsOfAnIpv6Literal) {
  EXPECT_EQ((MpEndpoint{"[::1]", 8080}.bare_host()), "::1");
  EXPECT_EQ((MpEndpoint{"::1", 8080}.bare_host()), "::1");
  EXPECT_EQ((MpEndpoint{"etcd-0.local", 2379}.bare_host()), "etcd-0.local");
  EXPECT_EQ((MpEndpoint{"[", 1}.bare_host()), "[");
}

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("a b+c/%?#&="), "a%20b%2Bc%2F%25%3F%23%26%3D");
  EXPECT_EQ(percent_encode(std::string("\x00\xff", 2)), "%00%FF");
}

// Many requests at once, on a multi-threaded pool: every callback runs once.
TEST(MpClientConcurrencyTest, ManyRequestsInFlight) {
  FakeMpServer server;
  server.set_delay(50ms);
  asio::thread_pool pool(2);
  MpClient client(pool.get_executor(), {1000ms, 5000ms});
  constexpr int kRequests = 64;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    client.delete_keys({"127.0.0.1", server.port()}, {}, [&](const MpResponse& r) {
      if (r.success()) ++ok;
      if (++done == kRequests) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(kPatience), std::future_status::ready);
  pool.join();
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_TRUE(server.wait_for_deletes(kRequests, kPatience));
}

// Stopping and destroying the io_context with requests pending drops their
// callbacks without touching freed memory (checked under ASan).
TEST(MpClientLifetimeTest, StoppedIoContextWithPendingRequests) {
  FakeMpServer server;
  server.set_blackhole(true);
  auto called = std::make_shared<std::atomic<int>>(0);
  {
    auto ioc = std::make_unique<asio::io_context>();
    auto client = std::make_unique<MpClient>(ioc->get_executor(), MpClient::Timeouts{1000ms, 60s});
    for (int i = 0; i < 8; ++i) {
      client->submit_prefetch({"127.0.0.1", server.port()}, "{}",
                              [called](const MpResponse&) { ++*called; });
      client->poll_prefetch({"localhost", server.port()}, "r",
                            [called](const MpResponse&) { ++*called; });
    }
    client.reset();  // the client may go before its requests
    std::thread runner([&] { ioc->run(); });
    server.wait_for_requests(16, kPatience);
    ioc->stop();
    runner.join();
    ioc.reset();
  }
  EXPECT_EQ(called->load(), 0);
}

}  // namespace
}  // namespace lmcache::client

namespace lmcache::client {
namespace {

// HA fencing: the gate decides whether a request goes and which epoch it carries.
TEST_F(MpClientTest, AGatedRequestCarriesTheEpochHeader) {
  client_.set_dispatch_gate([] { return std::optional<uint64_t>(42); });
  const MpResponse r = run([&](auto done) {
    client_.request(http::verb::get, endpoint(), "/l2/keys?page_size=1", {}, done);
  });
  ASSERT_TRUE(r.ok()) << r.error_text;
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].epoch, "42");
}

TEST_F(MpClientTest, AClosedGateFailsTheRequestWithoutSendingIt) {
  client_.set_dispatch_gate([] { return std::optional<uint64_t>(); });
  const MpResponse r = run([&](auto done) {
    client_.request(http::verb::delete_, endpoint(), "/l2", R"({"keys":[]})", done);
  });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, asio::error::operation_aborted);
  EXPECT_EQ(r.error_text, "fenced: not the leader");
  EXPECT_TRUE(server_.requests().empty());  // refused before connecting: nothing is in flight
}

TEST_F(MpClientTest, AGateThatClosesWhileConnectingStopsTheRequestBeforeItIsWritten) {
  std::atomic<int> asked{0};
  client_.set_dispatch_gate([&asked]() -> std::optional<uint64_t> {
    if (asked.fetch_add(1) == 0) return 7;  // open when the request is made, closed after
    return std::nullopt;
  });
  const MpResponse r = run([&](auto done) {
    client_.request(http::verb::delete_, endpoint(), "/l2", R"({"keys":[]})", done);
  });
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.error_text.starts_with("fenced: not the leader")) << r.error_text;
  EXPECT_EQ(asked.load(), 2);
  EXPECT_TRUE(server_.requests().empty());  // connected, but not a byte written
}

TEST_F(MpClientTest, SendRelaysFieldsAndReturnsTheResponseHeaders) {
  const MpResponse r = run([&](auto done) {
    client_.send(http::verb::get, endpoint(), "/l2/prefetch/x",
                 {{"X-Test", "1"}, {"Accept", "application/json"}}, {}, done);
  });
  ASSERT_TRUE(r.ok()) << r.error_text;
  bool content_type = false;
  for (const auto& [name, value] : r.headers) {
    if (beast::iequals(name, "content-type")) content_type = value == "application/json";
  }
  EXPECT_TRUE(content_type);
}

}  // namespace
}  // namespace lmcache::client
