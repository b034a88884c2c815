#include "http/replication_routes.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <string>

namespace lmcache::http {
namespace {

using verb = beast_http::verb;
using Kind = core::MutationKind;

TEST(ReplicationRoutesTest, OnlyTheSoftStateWritesAreLogged) {
  // Admitted batches are logged one by one in their binary record, not as the body.
  EXPECT_EQ(logged_mutation(verb::post, "/events"), std::nullopt);
  EXPECT_EQ(logged_mutation(verb::post, "/l2/events"), Kind::kL2Events);
  EXPECT_EQ(logged_mutation(verb::post, "/blend/fingerprints"), Kind::kBlendPublish);
  EXPECT_EQ(logged_mutation(verb::delete_, "/blend/fingerprints"), Kind::kBlendRemove);
  EXPECT_EQ(logged_mutation(verb::post, "/blend/match"), std::nullopt);
  EXPECT_EQ(logged_mutation(verb::get, "/events"), std::nullopt);
  EXPECT_EQ(logged_mutation(verb::put, "/quota/alice"), std::nullopt);
  EXPECT_EQ(logged_mutation(verb::post, "/instances"), std::nullopt);  // logged by its hook
}

TEST(ReplicationRoutesTest, AReplayIsTheRequestThatWasLogged) {
  for (const Kind kind : {Kind::kL2Events, Kind::kBlendPublish, Kind::kBlendRemove}) {
    const std::optional<HttpRequest> request = replay_request(kind, R"({"x":1})");
    ASSERT_TRUE(request.has_value());
    const std::string_view target = request->target();
    EXPECT_EQ(logged_mutation(request->method(), target), kind) << target;
    EXPECT_EQ(request->body(), R"({"x":1})");
  }
  EXPECT_FALSE(replay_request(Kind::kInstanceRegistered, "mp-1").has_value());
  EXPECT_FALSE(replay_request(Kind::kCacheEventRecord, "").has_value());
}

class LogRouteTest : public ::testing::Test {
 protected:
  LogRouteTest() {
    ReplicationRouteOptions options;
    options.max_wait = std::chrono::milliseconds(5000);
    add_replication_routes(router_, io_.get_executor(), log_, options);
  }

  // Dispatches GET `target` and runs the loop until it is answered.
  HttpResponse get(const std::string& target) {
    std::optional<HttpResponse> answer;
    router_.dispatch(HttpRequest{verb::get, target, 11},
                     [&answer](HttpResponse response) { answer = std::move(response); });
    io_.restart();
    while (!answer && io_.run_one() > 0) {
    }
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(HttpResponse{});
  }

  boost::asio::io_context io_;
  core::MutationLog log_{1 << 20};
  Router router_;
};

TEST_F(LogRouteTest, AnswersTheEntriesAsFrames) {
  log_.begin_epoch(4);
  log_.append(Kind::kL2Events, "one");
  log_.append(Kind::kInstanceTimedOut, "mp-1");
  const HttpResponse response = get("/cluster/log?epoch=4&after=0");
  ASSERT_EQ(response.result_int(), 200U) << response.body();
  EXPECT_EQ(response[kLogEpochHeader], "4");
  EXPECT_EQ(response[kLogLastHeader], "2");
  const auto frames = core::decode_mutation_frames(response.body());
  ASSERT_TRUE(frames.has_value());
  ASSERT_EQ(frames->size(), 2U);
  EXPECT_EQ((*frames)[1].payload, "mp-1");
}

TEST_F(LogRouteTest, ALongPollIsAnsweredWhenAnEntryComes) {
  log_.begin_epoch(4);
  // Appended from the loop once the poll waits (the handler has looked once already).
  boost::asio::post(io_, [this] { log_.append(Kind::kBlendPublish, "later"); });
  const HttpResponse response = get("/cluster/log?epoch=4&after=0");
  ASSERT_EQ(response.result_int(), 200U);
  const auto frames = core::decode_mutation_frames(response.body());
  ASSERT_TRUE(frames.has_value());
  ASSERT_EQ(frames->size(), 1U);
  EXPECT_EQ((*frames)[0].payload, "later");
}

TEST_F(LogRouteTest, RefusesWithTheReason) {
  EXPECT_EQ(get("/cluster/log?epoch=4&after=0")[kLogRefusalHeader], "epoch");  // inactive
  log_.begin_epoch(4);
  EXPECT_EQ(get("/cluster/log?epoch=3&after=0")[kLogRefusalHeader], "epoch");
  const HttpResponse ahead = get("/cluster/log?epoch=4&after=9");
  EXPECT_EQ(ahead.result_int(), 409U);
  EXPECT_EQ(ahead[kLogRefusalHeader], "ahead");
  EXPECT_EQ(get("/cluster/log?epoch=4").result_int(), 422U);
  EXPECT_EQ(get("/cluster/log?epoch=-1&after=0").result_int(), 422U);
}

}  // namespace
}  // namespace lmcache::http
