// End-to-end: POST /l2/events of the real binary, observed through GET /l2/status.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;

constexpr double kGib = 1073741824.0;

// A valid key object with the given hash and salt.
json::object key(std::string hash = std::string(64, 'a'), std::string salt = "tenant") {
  return json::object{{"chunk_hash_hex", hash},
                      {"model_name", "llama"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

json::object event(std::string_view type, json::object k, int64_t bytes = 0) {
  return json::object{{"type", type}, {"key", std::move(k)}, {"bytes", bytes}};
}

std::string batch(std::string_view instance, int64_t seq, json::array events) {
  return json::serialize(
      json::object{{"instance_id", instance}, {"seq", seq}, {"events", std::move(events)}});
}

class L2EventsTest : public ::testing::Test {
 protected:
  // Usage of a salt in bytes, read back from GET /l2/status/{salt}.
  double usage_bytes(const std::string& salt_segment) {
    auto res = client_.get("/l2/status/" + salt_segment);
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json().at("usage_gb").to_number<double>() * kGib;
  }

  // Posts a batch, expecting 200, and returns its body.
  json::value post(std::string_view instance, int64_t seq, json::array events) {
    auto res = client_.post("/l2/events", batch(instance, seq, std::move(events)));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.json();
  }

  // The 422 detail of a body, expecting 422.
  json::array detail_of(const std::string& body) {
    auto res = client_.post("/l2/events", body);
    EXPECT_EQ(res.status, 422) << body << " -> " << res.body;
    return res.json().at("detail").as_array();
  }

  CoordinatorProcess coordinator_;
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(L2EventsTest, StoreLookupDeleteTotals) {
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  EXPECT_EQ(post("n1", 1, {event("store", key(a), 1000), event("store", key(b), 500)}),
            json::parse(R"({"recorded":2})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 1500);

  // Re-store at the same size: no change; the hash is compared case-insensitively.
  std::string upper_a(64, 'A');
  post("n1", 2, {event("store", key(upper_a), 1000), event("lookup", key(b))});
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 1500);

  // Another size: adjusted by the difference.
  post("n1", 3, {event("store", key(a), 1200)});
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 1700);

  // Delete subtracts the recorded size, not the wire bytes; unknown keys are no-ops.
  EXPECT_EQ(post("n1", 4,
                 {event("delete", key(a), 5), event("delete", key(std::string(64, 'c')), 99),
                  event("lookup", key(std::string(64, 'd')))}),
            json::parse(R"({"recorded":3})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 500);

  auto status = client_.get("/l2/status").json();
  EXPECT_DOUBLE_EQ(status.at("total_gb").to_number<double>() * kGib, 500);
}

TEST_F(L2EventsTest, DefaultsAndDefaultSalt) {
  // object_group_id and cache_salt may be omitted; a lookup's bytes too.
  auto body = R"({"instance_id":"n1","seq":1,"events":[
      {"type":"lookup","key":{"chunk_hash_hex":"abcd","model_name":"m","kv_rank":1}},
      {"type":"store","key":{"chunk_hash_hex":"abce","model_name":"m","kv_rank":1},"bytes":64}]})";
  auto res = client_.post("/l2/events", body);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"recorded":2})"));
  EXPECT_DOUBLE_EQ(usage_bytes("_default"), 64);
  auto status = client_.get("/l2/status/_default").json();
  EXPECT_EQ(status.at("cache_salt"), "");
}

TEST_F(L2EventsTest, InvalidEventsAreRejectedAndTheRestApplied) {
  json::object bad_hash = key("zz");
  json::array events{
      event("store", key(std::string(64, 'a')), 100),
      event("store", bad_hash, 100),
      event("store", key(std::string(64, 'b'), "bad/salt"), 100),
      json::value("not an object"),
      event("evict", key(std::string(64, 'c')), 100),
      json::object{{"type", "store"}, {"bytes", 1}},
      event("store", key(std::string(64, 'd')), -1),
      json::object{{"type", "store"}, {"key", key(std::string(64, 'e'))}, {"bytes", 1.5}},
      json::object{{"type", "store"}, {"key", key("abc")}, {"bytes", 1}},
      event("store", key(std::string(64, 'f')), 10)};
  auto res = post("n1", 1, std::move(events));
  EXPECT_EQ(res.at("recorded"), 2);
  const auto& rejected = res.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 8U) << res;
  const int64_t expected_indexes[] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (size_t i = 0; i < rejected.size(); ++i) {
    EXPECT_EQ(rejected[i].at("index"), expected_indexes[i]) << rejected[i];
    EXPECT_FALSE(rejected[i].at("error").as_string().empty());
  }
  EXPECT_NE(rejected[0].at("error").as_string().find("chunk_hash_hex"), json::string::npos);
  EXPECT_NE(rejected[1].at("error").as_string().find("cache_salt"), json::string::npos);
  EXPECT_NE(rejected[3].at("error").as_string().find("type"), json::string::npos);
  EXPECT_NE(rejected[4].at("error").as_string().find("key"), json::string::npos);
  EXPECT_NE(rejected[5].at("error").as_string().find("bytes"), json::string::npos);
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 110);
  // No rejected field when every event is valid.
  EXPECT_FALSE(post("n1", 2, {event("lookup", key())}).as_object().contains("rejected"));
}

