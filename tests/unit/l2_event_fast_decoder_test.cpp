#include "http/l2_event_fast_decoder.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/l2_event_decoder.h"
#include "support/fast_path_agreement.h"

namespace lmcache::http {
namespace {

// A batch as plain values, so two decodes can be compared and printed.
std::string describe(const L2EventBatch& batch) {
  std::string out = batch.instance_id + " seq " + std::to_string(batch.seq) + ":";
  for (const auto& event : batch.events) {
    out += " [" + std::to_string(static_cast<int>(event.type)) + " " +
           event.key.to_key().to_string() + " " + std::to_string(event.bytes) + "]";
  }
  for (const auto& rejected : batch.rejected) {
    out += " rejected " + std::to_string(rejected.index) + ": " + rejected.error;
  }
  return out;
}

// Whether the fast path took `body`; checks that every decoder agrees on it.
bool fast_path_agrees(const std::string& body) {
  return lmcache::testing::fast_path_agrees(body, decode_l2_event_batch_fast,
                                            decode_l2_event_batch_from_tree, decode_l2_event_batch,
                                            describe);
}

std::string batch_of(const std::string& events, const std::string& extra = "") {
  return R"({"instance_id":"mp-1","seq":3,"events":[)" + events + "]" + extra + "}";
}

const std::string kKey =
    R"({"chunk_hash_hex":"00ff10AB","model_name":"meta-llama/Llama","kv_rank":1,)"
    R"("object_group_id":2,"cache_salt":"tenant-a"})";

TEST(L2EventFastDecoderTest, DecodesTheShapeMpServersSend) {
  const std::string body = batch_of(R"({"type":"store","key":)" + kKey + R"(,"bytes":4096},)" +
                                    R"({"type":"lookup","key":)" + kKey + "}," +
                                    R"({"type":"delete","key":)" + kKey + R"(,"bytes":7})");
  L2EventBatch batch;
  ASSERT_TRUE(decode_l2_event_batch_fast(body, batch));
  EXPECT_EQ(batch.instance_id, "mp-1");
  EXPECT_EQ(batch.seq, 3U);
  ASSERT_EQ(batch.events.size(), 3U);
  EXPECT_EQ(batch.events[0].type, core::L2EventType::kStore);
  EXPECT_EQ(batch.events[0].key.chunk_hash, std::string("\x00\xff\x10\xab", 4));
  EXPECT_EQ(batch.events[0].key.model_name, "meta-llama/Llama");
  EXPECT_EQ(batch.events[0].key.kv_rank, 1);
  EXPECT_EQ(batch.events[0].key.object_group_id, 2U);
  EXPECT_EQ(batch.events[0].key.cache_salt, "tenant-a");
  EXPECT_EQ(batch.events[0].bytes, 4096U);
  EXPECT_EQ(batch.events[1].type, core::L2EventType::kLookup);
  EXPECT_EQ(batch.events[1].bytes, 0U);
  EXPECT_EQ(batch.events[2].type, core::L2EventType::kDelete);
  EXPECT_TRUE(fast_path_agrees(body));
}

TEST(L2EventFastDecoderTest, TakesDefaultsEscapesUnknownFieldsAndEmptyBatches) {
  const std::vector<std::string> bodies = {
      batch_of(""),
      batch_of(
          R"({"type":"store","key":{"chunk_hash_hex":"aa","model_name":"","kv_rank":-5},"bytes":0})"),
      // A lookup and a delete need no bytes.
      batch_of(R"({"type":"lookup","key":)" + kKey + R"(},{"type":"delete","key":)" + kKey + "}"),
      // Escapes in strings and in field names.
      batch_of(R"({"type":"st\u006fre","key":{"chunk_hash_hex":"a\u0061","model_n\u0061me":)"
               R"("m\/x\u00e9","kv_rank":0,"cache_salt":"t\"1"},"bytes":1})"),
      // Unknown fields of every JSON type at every level, before and after the known ones.
      batch_of(R"({"x":[1,{"type":"delete"}],"type":"store","key":{"y":{"kv_rank":"no"},)"
               R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"z":null},"bytes":1,)"
               R"("w":true,"v":1.5,"u":18446744073709551615})",
               R"(,"trace":{"events":[1,2]},"n":null)"),
      R"({"events":[],"seq":1,"instance_id":"late-fields"})",
      R"( {"instance_id" : "spaces" , "seq" : 9 , "events" : [ ] } )",
  };
  for (const auto& body : bodies) EXPECT_TRUE(fast_path_agrees(body)) << body;
}

