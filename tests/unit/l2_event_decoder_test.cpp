#include "http/l2_event_decoder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace lmcache::http {
namespace {
namespace json = boost::json;

// The 422 body of a batch-level failure.
json::value detail_of(const ValidationErrors& errors) {
  return json::parse(errors.to_response().body()).at("detail");
}

TEST(L2EventDecoderTest, DecodesEventsInOrderWithDefaults) {
  ValidationErrors errors;
  auto batch = decode_l2_event_batch(R"({"instance_id":"n1","seq":7,"events":[
      {"type":"store","key":{"chunk_hash_hex":"ABcd","model_name":"m","kv_rank":-1,
       "object_group_id":2,"cache_salt":"t"},"bytes":100},
      {"type":"lookup","key":{"chunk_hash_hex":"00","model_name":"","kv_rank":0}},
      {"type":"delete","key":{"chunk_hash_hex":"ff","model_name":"m","kv_rank":"3",
       "cache_salt":null},"bytes":9}]})",
                                     errors);
  ASSERT_TRUE(batch) << errors.to_response().body();
  EXPECT_EQ(batch->instance_id, "n1");
  EXPECT_EQ(batch->seq, 7U);
  EXPECT_TRUE(batch->rejected.empty());
  ASSERT_EQ(batch->events.size(), 3U);

  const auto& store = batch->events[0];
  EXPECT_EQ(store.type, core::L2EventType::kStore);
  EXPECT_EQ(store.key.chunk_hash, std::string("\xab\xcd"));
  EXPECT_EQ(store.key.model_name, "m");
  EXPECT_EQ(store.key.kv_rank, -1);
  EXPECT_EQ(store.key.object_group_id, 2U);
  EXPECT_EQ(store.key.cache_salt, "t");
  EXPECT_EQ(store.bytes, 100U);

  const auto& lookup = batch->events[1];
  EXPECT_EQ(lookup.type, core::L2EventType::kLookup);
  EXPECT_EQ(lookup.key.object_group_id, 0U);
  EXPECT_EQ(lookup.key.cache_salt, "");
  EXPECT_EQ(lookup.bytes, 0U);

  const auto& del = batch->events[2];
  EXPECT_EQ(del.type, core::L2EventType::kDelete);
  EXPECT_EQ(del.key.kv_rank, 3);
  EXPECT_EQ(del.key.cache_salt, "");
}

TEST(L2EventDecoderTest, RejectsInvalidEventsByIndex) {
  ValidationErrors errors;
  auto batch = decode_l2_event_batch(R"({"instance_id":"n1","seq":1,"events":[
      1,
      {"key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0}},
      {"type":"STORE","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0}},
      {"type":"store"},
      {"type":"store","key":[]},
      {"type":"store","key":{"model_name":"m","kv_rank":0}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0.5}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":5,"kv_rank":0}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"a@b","kv_rank":0}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,
       "object_group_id":-1}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0},"bytes":-1},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0},"bytes":"x"},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0},
       "bytes":18446744073709551615},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":99999999999}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0}},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0},"bytes":null},
      {"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0},"bytes":1}]})",
                                     errors);
  ASSERT_TRUE(batch) << errors.to_response().body();
  ASSERT_EQ(batch->events.size(), 1U);
  ASSERT_EQ(batch->rejected.size(), 16U);
  const char* expected[] = {"event must be an object",
                            "type is missing",
                            "type must be 'store', 'lookup' or 'delete'",
                            "key is missing",
                            "key must be an object",
                            "key.chunk_hash_hex is missing",
                            "key.kv_rank must be an integer",
                            "key.model_name must be a string",
                            "invalid key: model_name must not contain '@'",
                            "invalid key: object_group_id -1",
                            "bytes must be >= 0",
                            "bytes must be an integer",
                            "bytes must be an integer",
                            "invalid key: kv_rank",
                            "bytes is missing",
                            "bytes must be an integer, got null"};
  for (size_t i = 0; i < batch->rejected.size(); ++i) {
    EXPECT_EQ(batch->rejected[i].index, i);
    EXPECT_EQ(batch->rejected[i].error.rfind(expected[i], 0), 0U) << batch->rejected[i].error;
  }
}

