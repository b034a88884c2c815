// End-to-end: the global CacheBlend directory (spec section 7) of the real
// binary over HTTP, with a small chunk size so chunks are easy to write down.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "base64_encode.h"
#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

using Tokens = std::vector<uint64_t>;

// Little-endian bytes on the little-endian hosts these tests run on.
std::string tokens_b64(const Tokens& tokens) {
  std::vector<uint32_t> narrow(tokens.begin(), tokens.end());
  return base64_encode(narrow.data(), narrow.size() * sizeof(uint32_t));
}
std::string tokens_u64_b64(const Tokens& tokens) {
  return base64_encode(tokens.data(), tokens.size() * sizeof(uint64_t));
}
json::array token_list(const Tokens& tokens) { return json::array(tokens.begin(), tokens.end()); }

json::array key_list(std::initializer_list<const char*> keys) {
  json::array out;
  for (const char* key : keys) out.emplace_back(key);
  return out;
}

json::object range(std::string_view scope, const Tokens& tokens,
                   std::initializer_list<const char*> keys, uint64_t old_st_base = 0) {
  return json::object{{"model_scope", scope},
                      {"tokens", token_list(tokens)},
                      {"object_keys", key_list(keys)},
                      {"old_st_base", old_st_base}};
}

// A match as (object_key, old_st, cur_st), for compact expectations.
struct Hit {
  std::string key;
  uint64_t old_st;
  uint64_t cur_st;
  friend bool operator==(const Hit&, const Hit&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Hit& h) {
    return os << "{" << h.key << ", old " << h.old_st << ", cur " << h.cur_st << "}";
  }
};
using Hits = std::vector<Hit>;

enum class Encoding { kB64, kU64B64, kList };

class BlendClient {
 public:
  explicit BlendClient(uint16_t port) : http_(port) {}

  size_t publish(json::array ranges) {
    auto res = http_.post("/blend/fingerprints",
                          json::serialize(json::object{{"ranges", std::move(ranges)}}));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("inserted").to_number<size_t>();
  }

  size_t remove(std::initializer_list<const char*> keys) {
    auto res = http_.del("/blend/fingerprints",
                         json::serialize(json::object{{"object_keys", key_list(keys)}}));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("removed").to_number<size_t>();
  }

  Hits match(std::string_view scope, const Tokens& tokens, Encoding encoding = Encoding::kB64) {
    json::object body{{"model_scope", scope}};
    switch (encoding) {
      case Encoding::kB64:
        body["tokens_b64"] = tokens_b64(tokens);
        break;
      case Encoding::kU64B64:
        body["tokens_u64_b64"] = tokens_u64_b64(tokens);
        break;
      case Encoding::kList:
        body["tokens"] = token_list(tokens);
        break;
    }
    return hits(post_match(json::serialize(body)));
  }

  TestResponse post_match(const std::string& body) { return http_.post("/blend/match", body); }
  HttpTestClient& http() { return http_; }

  static Hits hits(const TestResponse& res) {
    EXPECT_EQ(res.status, 200) << res.body;
    Hits out;
    if (res.status != 200) return out;
    const json::value body = res.json();
    for (const auto& m : body.at("matches").as_array()) {
      out.push_back(Hit{std::string(m.at("object_key").as_string()),
                        m.at("old_st").to_number<uint64_t>(),
                        m.at("cur_st").to_number<uint64_t>()});
    }
    return out;
  }

 private:
  HttpTestClient http_;
};

class BlendTest : public ::testing::Test {
 protected:
  CoordinatorProcess coordinator_{{"--blend-chunk-size", "4"}};
  BlendClient client_{coordinator_.port()};
};

// The `detail` list of a 422 response.
json::array validation_detail(const TestResponse& res) {
  EXPECT_EQ(res.status, 422) << res.body;
  if (res.status != 422) return {};
  return res.json().at("detail").as_array();
}