TEST(L2EventFastDecoderTest, LeavesLaxValuesInvalidEventsAndBadBatchesToTheTreeDecoder) {
  const std::string event_head = R"({"type":"store","key":)";
  const std::vector<std::string> bodies = {
      // Lax values the tree decoder accepts.
      batch_of(event_head + kKey + R"(,"bytes":"12"})"),
      batch_of(event_head + kKey + R"(,"bytes":1.0e3})"),
      batch_of(R"({"type":"delete","key":)" + kKey + R"(,"bytes":null})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":"2"},"bytes":1})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,)"
                            R"("cache_salt":null,"object_group_id":null},"bytes":1})"),
      R"({"instance_id":"mp-1","seq":"4","events":[]})",
      R"({"instance_id":"mp-1","seq":4.0,"events":[]})",
      // A repeated field: the tree decoder decides which occurrence counts.
      batch_of(event_head + kKey + R"(,"bytes":1,"bytes":2})"),
      R"({"instance_id":"a","instance_id":"b","seq":1,"events":[]})",
      // Invalid events: the tree decoder words the rejection.
      batch_of("1"),
      batch_of("[]"),
      batch_of(R"({"type":"STORE","key":)" + kKey + "}"),
      batch_of(R"({"type":"store"})"),
      batch_of(R"({"key":)" + kKey + "}"),
      batch_of(event_head + "[]}"),
      batch_of(event_head + R"({"chunk_hash_hex":"a","model_name":"m","kv_rank":0}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"zz","model_name":"m","kv_rank":0}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"","model_name":"m","kv_rank":0}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"a@b","kv_rank":0}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,)"
                            R"("cache_salt":"a/b"}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":4294967296}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,)"
                            R"("object_group_id":-1}})"),
      batch_of(event_head + R"({"chunk_hash_hex":"aa","model_name":"m"}})"),
      batch_of(event_head + kKey + R"(,"bytes":-1})"),
      // A store without bytes (regression: it was recorded as 0 bytes).
      batch_of(event_head + kKey + "}"),
      batch_of(event_head + kKey + R"(,"bytes":null})"),
      batch_of(event_head + kKey + R"(,"bytes":18446744073709551615})"),
      // Good events after a bad one still go to the tree decoder, which keeps them.
      batch_of("1," + event_head + kKey + R"(,"bytes":1})"),
      // Batch-level problems.
      "",
      "[]",
      R"("text")",
      R"({"instance_id":"","seq":1,"events":[]})",
      R"({"instance_id":"mp-1","seq":0,"events":[]})",
      R"({"instance_id":"mp-1","seq":1})",
      R"({"seq":1,"events":[]})",
      R"({"instance_id":"mp-1","seq":1,"events":{}})",
      R"({"instance_id":"mp-1","seq":1,"events":[]} x)",
      R"({"instance_id":"mp-1","seq":1,"events":[)",
      "{\"instance_id\":\"\xff\",\"seq\":1,\"events\":[]}",
  };
  for (const auto& body : bodies) EXPECT_FALSE(fast_path_agrees(body)) << body;
}

TEST(L2EventFastDecoderTest, StringsLongerThanTheParsersBufferArriveWhole) {
  // Escaped strings longer than basic_parser's internal buffer come in several parts.
  const lmcache::testing::LongKey key = lmcache::testing::long_key();
  const std::string body = batch_of(R"({"type":"store","key":)" + key.json + R"(,"bytes":1})");
  L2EventBatch batch;
  ASSERT_TRUE(decode_l2_event_batch_fast(body, batch));
  ASSERT_EQ(batch.events.size(), 1U);
  EXPECT_EQ(batch.events[0].key.model_name, key.model_name);
  EXPECT_EQ(batch.events[0].key.chunk_hash, key.chunk_hash);
  EXPECT_EQ(batch.events[0].key.cache_salt, "t");
  EXPECT_TRUE(fast_path_agrees(body));
}

TEST(L2EventFastDecoderTest, AFailedParseLeavesNothingBehindForTheNext) {
  // Stop inside a field name and a string value that arrived in parts (an invalid escape).
  const std::string long_escaped = lmcache::testing::long_escaped_text();
  for (const std::string& broken :
       {R"({")" + long_escaped + R"(\q":1})", R"({"instance_id":")" + long_escaped + R"(\q"})"}) {
    L2EventBatch ignored;
    EXPECT_FALSE(decode_l2_event_batch_fast(broken, ignored));
    EXPECT_TRUE(fast_path_agrees(R"({"instance_id":"mp-1","seq":1,"events":[]})"));
  }
}

TEST(L2EventFastDecoderTest, KeysOutliveTheBodyAndMovesOfTheBatch) {
  std::vector<L2EventBatch> kept;
  for (int round = 0; round < 3; ++round) {
    auto body = std::make_unique<std::string>(batch_of(
        R"({"type":"store","key":{"chunk_hash_hex":"0)" + std::to_string(round) +
        R"(","model_name":"model-)" + std::to_string(round) +
        R"(","kv_rank":0,"cache_salt":"salt-)" + std::to_string(round) + R"("},"bytes":1})"));
    ValidationErrors errors;
    auto batch = decode_l2_event_batch(*body, errors);
    ASSERT_TRUE(batch);
    body.reset();  // the keys must not point into the body
    kept.push_back(std::move(*batch));
  }
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(kept[round].events.size(), 1U);
    const core::ObjectKeyView& key = kept[round].events[0].key;
    EXPECT_EQ(key.chunk_hash, std::string(1, static_cast<char>(round)));
    EXPECT_EQ(key.model_name, "model-" + std::to_string(round));
    EXPECT_EQ(key.cache_salt, "salt-" + std::to_string(round));
  }
}

TEST(L2EventFastDecoderTest, ConsecutiveModelsAndSaltsAreEachChecked) {
  // The decoder checks a model or salt once while it repeats; a change must be checked again.
  const std::string good = R"({"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m",)"
                           R"("kv_rank":0,"cache_salt":"t"},"bytes":1})";
  EXPECT_TRUE(fast_path_agrees(batch_of(good + "," + good)));
  EXPECT_FALSE(fast_path_agrees(
      batch_of(good + R"(,{"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m",)"
                      R"("kv_rank":0,"cache_salt":"t@"},"bytes":1})")));
  EXPECT_FALSE(fast_path_agrees(
      batch_of(good + R"(,{"type":"store","key":{"chunk_hash_hex":"aa","model_name":"m@",)"
                      R"("kv_rank":0,"cache_salt":"t"},"bytes":1})")));
}

}  // namespace
}  // namespace lmcache::http
