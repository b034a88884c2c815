#include "http/cache_event_fast_decoder.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "http/cache_event_decoder.h"
#include "support/fast_path_agreement.h"

namespace lmcache::http {
namespace {

// A decoded request as plain text, so two decodes can be compared and printed. ts is printed
// bit for bit (as its raw bytes), so -0.0 and 0.0 differ.
std::string describe(const CacheEventRequest& request) {
  std::string out;
  for (const core::CacheEventBatch& batch : request.batches) {
    uint64_t ts_bits = 0;
    std::memcpy(&ts_bits, &batch.ts, sizeof ts_bits);
    out += "{" + std::string(batch.instance_id) + " inc " + std::to_string(batch.incarnation) +
           " seq " + std::to_string(batch.seq) + " " +
           std::string(core::cache_event_type_name(batch.type)) + " " +
           std::string(core::cache_tier_name(batch.tier)) + " backend '" +
           std::string(batch.backend) + "' shared " + std::to_string(batch.shared) + " ts " +
           std::to_string(ts_bits) + " cap " + std::to_string(batch.capacity_bytes) + " rev " +
           std::to_string(batch.capacity_revision) + ":";
    for (const core::CacheEventEntry& entry : batch.entries) {
      out += " [" + entry.key.to_key().to_string() + " " + std::to_string(entry.size_bytes) +
             " tokens";
      for (int64_t token : entry.token_ids) out += " " + std::to_string(token);
      out += " at " + std::to_string(entry.token_offset) + "]";
    }
    out += "}";
  }
  for (const RejectedEventBatch& rejected : request.rejected) {
    out += " rejected " + std::to_string(rejected.index) + ": " + rejected.error;
  }
  return out;
}

// Whether the fast path took `body`; checks that every decoder agrees on it.
bool fast_path_agrees(const std::string& body) {
  return lmcache::testing::fast_path_agrees(body, decode_cache_event_request_fast,
                                            decode_cache_event_request_from_tree,
                                            decode_cache_event_request, describe);
}

std::string request_of(const std::string& batches, const std::string& extra = "") {
  return R"({"batches":[)" + batches + "]" + extra + "}";
}

const std::string kKey =
    R"({"chunk_hash_hex":"00ff10AB","model_name":"meta-llama/Llama","kv_rank":2148009992,)"
    R"("object_group_id":2,"cache_salt":"tenant-a"})";

const std::string kEntry = R"({"key":)" + kKey + R"(,"size_bytes":4096})";

// A batch with the fields before `entries` as given by `head` (no trailing comma).
std::string batch_with(const std::string& head, const std::string& entries) {
  return "{" + head + R"(,"entries":[)" + entries + "]}";
}

const std::string kStoreHead =
    R"("instance_id":"mp-1","incarnation":1788000000,"seq":3,"event_type":"store",)"
    R"("tier":"l2","backend":"fs","shared":false,"ts":1788000123.25,"capacity_bytes":0,)"
    R"("capacity_revision":0)";

std::string store_batch(const std::string& entries) { return batch_with(kStoreHead, entries); }

TEST(CacheEventFastDecoderTest, DecodesTheShapeMpServersSend) {
  const std::string body = request_of(
      store_batch(kEntry + "," + kEntry) + "," +
      batch_with(R"("instance_id":"mp-1","incarnation":1788000000,"seq":4,"event_type":"access",)"
                 R"("tier":"l2","backend":"","ts":1788000124)",
                 R"({"key":)" + kKey + "}"));
  CacheEventRequest request;
  ASSERT_TRUE(decode_cache_event_request_fast(body, request));
  ASSERT_EQ(request.batches.size(), 2U);
  const core::CacheEventBatch& store = request.batches[0];
  EXPECT_EQ(store.instance_id, "mp-1");
  EXPECT_EQ(store.incarnation, 1788000000U);
  EXPECT_EQ(store.seq, 3U);
  EXPECT_EQ(store.type, core::CacheEventType::kStore);
  EXPECT_EQ(store.tier, core::CacheTier::kL2);
  EXPECT_EQ(store.backend, "fs");
  EXPECT_EQ(store.ts, 1788000123.25);
  ASSERT_EQ(store.entries.size(), 2U);
  EXPECT_EQ(store.entries[0].key.chunk_hash, std::string("\x00\xff\x10\xab", 4));
  EXPECT_EQ(store.entries[0].key.model_name, "meta-llama/Llama");
  EXPECT_EQ(store.entries[0].key.kv_rank, core::kv_rank_from_wire(2148009992));
  EXPECT_EQ(store.entries[0].key.object_group_id, 2U);
  EXPECT_EQ(store.entries[0].key.cache_salt, "tenant-a");
  EXPECT_EQ(store.entries[0].size_bytes, 4096U);
  EXPECT_TRUE(store.entries[0].token_ids.empty());
  EXPECT_EQ(store.entries[0].token_offset, -1);
  const core::CacheEventBatch& access = request.batches[1];
  EXPECT_EQ(access.type, core::CacheEventType::kAccess);
  EXPECT_TRUE(access.backend.empty());
  EXPECT_EQ(access.ts, 1788000124.0);
  ASSERT_EQ(access.entries.size(), 1U);
  EXPECT_EQ(access.entries[0].size_bytes, 0U);
  EXPECT_TRUE(request.rejected.empty());
  EXPECT_TRUE(fast_path_agrees(body));
}

TEST(CacheEventFastDecoderTest, TakesEveryValidShape) {
  const std::vector<std::string> bodies = {
      request_of(""),
      request_of(store_batch("")),
      // Only the required fields, in another order; defaults for the rest (an access batch).
      request_of(R"({"tier":"l1","event_type":"access","seq":1,"incarnation":0,)"
                 R"("instance_id":"x"})"),
      // token_ids and token_offset, empty and full.
      request_of(store_batch(R"({"key":)" + kKey +
                             R"(,"token_ids":[15496,11,-3,0],"token_offset":512},)" +
                             R"({"token_ids":[],"token_offset":-1,"key":)" + kKey + "}")),
      // A config batch with its capacity, and a shared delete on l1.
      request_of(batch_with(R"("instance_id":"mp-2","incarnation":7,"seq":1,)"
                            R"("event_type":"config","tier":"l2","backend":"nixl",)"
                            R"("capacity_bytes":1099511627776,"capacity_revision":3)",
                            "") +
                 "," +
                 batch_with(R"("instance_id":"mp-2","incarnation":7,"seq":2,)"
                            R"("event_type":"delete","tier":"l1","backend":"cpu","shared":true)",
                            kEntry)),
      // ts as an integer, beyond int64, with an exponent, and -0.0 (not < 0).
      request_of(batch_with(R"("instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                            R"("tier":"l2","backend":"fs","ts":0)",
                            "")),
      request_of(batch_with(R"("instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                            R"("tier":"l2","backend":"fs","ts":18446744073709551615)",
                            "")),
      request_of(batch_with(R"("instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                            R"("tier":"l2","backend":"fs","ts":1.5e3)",
                            "")),
      request_of(batch_with(R"("instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                            R"("tier":"l2","backend":"fs","ts":-0.0)",
                            "")),
      // Key defaults, an empty model, a negative kv_rank.
      request_of(store_batch(
          R"({"key":{"chunk_hash_hex":"aa","model_name":"","kv_rank":-5},"size_bytes":0})")),
      // Escapes in strings and in field names.
      request_of(batch_with(R"("instance_\u0069d":"mp\/1","incarnation":1,"seq":1,)"
                            R"("event_type":"st\u006fre","tier":"l\u0032","backend":"f\"s")",
                            R"({"key":{"chunk_hash_hex":"a\u0061","model_n\u0061me":)"
                            R"("m\/x\u00e9","kv_rank":0,"cache_salt":"t\"1"}})")),
      // Unknown fields of every JSON type at every level, before and after the known ones.
      request_of(batch_with(R"("x":[1,{"seq":"no"}],"instance_id":"a","incarnation":1,)"
                            R"("seq":1,"event_type":"store","tier":"l2","backend":"fs",)"
                            R"("n":null,"f":1.5,"b":true,"u":18446744073709551615,"o":{})",
                            R"({"y":{"key":1},"key":{"z":[null],"chunk_hash_hex":"aa",)"
                            R"("model_name":"m","kv_rank":0,"w":"s"},"v":false})"),
                 R"(,"trace":{"batches":[1,2]},"n":null)"),
      // Salts and models that change from entry to entry and batch to batch.
      request_of(
          store_batch(R"({"key":{"chunk_hash_hex":"aa","model_name":"m1","kv_rank":0,)"
                      R"("cache_salt":"t1"}},{"key":{"chunk_hash_hex":"bb","model_name":"m2",)"
                      R"("kv_rank":0,"cache_salt":"t2"}},{"key":{"chunk_hash_hex":"cc",)"
                      R"("model_name":"m1","kv_rank":0}})") +
          "," + store_batch(kEntry)),
      R"({"n":1,"batches":[]})",
      R"( { "batches" : [ ] } )",
  };
  for (const auto& body : bodies) EXPECT_TRUE(fast_path_agrees(body)) << body;
}

