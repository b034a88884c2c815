#include "client/batched_object_delete.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_mp_server.h"

namespace lmcache::client {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeMpServer;

std::vector<core::ObjectKey> numbered_keys(size_t n) {
  std::vector<core::ObjectKey> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string hash(8, '\0');
    for (size_t b = 0; b < 8; ++b) hash[b] = static_cast<char>((i >> (8 * b)) & 0xFF);
    keys.push_back({hash, "m", 0, 0, "t"});
  }
  return keys;
}

class BatchedObjectDeleteTest : public ::testing::Test {
 protected:
  BatchedDeleteResult run(std::vector<core::ObjectKey> keys, const std::string& tier, bool force,
                          size_t max_per_request = kMaxKeysPerDelete) {
    std::optional<BatchedDeleteResult> result;
    int calls = 0;
    delete_objects_in_batches(
        client_, {server_.host(), server_.port()}, std::move(keys), tier, force,
        [&](BatchedDeleteResult r) {
          ++calls;
          result = std::move(r);
        },
        max_per_request);
    ioc_.restart();
    ioc_.run_for(20s);
    EXPECT_EQ(calls, 1);
    return result.value_or(BatchedDeleteResult{});
  }

  FakeMpServer server_{FakeMpServer::Dialect::kV2};
  boost::asio::io_context ioc_;
  MpClient client_{ioc_.get_executor()};
};

TEST_F(BatchedObjectDeleteTest, SplitsIntoRequestsOfAtMostTenThousandKeysAndSums) {
  const BatchedDeleteResult result = run(numbered_keys(25'001), "l2", true);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.requests, 3u);
  EXPECT_EQ(result.deleted, 25'001u);
  EXPECT_EQ(result.skipped, 0u);
  const std::vector<std::string> bodies = server_.delete_bodies();
  ASSERT_EQ(bodies.size(), 3u);
  const size_t sizes[] = {10'000, 10'000, 5'001};
  for (size_t i = 0; i < 3; ++i) {
    const json::object body = json::parse(bodies[i]).as_object();
    EXPECT_EQ(body.at("keys").as_array().size(), sizes[i]);
    EXPECT_EQ(body.at("tier"), "l2");
    EXPECT_EQ(body.at("force"), true);
  }
  // In order: the first key of the second request is key 10,000.
  const json::object second = json::parse(bodies[1]).as_object();
  EXPECT_EQ(second.at("keys").as_array()[0].at("chunk_hash_hex"),
            json::value(numbered_keys(10'001)[10'000].chunk_hash_hex()));
}

TEST_F(BatchedObjectDeleteTest, SumsTheServersSkippedCounts) {
  server_.set_delete_response(200, R"({"deleted":1,"skipped":2,"ok":true})");
  const BatchedDeleteResult result = run(numbered_keys(5), "all", false, 2);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.requests, 3u);
  EXPECT_EQ(result.deleted, 3u);
  EXPECT_EQ(result.skipped, 6u);
  EXPECT_EQ(json::parse(server_.delete_bodies()[0]).at("force"), false);
}

TEST_F(BatchedObjectDeleteTest, FirstFailureStopsTheRest) {
  server_.set_delete_response(503, R"({"detail":"not initialized"})");
  const BatchedDeleteResult result = run(numbered_keys(5), "all", false, 2);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error, "HTTP 503");
  EXPECT_EQ(result.requests, 1u);
  EXPECT_EQ(server_.delete_bodies().size(), 1u);
}

TEST_F(BatchedObjectDeleteTest, OkFalseAndNonAnswersFail) {
  server_.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"disk"})");
  EXPECT_EQ(run(numbered_keys(1), "l2", false).error, "ok:false: disk");
  server_.set_delete_response(200, R"(["not an answer"])");
  EXPECT_NE(run(numbered_keys(1), "l2", false).error.find("malformed answer"), std::string::npos);
}

TEST_F(BatchedObjectDeleteTest, NoKeysSendNothing) {
  const BatchedDeleteResult result = run({}, "all", false);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.requests, 0u);
  EXPECT_TRUE(server_.requests().empty());
}

TEST(BatchedObjectDeleteDeadServer, TransportFailureIsReported) {
  uint16_t closed_port = 0;
  {
    FakeMpServer gone(FakeMpServer::Dialect::kV2);
    closed_port = gone.port();
  }
  boost::asio::io_context ioc;
  MpClient client(ioc.get_executor());
  std::optional<BatchedDeleteResult> result;
  delete_objects_in_batches(client, {"127.0.0.1", closed_port}, numbered_keys(3), "all", false,
                            [&](BatchedDeleteResult r) { result = std::move(r); });
  ioc.run_for(20s);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_NE(result->error.find("connect"), std::string::npos) << result->error;
}

}  // namespace
}  // namespace lmcache::client