// Regression: a store without bytes (or with null bytes) was recorded as a 0-byte key. It is a
// per-event rejection; a lookup or delete without bytes is still applied.
TEST_F(L2EventsTest, StoreWithoutBytesIsRejected) {
  const std::string a(64, 'a');
  post("n1", 1, {event("store", key(a), 100)});
  json::object no_bytes{{"type", "store"}, {"key", key(a)}};
  json::object null_bytes{{"type", "store"}, {"key", key(a)}, {"bytes", nullptr}};
  json::object lookup{{"type", "lookup"}, {"key", key(a)}};
  json::object del{{"type", "delete"}, {"key", key(std::string(64, 'c'))}, {"bytes", nullptr}};
  auto res = post("n1", 2, {no_bytes, null_bytes, lookup, del});
  EXPECT_EQ(res.at("recorded"), 2) << res;
  const auto& rejected = res.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 2U) << res;
  EXPECT_EQ(rejected[0].at("index"), 0);
  EXPECT_NE(rejected[0].at("error").as_string().find("bytes"), json::string::npos) << res;
  EXPECT_EQ(rejected[1].at("index"), 1);
  EXPECT_NE(rejected[1].at("error").as_string().find("bytes"), json::string::npos) << res;
  // The key keeps its recorded size: neither store replaced it with 0.
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 100);
}

