// Tests of the test support itself: the fake MP server answers as a real LMCache MP server would,
// so that tests built on it test the coordinator, not the fake.
#include "support/fake_mp_server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace lmcache::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

using Answer = http::response<http::string_body>;

// One HTTP/1.1 connection to the fake, used synchronously.
class Connection {
 public:
  explicit Connection(const FakeMpServer& server) : stream_(ioc_) {
    stream_.connect({asio::ip::make_address(server.host()), server.port()});
  }

  Answer send(http::verb verb, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    stream_.expires_after(10s);
    http::write(stream_, req);
    Answer res;
    http::read(stream_, buffer_, res);
    return res;
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

std::string delete_body(size_t keys) {
  json::array list;
  for (size_t i = 0; i < keys; ++i) {
    list.emplace_back(json::object{{"chunk_hash_hex", "ab"}, {"model_name", "m"}, {"kv_rank", 0}});
  }
  return json::serialize(json::object{{"keys", std::move(list)}});
}

// Percent-encodes the characters the fake's page tokens contain on purpose.
std::string query_encode(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') {
      out += "%26";
    } else if (c == '=') {
      out += "%3D";
    } else {
      out += c;
    }
  }
  return out;
}

// The fake honours HTTP/1.1 keep-alive: two requests on one connection.
TEST(FakeMpServerTest, KeepAlive) {
  FakeMpServer server;
  Connection connection(server);
  for (int i = 0; i < 2; ++i) {
    const Answer res = connection.send(http::verb::get, "/l2/prefetch/r-" + std::to_string(i));
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(server.requests().size(), 2u);
}

// Unknown paths and wrong methods answer like FastAPI.
TEST(FakeMpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  FakeMpServer server;
  Connection connection(server);
  Answer res = connection.send(http::verb::put, "/l2");
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[http::field::allow], "DELETE");
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"detail":"Method Not Allowed"})"));

  res = connection.send(http::verb::get, "/nope");
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"detail":"Not Found"})"));
}

TEST(FakeMpServerTest, DeleteAnswersTheKeyCountAndRecordsTheKeys) {
  FakeMpServer server;
  Connection connection(server);
  const Answer res = connection.send(http::verb::delete_, "/l2", delete_body(3));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"status":"ok","deleted":3})"));
  ASSERT_TRUE(server.wait_for_deletes(1, 10s));
  EXPECT_EQ(server.delete_bodies(), std::vector<std::string>{delete_body(3)});
  EXPECT_EQ(server.deleted_keys().size(), 3u);
}

TEST(FakeMpServerTest, DeleteRejectsBadBodiesAndTooManyKeysLikeARealServer) {
  FakeMpServer server;
  Connection connection(server);
  EXPECT_EQ(connection.send(http::verb::delete_, "/l2", "not json").result_int(), 422u);
  EXPECT_EQ(connection.send(http::verb::delete_, "/l2", R"({"nokeys":[]})").result_int(), 422u);
  EXPECT_EQ(
      connection.send(http::verb::delete_, "/l2", delete_body(FakeMpServer::kMaxDeleteKeys + 1))
          .result_int(),
      400u);
  EXPECT_EQ(connection.send(http::verb::delete_, "/l2", delete_body(FakeMpServer::kMaxDeleteKeys))
                .result_int(),
            200u);
  // Every request is recorded, answered or not; deleted_keys() lists the keys of the bodies
  // that have a key list, here the last two.
  EXPECT_EQ(server.delete_bodies().size(), 4u);
  EXPECT_EQ(server.deleted_keys().size(),
            (FakeMpServer::kMaxDeleteKeys + 1) + FakeMpServer::kMaxDeleteKeys);
}

TEST(FakeMpServerTest, RejectsOversizedPagesAndFailsAtTheConfiguredPage) {
  FakeMpServer server;
  server.set_keys({R"({"key":{},"size_bytes":1})", R"({"key":{},"size_bytes":2})"});
  Connection connection(server);
  Answer res = connection.send(http::verb::get, "/l2/keys?page_size=5001");
  EXPECT_EQ(res.result_int(), 422u);
  EXPECT_EQ(json::parse(res.body()).at("detail").at(0).at("loc"),
            json::parse(R"(["query","page_size"])"));
  EXPECT_EQ(connection.send(http::verb::get, "/l2/keys?page_size=5000").result_int(), 200u);

  server.set_keys_fail_at_page(1);
  res = connection.send(http::verb::get, "/l2/keys?page_size=1");
  ASSERT_EQ(res.result_int(), 200u);
  const json::value first = json::parse(res.body());
  EXPECT_EQ(first.at("entries").as_array().size(), 1u);
  const std::string token(first.at("next_page_token").as_string());
  // The token is opaque and needs percent-encoding; a raw one is refused.
  EXPECT_EQ(
      connection.send(http::verb::get, "/l2/keys?page_size=1&page_token=" + token).result_int(),
      400u);
  res = connection.send(http::verb::get, "/l2/keys?page_size=1&page_token=" + query_encode(token));
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(server.keys_page_sizes(), (std::vector<std::size_t>{5001, 5000, 1, 1, 1}));
}

TEST(FakeMpServerTest, FailAllAnswersEverythingWithThatStatus) {
  FakeMpServer server;
  server.set_fail_all(500);
  Connection connection(server);
  Answer res = connection.send(http::verb::get, "/l2/prefetch/x");
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"detail":"injected failure"})"));
  EXPECT_EQ(connection.send(http::verb::delete_, "/l2", delete_body(1)).result_int(), 500u);

  server.set_fail_all(std::nullopt);
  EXPECT_EQ(connection.send(http::verb::get, "/l2/prefetch/x").result_int(), 200u);
}