TEST(CacheEventFastDecoderTest, LeavesLaxValuesInvalidBatchesAndBadBodiesToTheTreeDecoder) {
  const std::string head =
      R"("instance_id":"mp-1","incarnation":1,"seq":1,"event_type":"store","tier":"l2")";
  const auto with = [&head](const std::string& fields, const std::string& entries = "") {
    return request_of(batch_with(head + "," + fields, entries));
  };
  const auto entry = [](const std::string& fields) {
    return request_of(store_batch(R"({"key":)" + kKey + "," + fields + "}"));
  };
  const auto key = [](const std::string& fields) {
    return request_of(store_batch(R"({"key":{)" + fields + "}}"));
  };
  const std::vector<std::string> bodies = {
      // Lax values the tree decoder accepts.
      with(R"("backend":"fs","capacity_bytes":"12")"),
      with(R"("backend":"fs","capacity_revision":1.0)"),
      with(R"("backend":"fs","ts":"12.5")"),
      with(R"("backend":"fs","ts":null)"),
      with(R"("backend":"fs","shared":null)"),
      with(R"("backend":null)"),
      request_of(R"({"instance_id":"a","incarnation":"1","seq":1,"event_type":"store",)"
                 R"("tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":2.0,"event_type":"store",)"
                 R"("tier":"l2","backend":"fs"})"),
      entry(R"("size_bytes":"5")"),
      entry(R"("size_bytes":5.0)"),
      entry(R"("token_ids":[1,"2"])"),
      entry(R"("token_ids":[1,2.0])"),
      entry(R"("token_offset":null)"),
      entry(R"("token_ids":null)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":"2")"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":null)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"object_group_id":null)"),
      // Repeated fields: the tree decoder decides which occurrence counts.
      with(R"("backend":"fs","backend":"gds")"),
      entry(R"("size_bytes":1,"size_bytes":2)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"kv_rank":1)"),
      request_of(store_batch(""), R"(,"batches":[])"),
      // Invalid batches: the tree decoder words the rejection (and keeps the valid ones).
      request_of("1," + store_batch(kEntry)),
      request_of("[]"),
      request_of(R"({"instance_id":"","incarnation":1,"seq":1,"event_type":"store",)"
                 R"("tier":"l2","backend":"fs"})"),
      request_of(R"({"incarnation":1,"seq":1,"event_type":"store","tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","seq":1,"event_type":"store","tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"event_type":"store","tier":"l2",)"
                 R"("backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":1,"tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                 R"("backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":-1,"seq":1,"event_type":"store",)"
                 R"("tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":0,"event_type":"store",)"
                 R"("tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":18446744073709551615,"seq":1,)"
                 R"("event_type":"store","tier":"l2","backend":"fs"})"),
      with(R"("backend":"fs","event_type":"lookup")"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":1,"event_type":"lookup",)"
                 R"("tier":"l2","backend":"fs"})"),
      request_of(R"({"instance_id":"a","incarnation":1,"seq":1,"event_type":"store",)"
                 R"("tier":"l3","backend":"fs"})"),
      with(R"("backend":"")"),
      with(R"("shared":true)"),
      with(R"("backend":"fs","shared":1)"),
      with(R"("backend":"fs","ts":-1)"),
      with(R"("backend":"fs","ts":-0.5)"),
      with(R"("backend":"fs","capacity_bytes":-1)"),
      with(R"("backend":"fs","capacity_revision":-1)"),
      with(R"("backend":"fs","entries":{})"),
      with(R"("backend":"fs","entries":"x")"),
      request_of(batch_with(R"("instance_id":"a","incarnation":1,"seq":1,"event_type":"config",)"
                            R"("tier":"l2","backend":"fs")",
                            kEntry)),
      request_of(store_batch("1")),
      request_of(store_batch("[]")),
      request_of(store_batch(R"({"size_bytes":1})")),
      entry(R"("size_bytes":-1)"),
      entry(R"("size_bytes":18446744073709551615)"),
      entry(R"("token_offset":-2)"),
      entry(R"("token_ids":"1,2")"),
      entry(R"("token_ids":[1,[2]])"),
      entry(R"("token_ids":[18446744073709551615])"),
      request_of(store_batch(R"({"key":[]})")),
      request_of(store_batch(R"({"key":"aa"})")),
      key(R"("chunk_hash_hex":"a","model_name":"m","kv_rank":0)"),
      key(R"("chunk_hash_hex":"zz","model_name":"m","kv_rank":0)"),
      key(R"("chunk_hash_hex":"","model_name":"m","kv_rank":0)"),
      key(R"("chunk_hash_hex":"aa","model_name":"a@b","kv_rank":0)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":"a/b")"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":4294967296)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"object_group_id":-1)"),
      key(R"("chunk_hash_hex":"aa","model_name":"m")"),
      key(R"("model_name":"m","kv_rank":0)"),
      key(R"("chunk_hash_hex":"aa","kv_rank":0)"),
      // Bodies the tree decoder refuses whole.
      "",
      "[]",
      R"("text")",
      R"({})",
      R"({"batches":{}})",
      R"({"batches":null})",
      R"({"batches":[]} x)",
      R"({"batches":[)",
      R"({"batches":[]/* c */})",
      "{\"batches\":[{\"instance_id\":\"\xff\"}]}",
  };
  for (const auto& body : bodies) EXPECT_FALSE(fast_path_agrees(body)) << body;
}