// Regression: a store without bytes was recorded as 0 bytes. A store must give its size; a lookup
// or delete need not (its bytes are not used).
TEST(L2EventDecoderTest, AStoreWithoutBytesIsRejectedALookupOrDeleteIsNot) {
  const std::string key = R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0})";
  for (const bool fast_path_first : {true, false}) {
    ValidationErrors errors;
    std::string body = R"({"instance_id":"n1","seq":1,"events":[)";
    for (const char* event :
         {R"({"type":"store","key":KEY})", R"({"type":"store","key":KEY,"bytes":null})",
          R"({"type":"lookup","key":KEY})", R"({"type":"delete","key":KEY,"bytes":null})",
          R"({"type":"store","key":KEY,"bytes":0})"}) {
      std::string text = event;
      text.replace(text.find("KEY"), 3, key);
      if (body.back() == '}') body += ',';
      body += text;
    }
    body += "]}";
    auto batch = fast_path_first ? decode_l2_event_batch(body, errors)
                                 : decode_l2_event_batch_from_tree(body, errors);
    ASSERT_TRUE(batch) << errors.to_response().body();
    ASSERT_EQ(batch->rejected.size(), 2U);
    EXPECT_EQ(batch->rejected[0].index, 0U);
    EXPECT_EQ(batch->rejected[0].error, "bytes is missing; a store must give its size");
    EXPECT_EQ(batch->rejected[1].index, 1U);
    EXPECT_EQ(batch->rejected[1].error, "bytes must be an integer, got null");
    ASSERT_EQ(batch->events.size(), 3U);
    EXPECT_EQ(batch->events[0].type, core::L2EventType::kLookup);
    EXPECT_EQ(batch->events[1].type, core::L2EventType::kDelete);
    EXPECT_EQ(batch->events[2].type, core::L2EventType::kStore);
    EXPECT_EQ(batch->events[2].bytes, 0U);  // an explicit 0 is a size
  }
}

TEST(L2EventDecoderTest, QuotesLongValuesShortly) {
  ValidationErrors errors;
  const std::string long_type(1000, 'x');
  auto batch = decode_l2_event_batch(
      R"({"instance_id":"n1","seq":1,"events":[{"type":")" + long_type + R"("}]})", errors);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->rejected.size(), 1U);
  EXPECT_LT(batch->rejected[0].error.size(), 200U);
}

TEST(L2EventDecoderTest, BatchLevelErrorsFailTheBatch) {
  {
    ValidationErrors errors;
    EXPECT_FALSE(decode_l2_event_batch(R"({"instance_id":"n1","seq":1,"events":[)", errors));
    EXPECT_EQ(detail_of(errors).at(0).at("type"), "json_invalid");
  }
  {
    ValidationErrors errors;
    EXPECT_FALSE(decode_l2_event_batch("  ", errors));
    EXPECT_EQ(detail_of(errors).at(0).at("type"), "missing");
  }
  {
    ValidationErrors errors;
    EXPECT_FALSE(decode_l2_event_batch(R"({"instance_id":1,"seq":0,"events":null})", errors));
    const json::array detail = detail_of(errors).as_array();
    ASSERT_EQ(detail.size(), 3U);
    EXPECT_EQ(detail[0].at("loc"), (json::array{"body", "instance_id"}));
    EXPECT_EQ(detail[1].at("loc"), (json::array{"body", "seq"}));
    EXPECT_EQ(detail[2].at("loc"), (json::array{"body", "events"}));
  }
}

TEST(L2EventDecoderTest, LargeBatchOutgrowsTheArena) {
  std::string body = R"({"instance_id":"n1","seq":1,"events":[)";
  const int count = 20000;
  for (int i = 0; i < count; ++i) {
    if (i > 0) body += ",";
    body += R"({"type":"store","key":{"chunk_hash_hex":")" + std::string(64, 'a') +
            R"(","model_name":"m","kv_rank":0,"cache_salt":"t"},"bytes":1})";
  }
  body += "]}";
  for (int round = 0; round < 2; ++round) {
    ValidationErrors errors;
    auto batch = decode_l2_event_batch(body, errors);
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->events.size(), static_cast<size_t>(count));
  }
}

}  // namespace
}  // namespace lmcache::http