TEST_F(BlendTest, PublishCutsWholeChunksFromOldStBase) {
  // 10 tokens with chunk size 4: two chunks, the trailing [9, 10] is ignored.
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {"a", "b"}, 100)}), 2U);
  EXPECT_EQ(client_.match("m", {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
            (Hits{{"a", 100, 2}, {"b", 104, 6}}));
  // old_st_base defaults to 0.
  auto res = client_.http().post(
      "/blend/fingerprints",
      R"({"ranges":[{"model_scope":"m","tokens":[20,21,22,23],"object_keys":["c"]}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(client_.match("m", {20, 21, 22, 23}), (Hits{{"c", 0, 0}}));
}

TEST_F(BlendTest, TrailingPartialChunkIsNotAChunk) {
  // A key for the partial chunk makes the counts differ: the range is skipped.
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4, 5, 6}, {"a", "b"})}), 0U);
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4, 5, 6}, {"a"})}), 1U);
  EXPECT_EQ(client_.match("m", {1, 2, 3, 4, 5, 6, 0, 0}), (Hits{{"a", 0, 0}}));
  EXPECT_EQ(client_.match("m", {5, 6, 0, 0}), Hits{});
}

TEST_F(BlendTest, MismatchedRangeIsSkippedOthersAreInserted) {
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4, 5, 6, 7, 8}, {"bad"}),
                             range("m", {11, 12, 13, 14, 15, 16, 17, 18}, {"x", "y"}, 8),
                             range("m", {21, 22, 23, 24}, {"p", "q", "r"})}),
            2U);
  EXPECT_EQ(client_.match("m", {1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 21, 22, 23, 24}),
            (Hits{{"x", 8, 8}}));
  EXPECT_TRUE(coordinator_.wait_for_log("skipped 2 of 3 ranges")) << coordinator_.log();
}

TEST_F(BlendTest, RepublishInsertsNothing) {
  const json::array ranges{range("m", {1, 2, 3, 4, 5, 6, 7, 8}, {"a", "b"})};
  EXPECT_EQ(client_.publish(ranges), 2U);
  EXPECT_EQ(client_.publish(ranges), 0U);
  EXPECT_EQ(client_.match("m", {1, 2, 3, 4, 5, 6, 7, 8}), (Hits{{"a", 0, 0}, {"b", 4, 4}}));
}

TEST_F(BlendTest, SameContentUnderTwoKeysSurvivesRemovalOfTheFirst) {
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4}, {"first"}, 40)}), 1U);
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4}, {"second"}, 80)}), 1U);
  // Re-publishing either pair is a no-op and does not reorder them.
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4}, {"second"}, 80)}), 0U);
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4}, {"first"}, 40)}), 0U);
  EXPECT_EQ(client_.match("m", {9, 1, 2, 3, 4}), (Hits{{"first", 40, 1}}));

  EXPECT_EQ(client_.remove({"first"}), 1U);
  EXPECT_EQ(client_.match("m", {9, 1, 2, 3, 4}), (Hits{{"second", 80, 1}}));
  EXPECT_EQ(client_.remove({"second"}), 1U);
  EXPECT_EQ(client_.match("m", {9, 1, 2, 3, 4}), Hits{});
}

TEST_F(BlendTest, RemoveCountsEntriesInAllScopes) {
  EXPECT_EQ(client_.publish({range("m1", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {"a", "b", "c"}),
                             range("m2", {1, 2, 3, 4}, {"a"})}),
            4U);
  EXPECT_EQ(client_.remove({"a", "b", "unknown"}), 3U);
  EXPECT_EQ(client_.remove({"a", "b"}), 0U);
  EXPECT_EQ(client_.remove({}), 0U);
  EXPECT_EQ(client_.match("m1", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), (Hits{{"c", 8, 8}}));
  EXPECT_EQ(client_.match("m2", {1, 2, 3, 4}), Hits{});
}

TEST_F(BlendTest, ScopesAreIsolated) {
  EXPECT_EQ(client_.publish({range("m1", {1, 2, 3, 4}, {"a"})}), 1U);
  EXPECT_EQ(client_.publish({range("m2", {1, 2, 3, 4}, {"a"})}), 1U);  // same pair, other scope
  EXPECT_EQ(client_.publish({range("m2", {5, 6, 7, 8}, {"b"})}), 1U);
  EXPECT_EQ(client_.match("m1", {1, 2, 3, 4, 5, 6, 7, 8}), (Hits{{"a", 0, 0}}));
  EXPECT_EQ(client_.match("m2", {1, 2, 3, 4, 5, 6, 7, 8}), (Hits{{"a", 0, 0}, {"b", 0, 4}}));
  EXPECT_EQ(client_.match("unknown", {1, 2, 3, 4}), Hits{});
}