TEST(CacheEventFastDecoderTest, StringsLongerThanTheParsersBufferArriveWhole) {
  // Escaped strings longer than basic_parser's internal buffer come in several parts.
  const lmcache::testing::LongKey key = lmcache::testing::long_key();
  const std::string body = request_of(store_batch(R"({"key":)" + key.json + "}"));
  CacheEventRequest request;
  ASSERT_TRUE(decode_cache_event_request_fast(body, request));
  ASSERT_EQ(request.batches.size(), 1U);
  ASSERT_EQ(request.batches[0].entries.size(), 1U);
  EXPECT_EQ(request.batches[0].entries[0].key.model_name, key.model_name);
  EXPECT_EQ(request.batches[0].entries[0].key.chunk_hash, key.chunk_hash);
  EXPECT_EQ(request.batches[0].entries[0].key.cache_salt, "t");
  EXPECT_TRUE(fast_path_agrees(body));
}

TEST(CacheEventFastDecoderTest, AFailedParseLeavesNothingBehindForTheNext) {
  // Stop inside a field name and a string value that arrived in parts (an invalid escape), and
  // inside a batch and a token list.
  const std::string long_escaped = lmcache::testing::long_escaped_text();
  for (const std::string& broken :
       {R"({")" + long_escaped + R"(\q":1})",
        request_of(R"({"instance_id":")" + long_escaped + R"(\q"})"),
        request_of(store_batch(R"({"key":)" + kKey + R"(,"token_ids":[1,2,"x"]})")),
        request_of(store_batch(fmt::format("{},{},7", kEntry, kEntry)))}) {
    CacheEventRequest ignored;
    EXPECT_FALSE(decode_cache_event_request_fast(broken, ignored));
    EXPECT_TRUE(fast_path_agrees(request_of(store_batch(
        fmt::format(R"({{"key":{},"token_ids":[5]}},{{"key":{},"token_ids":[6]}})", kKey, kKey)))));
  }
}

