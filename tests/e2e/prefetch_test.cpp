// End-to-end: warm prefetch forwarded to a fake MP server.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

class PrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto res = client_.post(
        "/instances",
        fmt::format(R"({{"instance_id":"mp-a","ip":"127.0.0.1","http_port":{}}})", server_.port()));
    ASSERT_EQ(res.status, 200);
  }
  FakeMpServer server_;
  CoordinatorProcess coordinator_{{"--eviction-check-interval", "0"}};
  HttpTestClient client_{coordinator_.port()};
};

const char* kSubmit =
    R"({"instance_id":"mp-a","model_name":"llama","world_size":2,"token_ids":[1,2,3],"cache_salt":"t"})";

TEST_F(PrefetchTest, SubmitIsForwardedAndAnswered200) {
  server_.set_prefetch_submit_response(202,
                                       R"({"request_id":"r-9","chunks":4,"status":"submitted"})");
  auto res = client_.post("/l2/prefetch", kSubmit);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(
      res.json(),
      json::parse(R"({"instance_id":"mp-a","request_id":"r-9","chunks":4,"status":"submitted"})"));
  ASSERT_EQ(server_.prefetch_bodies().size(), 1U);
  EXPECT_EQ(
      json::parse(server_.prefetch_bodies()[0]),
      json::parse(R"({"model_name":"llama","world_size":2,"token_ids":[1,2,3],"cache_salt":"t"})"));
}

TEST_F(PrefetchTest, MissingReplyFieldsGetDefaults) {
  server_.set_prefetch_submit_response(202, R"({})");
  auto res = client_.post("/l2/prefetch", kSubmit);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(
      res.json(),
      json::parse(R"({"instance_id":"mp-a","request_id":"","chunks":0,"status":"submitted"})"));
}

TEST_F(PrefetchTest, UnknownInstanceIs404) {
  auto res = client_.post(
      "/l2/prefetch", R"({"instance_id":"ghost","model_name":"m","world_size":1,"token_ids":[]})");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.json(),
            json::parse(R"({"detail":"no MP server registered with instance_id='ghost'"})"));
  auto poll = client_.get("/l2/prefetch/ghost/r-1");
  EXPECT_EQ(poll.status, 404);
  EXPECT_EQ(poll.json(),
            json::parse(R"({"detail":"no MP server registered with instance_id='ghost'"})"));
}

TEST_F(PrefetchTest, ServerErrorOrUnreachableIs502) {
  server_.set_prefetch_submit_response(500, R"({"detail":"boom"})");
  EXPECT_EQ(client_.post("/l2/prefetch", kSubmit).status, 502);

  uint16_t closed_port = 0;
  {
    FakeMpServer gone;
    closed_port = gone.port();
  }
  client_.post(
      "/instances",
      fmt::format(R"({{"instance_id":"mp-gone","ip":"127.0.0.1","http_port":{}}})", closed_port));
  auto res =
      client_.post("/l2/prefetch",
                   R"({"instance_id":"mp-gone","model_name":"m","world_size":1,"token_ids":[1]})");
  EXPECT_EQ(res.status, 502);
  EXPECT_TRUE(res.json().at("detail").is_string());
  auto poll = client_.get("/l2/prefetch/mp-gone/r-1");
  EXPECT_EQ(poll.status, 502);
}

TEST_F(PrefetchTest, PollRelaysStatusAndBodyVerbatim) {
  server_.set_prefetch_status("r-1", {200, R"({"request_id":"r-1","status":"done","loaded":7})"});
  server_.set_prefetch_status("r-2", {404, R"({"detail":"unknown request"})"});
  server_.set_prefetch_status("r-3", {503, "plain text", "text/plain"});
  auto done = client_.get("/l2/prefetch/mp-a/r-1");
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(done.json(), json::parse(R"({"request_id":"r-1","status":"done","loaded":7})"));
  auto missing = client_.get("/l2/prefetch/mp-a/r-2");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json(), json::parse(R"({"detail":"unknown request"})"));
  auto text = client_.get("/l2/prefetch/mp-a/r-3");
  EXPECT_EQ(text.status, 503);
  EXPECT_EQ(text.json(), json::parse(R"({"detail":"plain text"})"));
}

TEST_F(PrefetchTest, InvalidSubmitIs422AndNotForwarded) {
  auto res = client_.post(
      "/l2/prefetch", R"({"instance_id":"mp-a","model_name":"m","world_size":0,"token_ids":[1]})");
  EXPECT_EQ(res.status, 422);
  EXPECT_EQ(res.json().at("detail").at(0).at("loc"), json::parse(R"(["body","world_size"])"));
  auto bad_token =
      client_.post("/l2/prefetch",
                   R"({"instance_id":"mp-a","model_name":"m","world_size":1,"token_ids":[1,"x"]})");
  EXPECT_EQ(bad_token.status, 422);
  EXPECT_EQ(bad_token.json().at("detail").at(0).at("loc"),
            json::parse(R"(["body","token_ids",1])"));
  EXPECT_TRUE(server_.prefetch_bodies().empty());
}

}  // namespace
}  // namespace lmcache::testing