TEST_F(BlendTest, EachKeyOnceAtItsFirstOccurrenceInAscendingOrder) {
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4, 5, 6, 7, 8}, {"a", "b"})}), 2U);
  // b, then a at an unaligned offset, then b and a again.
  EXPECT_EQ(client_.match("m", {5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4}),
            (Hits{{"b", 4, 0}, {"a", 0, 5}}));
}

TEST(BlendProbeStrideTest, OnlyWindowsAtMultiplesOfTheStrideAreProbed) {
  CoordinatorProcess coordinator({"--blend-chunk-size", "4", "--blend-probe-stride", "2"});
  BlendClient client(coordinator.port());
  EXPECT_EQ(client.publish({range("m", {1, 2, 3, 4}, {"a"})}), 1U);
  EXPECT_EQ(client.match("m", {0, 1, 2, 3, 4}), Hits{});                           // offset 1
  EXPECT_EQ(client.match("m", {0, 0, 1, 2, 3, 4}), (Hits{{"a", 0, 2}}));           // offset 2
  EXPECT_EQ(client.match("m", {0, 0, 0, 1, 2, 3, 4}), Hits{});                     // offset 3
  EXPECT_EQ(client.match("m", {1, 2, 3, 4, 9, 1, 2, 3, 4}), (Hits{{"a", 0, 0}}));  // offset 0
}

TEST_F(BlendTest, AllThreeTokenEncodingsGiveTheSameResult) {
  EXPECT_EQ(client_.publish({range("m", {10, 11, 12, 13, 4000000000, 0, 7, 1}, {"a", "b"})}), 2U);
  const Tokens request{9, 10, 11, 12, 13, 4000000000, 0, 7, 1, 10, 11, 12, 13};
  const Hits expected{{"a", 0, 1}, {"b", 4, 5}};
  EXPECT_EQ(client_.match("m", request, Encoding::kB64), expected);
  EXPECT_EQ(client_.match("m", request, Encoding::kU64B64), expected);
  EXPECT_EQ(client_.match("m", request, Encoding::kList), expected);
}

TEST_F(BlendTest, TokensBeyond32BitsNeedTheWideEncodings) {
  const uint64_t big = (uint64_t{1} << 40) + 3;
  EXPECT_EQ(
      client_.publish({range("m", {big, 1, 2, 3}, {"wide"}), range("m", {3, 1, 2, 3}, {"narrow"})}),
      2U);
  EXPECT_EQ(client_.match("m", {big, 1, 2, 3}, Encoding::kU64B64), (Hits{{"wide", 0, 0}}));
  EXPECT_EQ(client_.match("m", {big, 1, 2, 3}, Encoding::kList), (Hits{{"wide", 0, 0}}));
  // The low 32 bits alone are different content.
  EXPECT_EQ(client_.match("m", {big, 1, 2, 3}, Encoding::kB64), (Hits{{"narrow", 0, 0}}));
}

TEST_F(BlendTest, NoTokenFieldShortRequestAndUnknownScopeMatchNothing) {
  EXPECT_EQ(client_.publish({range("m", {1, 2, 3, 4}, {"a"})}), 1U);
  EXPECT_EQ(BlendClient::hits(client_.post_match(R"({"model_scope":"m"})")), Hits{});
  EXPECT_EQ(BlendClient::hits(client_.post_match(R"({"model_scope":"m","tokens_b64":null})")),
            Hits{});
  EXPECT_EQ(BlendClient::hits(client_.post_match(R"({"model_scope":"m","tokens_b64":""})")),
            Hits{});
  EXPECT_EQ(client_.match("m", {1, 2, 3}), Hits{});
  EXPECT_EQ(client_.match("m", {}, Encoding::kList), Hits{});
  EXPECT_EQ(client_.match("other", {1, 2, 3, 4}), Hits{});
  auto res = client_.post_match(R"({"model_scope":"m","tokens":[1,2,3,4]})");
  EXPECT_EQ(res.json(), json::parse(R"({"matches":[{"object_key":"a","old_st":0,"cur_st":0}]})"));
  EXPECT_EQ(res.header("content-type"), "application/json");
}

TEST_F(BlendTest, TwoTokenFieldsAre422) {
  const std::string b64 = tokens_b64({1, 2, 3, 4});
  for (const std::string& body : std::vector<std::string>{
           R"({"model_scope":"m","tokens_b64":")" + b64 + R"(","tokens":[1,2,3,4]})",
           R"({"model_scope":"m","tokens_b64":")" + b64 + R"(","tokens_u64_b64":""})",
           R"({"model_scope":"m","tokens_u64_b64":"","tokens":[]})"}) {
    const auto detail = validation_detail(client_.post_match(body));
    ASSERT_EQ(detail.size(), 1U) << body;
    EXPECT_EQ(detail[0].at("type"), "value_error");
    EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body"])"));
  }
}