TEST(CacheEventFastDecoderTest, ViewsOutliveTheBodyAndMovesOfTheRequest) {
  std::vector<CacheEventRequest> kept;
  for (int round = 0; round < 3; ++round) {
    const std::string n = std::to_string(round);
    auto body = std::make_unique<std::string>(request_of(batch_with(
        fmt::format(R"("instance_id":"mp-{0}","incarnation":1,"seq":1,"event_type":"store",)"
                    R"("tier":"l2","backend":"be-{0}")",
                    n),
        fmt::format(R"({{"key":{{"chunk_hash_hex":"0{0}","model_name":"model-{0}","kv_rank":0,)"
                    R"("cache_salt":"salt-{0}"}},"token_ids":[{0}]}})",
                    n))));
    ValidationErrors errors;
    auto request = decode_cache_event_request(*body, errors);
    ASSERT_TRUE(request);
    body.reset();  // nothing may point into the body
    kept.push_back(std::move(*request));
  }
  for (int round = 0; round < 3; ++round) {
    const std::string n = std::to_string(round);
    ASSERT_EQ(kept[round].batches.size(), 1U);
    const core::CacheEventBatch& batch = kept[round].batches[0];
    EXPECT_EQ(batch.instance_id, "mp-" + n);
    EXPECT_EQ(batch.backend, "be-" + n);
    ASSERT_EQ(batch.entries.size(), 1U);
    const core::ObjectKeyView& key = batch.entries[0].key;
    EXPECT_EQ(key.chunk_hash, std::string(1, static_cast<char>(round)));
    EXPECT_EQ(key.model_name, "model-" + n);
    EXPECT_EQ(key.cache_salt, "salt-" + n);
    ASSERT_EQ(batch.entries[0].token_ids.size(), 1U);
    EXPECT_EQ(batch.entries[0].token_ids[0], round);
  }
}