TEST_F(L2EventsTest, ReplayIsAcknowledgedAndNotCounted) {
  json::array events{event("store", key(std::string(64, 'a')), 100)};
  EXPECT_EQ(post("n1", 1, events), json::parse(R"({"recorded":1})"));
  post("n1", 2, {event("store", key(std::string(64, 'b')), 10)});
  EXPECT_EQ(post("n1", 1, events), json::parse(R"({"recorded":0,"duplicate":true})"));
  EXPECT_EQ(post("n1", 2, events), json::parse(R"({"recorded":0,"duplicate":true})"));
  // Another instance has its own sequence.
  EXPECT_EQ(post("n2", 1, {event("store", key(std::string(64, 'c')), 1)}),
            json::parse(R"({"recorded":1})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 111);
}

TEST_F(L2EventsTest, SeqOneAfterReRegistrationIsApplied) {
  ASSERT_EQ(
      client_.post("/instances", R"({"instance_id":"n1","ip":"127.0.0.1","http_port":1})").status,
      200);
  post("n1", 1, {event("store", key(std::string(64, 'a')), 100)});
  post("n1", 2, {event("store", key(std::string(64, 'b')), 100)});
  // The MP server restarted and registered again: seq starts over.
  auto reg = client_.post("/instances", R"({"instance_id":"n1","ip":"127.0.0.1","http_port":1})");
  ASSERT_EQ(reg.json().at("re_registered"), true);
  EXPECT_EQ(post("n1", 1, {event("store", key(std::string(64, 'c')), 100)}),
            json::parse(R"({"recorded":1})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 300);
}

TEST_F(L2EventsTest, GapIsAppliedAndLogged) {
  post("n1", 1, {event("store", key(std::string(64, 'a')), 100)});
  EXPECT_EQ(post("n1", 5, {event("store", key(std::string(64, 'b')), 100)}),
            json::parse(R"({"recorded":1})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 200);
  EXPECT_TRUE(coordinator_.wait_for_log("seq 5")) << coordinator_.log();
  // A later seq after the gap is in order again.
  EXPECT_EQ(post("n1", 6, {}), json::parse(R"({"recorded":0})"));
}

TEST_F(L2EventsTest, MalformedJsonIs422AndNothingApplied) {
  auto detail = detail_of(R"({"instance_id":"n1","seq":1,"events":[)");
  ASSERT_EQ(detail.size(), 1U);
  EXPECT_EQ(detail[0].at("type"), "json_invalid");
  EXPECT_EQ(detail[0].at("loc").at(0), "body");
  EXPECT_TRUE(detail[0].at("loc").at(1).is_number());

  detail = detail_of(R"({"instance_id":"n1","seq":1,"events":[]} extra)");
  EXPECT_EQ(detail[0].at("type"), "json_invalid");

  detail = detail_of("");
  EXPECT_EQ(detail[0].at("type"), "missing");
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body"])"));

  detail = detail_of("[1,2]");
  EXPECT_EQ(detail[0].at("type"), "model_attributes_type");
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 0);
}

TEST_F(L2EventsTest, BatchFieldRulesAre422) {
  struct Case {
    const char* body;
    const char* type;
    const char* field;
  };
  const std::string events = R"("events":[{"type":"store","key":{"chunk_hash_hex":"aa",
      "model_name":"m","kv_rank":0,"cache_salt":"tenant"},"bytes":7}])";
  const Case cases[] = {
      {R"({"seq":1,)", "missing", "instance_id"},
      {R"({"instance_id":5,"seq":1,)", "string_type", "instance_id"},
      {R"({"instance_id":"","seq":1,)", "string_too_short", "instance_id"},
      {R"({"instance_id":"n1",)", "missing", "seq"},
      {R"({"instance_id":"n1","seq":0,)", "greater_than_equal", "seq"},
      {R"({"instance_id":"n1","seq":-3,)", "greater_than_equal", "seq"},
      {R"({"instance_id":"n1","seq":1.5,)", "int_from_float", "seq"},
      {R"({"instance_id":"n1","seq":"x",)", "int_parsing", "seq"},
      {R"({"instance_id":"n1","seq":null,)", "int_type", "seq"},
  };
  for (const auto& c : cases) {
    auto detail = detail_of(std::string(c.body) + events + "}");
    ASSERT_EQ(detail.size(), 1U) << c.body;
    EXPECT_EQ(detail[0].at("type"), c.type) << c.body;
    EXPECT_EQ(detail[0].at("loc"), (json::array{"body", c.field})) << c.body;
  }
  auto detail = detail_of(R"({"instance_id":"n1","seq":1})");
  EXPECT_EQ(detail[0].at("type"), "missing");
  EXPECT_EQ(detail[0].at("loc"), (json::array{"body", "events"}));
  detail = detail_of(R"({"instance_id":"n1","seq":1,"events":{"a":1}})");
  EXPECT_EQ(detail[0].at("type"), "list_type");
  EXPECT_EQ(detail[0].at("loc"), (json::array{"body", "events"}));
  // Every problem at once.
  detail = detail_of(R"({"events":3})");
  EXPECT_EQ(detail.size(), 3U);

  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 0);
  // None of those consumed a seq: seq 1 is still new.
  EXPECT_EQ(post("n1", 1, {}), json::parse(R"({"recorded":0})"));
}

TEST_F(L2EventsTest, LaxIntegersAndUnknownFields) {
  auto res = client_.post("/l2/events", R"({"instance_id":"n1","seq":"1","extra":true,"events":[
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":"2",
       "object_group_id":3.0,"cache_salt":"tenant","x":1},"bytes":"40","y":null}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"recorded":1})"));
  EXPECT_DOUBLE_EQ(usage_bytes("tenant"), 40);
}

}  // namespace
}  // namespace lmcache::testing