// --- the v2 dialect ----------------------------------------------------------

TEST(FakeV2MpServerTest, DeleteObjectsAnswersTheKeyCountAndRecordsTheKeys) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  Connection connection(server);
  const Answer res = connection.send(http::verb::delete_, "/cache/objects", delete_body(3));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"deleted":3,"skipped":0,"ok":true})"));
  ASSERT_TRUE(server.wait_for_deletes(1, 10s));
  EXPECT_EQ(server.delete_bodies(), std::vector<std::string>{delete_body(3)});
  EXPECT_EQ(server.deleted_keys().size(), 3u);
}

TEST(FakeV2MpServerTest, DeleteObjectsRejectsBadBodiesAndTooManyKeys) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  Connection connection(server);
  EXPECT_EQ(connection.send(http::verb::delete_, "/cache/objects", "[]").result_int(), 422u);
  EXPECT_EQ(connection
                .send(http::verb::delete_, "/cache/objects",
                      delete_body(FakeMpServer::kMaxDeleteKeys + 1))
                .result_int(),
            400u);
  EXPECT_EQ(
      connection
          .send(http::verb::delete_, "/cache/objects", delete_body(FakeMpServer::kMaxDeleteKeys))
          .result_int(),
      200u);
  EXPECT_EQ(server.delete_bodies().size(), 3u);
}

TEST(FakeV2MpServerTest, ConfiguredDeleteAnswerReplacesTheDefault) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  server.set_delete_response(200, R"({"deleted":0,"skipped":0,"ok":false,"error":"boom"})");
  Connection connection(server);
  const Answer res = connection.send(http::verb::delete_, "/cache/objects", delete_body(1));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()).at("ok"), json::value(false));
}

// A v2 server does not serve the seed-era routes, and a seed-era one not the v2 routes; each
// records only its own dialect's deletes.
TEST(FakeV2MpServerTest, EachDialectServesOnlyItsOwnRoutes) {
  FakeMpServer v2(FakeMpServer::Dialect::kV2);
  Connection to_v2(v2);
  EXPECT_EQ(to_v2.send(http::verb::delete_, "/l2", delete_body(1)).result_int(), 404u);
  EXPECT_EQ(to_v2.send(http::verb::get, "/l2/keys").result_int(), 404u);
  EXPECT_EQ(to_v2.send(http::verb::put, "/cache/objects").result_int(), 405u);
  EXPECT_TRUE(v2.delete_bodies().empty());

  FakeMpServer seed_era;
  Connection to_seed_era(seed_era);
  EXPECT_EQ(to_seed_era.send(http::verb::delete_, "/cache/objects", delete_body(1)).result_int(),
            404u);
  EXPECT_TRUE(seed_era.delete_bodies().empty());
}

// POST /cache/prefetches answers 202; the status poll says pending, then completed once (the job
// is then forgotten), and an unknown id is 404.
TEST(FakeV2MpServerTest, PrefetchIsSubmittedThenPendingThenCompleted) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  Connection connection(server);
  const json::array tokens(512, json::value(1));
  Answer res = connection.send(
      http::verb::post, "/cache/prefetches",
      json::serialize(json::object{{"model_name", "m"}, {"world_size", 1}, {"token_ids", tokens}}));
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_EQ(json::parse(res.body()),
            json::parse(R"({"request_id":"r-1","chunks":2,"status":"submitted"})"));
  EXPECT_EQ(server.prefetch_bodies().size(), 1u);

  res = connection.send(http::verb::get, "/cache/prefetches/r-1");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"request_id":"r-1","status":"pending"})"));
  res = connection.send(http::verb::get, "/cache/prefetches/r-1");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()),
            json::parse(R"({"request_id":"r-1","status":"completed","found_keys":2,)"
                        R"("total_keys":2})"));
  EXPECT_EQ(connection.send(http::verb::get, "/cache/prefetches/r-1").result_int(), 404u);
  EXPECT_EQ(connection.send(http::verb::get, "/cache/prefetches/nope").result_int(), 404u);
}

TEST(FakeV2MpServerTest, PrefetchOfLessThanAChunkIsANoop) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  Connection connection(server);
  const Answer res = connection.send(http::verb::post, "/cache/prefetches",
                                     R"({"model_name":"m","world_size":1,"token_ids":[1,2]})");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"chunks":0,"status":"noop"})"));
  EXPECT_EQ(connection.send(http::verb::get, "/cache/prefetches/r-1").result_int(), 404u);
}

// DELETE /cache/objects from POST /cache/delete carries tier and force: recorded as sent.
TEST(FakeV2MpServerTest, DeleteBodiesAreRecordedWithTierAndForce) {
  FakeMpServer server(FakeMpServer::Dialect::kV2);
  Connection connection(server);
  const std::string body =
      R"({"keys":[{"chunk_hash_hex":"ab","model_name":"m","kv_rank":0,"object_group_id":0,)"
      R"("cache_salt":""}],"tier":"l1","force":true})";
  const Answer res = connection.send(http::verb::delete_, "/cache/objects", body);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body()), json::parse(R"({"deleted":1,"skipped":0,"ok":true})"));
  ASSERT_EQ(server.delete_bodies().size(), 1u);
  EXPECT_EQ(server.delete_bodies()[0], body);
  EXPECT_EQ(server.deleted_keys().size(), 1u);
}

}  // namespace
}  // namespace lmcache::testing