TEST_F(BlendTest, InvalidBase64Is422OnThatField) {
  for (const char* bad :
       {"AQID!AAA", "AQIDBA=", "AQ=DBAAA", "AQIDBAAA\n", "AQIDBAA===", "AQIDBAAA====", "===="}) {
    for (const char* field : {"tokens_b64", "tokens_u64_b64"}) {
      const std::string body = json::serialize(json::object{{"model_scope", "m"}, {field, bad}});
      const auto detail = validation_detail(client_.post_match(body));
      ASSERT_EQ(detail.size(), 1U) << body;
      EXPECT_EQ(detail[0].at("type"), "value_error") << body;
      EXPECT_EQ(detail[0].at("loc"), (json::array{"body", field})) << body;
      EXPECT_EQ(detail[0].at("input"), bad);
    }
  }
}

TEST_F(BlendTest, ByteLengthNotAMultipleOfTheTokenSizeIs422) {
  const unsigned char six[6] = {1, 0, 0, 0, 2, 0};
  auto detail = validation_detail(client_.post_match(
      json::serialize(json::object{{"model_scope", "m"}, {"tokens_b64", base64_encode(six, 6)}})));
  ASSERT_EQ(detail.size(), 1U);
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","tokens_b64"])"));
  EXPECT_NE(std::string(detail[0].at("msg").as_string()).find("multiple of 4"), std::string::npos);

  // 12 bytes are three uint32 tokens but not a whole number of uint64 tokens.
  const uint32_t three[3] = {1, 2, 3};
  const std::string twelve = base64_encode(three, sizeof three);
  EXPECT_EQ(
      client_
          .post_match(json::serialize(json::object{{"model_scope", "m"}, {"tokens_b64", twelve}}))
          .status,
      200);
  detail = validation_detail(client_.post_match(
      json::serialize(json::object{{"model_scope", "m"}, {"tokens_u64_b64", twelve}})));
  ASSERT_EQ(detail.size(), 1U);
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","tokens_u64_b64"])"));
  EXPECT_NE(std::string(detail[0].at("msg").as_string()).find("multiple of 8"), std::string::npos);
}

TEST_F(BlendTest, MatchValidationErrors) {
  struct Case {
    std::string body;
    std::string type;
    std::string loc;
  };
  const std::vector<Case> cases = {
      {R"({"tokens":[1]})", "missing", R"(["body","model_scope"])"},
      {R"({"model_scope":5,"tokens":[1]})", "string_type", R"(["body","model_scope"])"},
      {R"({"model_scope":"m","tokens":[1,-2]})", "greater_than_equal", R"(["body","tokens",1])"},
      {R"({"model_scope":"m","tokens":[1,2.5]})", "int_from_float", R"(["body","tokens",1])"},
      {R"({"model_scope":"m","tokens":["x"]})", "int_parsing", R"(["body","tokens",0])"},
      {R"({"model_scope":"m","tokens":"1,2"})", "list_type", R"(["body","tokens"])"},
      {R"({"model_scope":"m","tokens_b64":[1]})", "string_type", R"(["body","tokens_b64"])"},
      {R"({"model_scope":"m","tokens_u64_b64":7})", "string_type", R"(["body","tokens_u64_b64"])"},
      {R"([1,2])", "model_attributes_type", R"(["body"])"},
      {R"({"model_scope":"m",)", "json_invalid", ""},
      {"", "missing", R"(["body"])"},
  };
  for (const auto& c : cases) {
    const auto detail = validation_detail(client_.post_match(c.body));
    ASSERT_FALSE(detail.empty()) << c.body;
    EXPECT_EQ(detail[0].at("type").as_string(), c.type) << c.body;
    if (!c.loc.empty()) {
      EXPECT_EQ(detail[0].at("loc"), json::parse(c.loc)) << c.body;
    }
  }
}

