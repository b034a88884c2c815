// End-to-end: HTTP conventions of the real binary (errors, limits, keep-alive, signals).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <cstddef>
#include <thread>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
using boost::beast::http::verb;

TEST(HttpConventionsTest, UnknownPathAndWrongMethod) {
  CoordinatorProcess coordinator;
  HttpTestClient client(coordinator.port());
  auto missing = client.get("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json(), json::parse(R"({"detail":"Not Found"})"));

  auto wrong = client.request(verb::patch, "/instances");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.json(), json::parse(R"({"detail":"Method Not Allowed"})"));
  EXPECT_NE(wrong.header("allow").find("GET"), std::string::npos);
  EXPECT_NE(wrong.header("allow").find("POST"), std::string::npos);

  auto query_ignored = client.get("/healthz?x=1");
  EXPECT_EQ(query_ignored.status, 200);
}

// An idle connection stays open for the keep-alive timeout: the test waits for the close (a
// positive event) and checks when it came, rather than sleeping to see nothing happen.
TEST(HttpConventionsTest, KeepAliveConnectionIsReusedWithinTimeout) {
  using std::chrono::steady_clock;
  CoordinatorProcess coordinator({"--timeout-keep-alive", "1"});
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
  EXPECT_EQ(client.get("/healthz").status, 200);
  EXPECT_EQ(client.connections_opened(), 1);
  const auto idle_since = steady_clock::now();  // the server's idle timer started before this
  const auto deadline = idle_since + std::chrono::seconds(10);
  while (client.connected() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto idle_for = steady_clock::now() - idle_since;
  ASSERT_FALSE(client.connected()) << "the idle connection was never closed";
  EXPECT_GE(idle_for, std::chrono::milliseconds(900)) << "closed before the 1 s timeout";
}

TEST(HttpConventionsTest, IdleConnectionIsClosedAfterTimeout) {
  CoordinatorProcess coordinator({"--timeout-keep-alive", "0.3"});
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (client.connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(client.connected());
}

TEST(HttpConventionsTest, OversizedBodyIs413AndOversizedHeaderIs431) {
  CoordinatorProcess coordinator;
  const std::string big_body =
      "POST /instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 999999999999\r\n\r\n{}";
  EXPECT_NE(send_raw(coordinator.port(), big_body).find("HTTP/1.1 413"), std::string::npos);

  const std::string big_header =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(std::size_t{64} * 1024, 'a') +
      "\r\n\r\n";
  EXPECT_NE(send_raw(coordinator.port(), big_header).find("HTTP/1.1 431"), std::string::npos);

  // The server is still fine.
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
}

TEST(HttpConventionsTest, GarbageRequestIsRejectedWithout500) {
  CoordinatorProcess coordinator;
  const std::string reply = send_raw(coordinator.port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(reply.find(" 500 "), std::string::npos);
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
}

TEST(HttpConventionsTest, BodyThatNeverArrivesIsTimedOut) {
  CoordinatorProcess coordinator({"--timeout-keep-alive", "0.5"});
  // Headers promise 10 bytes, none follow; the server must not wait forever
  // (the body timeout is three keep-alive timeouts; send_raw gives up after 60 s).
  const auto started = std::chrono::steady_clock::now();
  send_raw(coordinator.port(), "POST /instances HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
           std::chrono::seconds(60));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_LT(waited, std::chrono::seconds(30));
  EXPECT_GE(waited, std::chrono::milliseconds(1500));  // three keep-alive timeouts, never fewer
}

// Headers that stop half-way are timed out after the keep-alive timeout, never before it.
TEST(HttpConventionsTest, HeaderThatNeverCompletesIsTimedOut) {
  CoordinatorProcess coordinator({"--timeout-keep-alive", "0.5"});
  const auto started = std::chrono::steady_clock::now();
  const std::string reply = send_raw(coordinator.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n",
                                     std::chrono::seconds(60));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply, "");  // closed without an answer
  EXPECT_GE(waited, std::chrono::milliseconds(500));
  EXPECT_LT(waited, std::chrono::seconds(30));
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
}

TEST(HttpConventionsTest, SigtermAndSigintStopGracefullyWithExitZero) {
  for (int signal : {SIGTERM, SIGINT}) {
    CoordinatorProcess coordinator;
    HttpTestClient client(coordinator.port());
    EXPECT_EQ(client.get("/healthz").status, 200);
    EXPECT_EQ(coordinator.stop(signal), 0);
  }
}

TEST(HttpConventionsTest, StartupLineShowsRealPort) {
  CoordinatorProcess coordinator;
  EXPECT_NE(coordinator.port(), 0);
  EXPECT_NE(coordinator.log().find("MP coordinator listening on http://127.0.0.1:" +
                                   std::to_string(coordinator.port())),
            std::string::npos);
}

}  // namespace
}  // namespace lmcache::testing