TEST(CacheEventFastDecoderTest, MoreSaltsThanTheDecoderRemembersAreKeptAndChecked) {
  // Twelve salts in turn, twice (more than the eight recent strings the decoder remembers),
  // then a thirteenth that is invalid.
  std::string entries;
  for (int round = 0; round < 2; ++round) {
    for (int salt = 0; salt < 12; ++salt) {
      entries +=
          fmt::format(R"({{"key":{{"chunk_hash_hex":"{:02x}","model_name":"m{}","kv_rank":0,)"
                      R"("cache_salt":"tenant-{}"}}}},)",
                      salt, salt % 3, salt);
    }
  }
  const std::string valid = entries.substr(0, entries.size() - 1);
  EXPECT_TRUE(fast_path_agrees(request_of(store_batch(valid))));
  CacheEventRequest request;
  ASSERT_TRUE(decode_cache_event_request_fast(request_of(store_batch(valid)), request));
  ASSERT_EQ(request.batches.at(0).entries.size(), 24U);
  EXPECT_EQ(request.batches[0].entries[23].key.cache_salt, "tenant-11");
  EXPECT_EQ(request.batches[0].entries[23].key.model_name, "m2");
  EXPECT_FALSE(fast_path_agrees(request_of(store_batch(
      entries +
      R"({"key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":"t@"}})"))));
}

TEST(CacheEventFastDecoderTest, ConsecutiveModelsAndSaltsAreEachChecked) {
  // The decoder checks a model or salt once while it repeats; a change must be checked again.
  const std::string good =
      R"({"key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":"t"}})";
  EXPECT_TRUE(fast_path_agrees(request_of(store_batch(good + "," + good))));
  EXPECT_FALSE(fast_path_agrees(request_of(store_batch(
      good +
      R"(,{"key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":"t@"}})"))));
  EXPECT_FALSE(fast_path_agrees(request_of(store_batch(
      good +
      R"(,{"key":{"chunk_hash_hex":"aa","model_name":"m@","kv_rank":0,"cache_salt":"t"}})"))));
  // A salt over 128 characters after a valid one.
  EXPECT_FALSE(fast_path_agrees(request_of(store_batch(
      good + R"(,{"key":{"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":")" +
      std::string(129, 's') + R"("}})"))));
}

}  // namespace
}  // namespace lmcache::http