TEST_F(BlendTest, PublishValidationErrorsApplyNothing) {
  struct Case {
    std::string ranges;
    std::string type;
    std::string loc;
  };
  const std::vector<Case> cases = {
      {R"([{"model_scope":"m","tokens":[1,2,3,"x"],"object_keys":["a"]}])", "int_parsing",
       R"(["body","ranges",1,"tokens",3])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,-4],"object_keys":["a"]}])", "greater_than_equal",
       R"(["body","ranges",1,"tokens",3])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,4.5],"object_keys":["a"]}])", "int_from_float",
       R"(["body","ranges",1,"tokens",3])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,4],"object_keys":[7]}])", "string_type",
       R"(["body","ranges",1,"object_keys",0])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,4],"object_keys":["a"],"old_st_base":-1}])",
       "greater_than_equal", R"(["body","ranges",1,"old_st_base"])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,4],"object_keys":["a"],"old_st_base":1.5}])",
       "int_from_float", R"(["body","ranges",1,"old_st_base"])"},
      {R"([{"model_scope":"m","object_keys":["a"]}])", "missing",
       R"(["body","ranges",1,"tokens"])"},
      {R"([{"tokens":[1,2,3,4],"object_keys":["a"]}])", "missing",
       R"(["body","ranges",1,"model_scope"])"},
      {R"([{"model_scope":"m","tokens":[1,2,3,4]}])", "missing",
       R"(["body","ranges",1,"object_keys"])"},
      {R"([{"model_scope":3,"tokens":[1,2,3,4],"object_keys":["a"]}])", "string_type",
       R"(["body","ranges",1,"model_scope"])"},
      {R"(["not a range"])", "model_type", R"(["body","ranges",1])"},
  };
  for (const auto& c : cases) {
    // A valid range first: it must not be applied when the second is invalid.
    const std::string body =
        R"({"ranges":[{"model_scope":"m","tokens":[9,9,9,9],"object_keys":["good"]},)" +
        c.ranges.substr(1) + "}";
    const auto detail = validation_detail(client_.http().post("/blend/fingerprints", body));
    ASSERT_FALSE(detail.empty()) << body;
    EXPECT_EQ(detail[0].at("type").as_string(), c.type) << body;
    EXPECT_EQ(detail[0].at("loc"), json::parse(c.loc)) << body;
  }
  EXPECT_EQ(client_.match("m", {9, 9, 9, 9}), Hits{});

  for (const char* body : {R"({})", R"({"ranges":{}})", R"([])", R"({"ranges":)", ""}) {
    EXPECT_EQ(client_.http().post("/blend/fingerprints", body).status, 422) << body;
  }
  // Every bad token is reported, not only the first.
  const auto detail = validation_detail(client_.http().post(
      "/blend/fingerprints",
      R"({"ranges":[{"model_scope":"m","tokens":[-1,"a",2.5,3],"object_keys":["a"]}]})"));
  EXPECT_EQ(detail.size(), 3U);
}

TEST_F(BlendTest, RemoveValidationErrors) {
  for (const char* body : {R"({})", R"({"object_keys":"a"})", R"({"object_keys":[1]})", R"([])",
                           R"({"object_keys":[)", ""}) {
    EXPECT_EQ(client_.http().del("/blend/fingerprints", body).status, 422) << body;
  }
  const auto detail =
      validation_detail(client_.http().del("/blend/fingerprints", R"({"object_keys":["a",5]})"));
  ASSERT_EQ(detail.size(), 1U);
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","object_keys",1])"));
}

TEST(BlendLargeRequestTest, LongRequestsInEveryEncoding) {
  CoordinatorProcess coordinator;  // default chunk size 256
  BlendClient client(coordinator.port());
  // 32,768 distinct request tokens; publish three of its chunks (one unaligned).
  Tokens request(32768);
  std::iota(request.begin(), request.end(), uint64_t{1000});
  const std::ptrdiff_t starts[] = {512, 10001, 30000};
  json::array ranges;
  for (size_t i = 0; i < 3; ++i) {
    const Tokens chunk(request.begin() + starts[i], request.begin() + starts[i] + 256);
    const std::string key = "key-" + std::to_string(i);
    ranges.emplace_back(range("m", chunk, {key.c_str()}, 256 * i));
  }
  EXPECT_EQ(client.publish(ranges), 3U);
  const Hits expected{{"key-0", 0, 512}, {"key-1", 256, 10001}, {"key-2", 512, 30000}};
  for (Encoding encoding : {Encoding::kB64, Encoding::kU64B64, Encoding::kList}) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(client.match("m", request, encoding), expected);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
}

}  // namespace
}  // namespace lmcache::testing
