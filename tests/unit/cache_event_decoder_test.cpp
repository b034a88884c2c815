#include "http/cache_event_decoder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <utility>

namespace lmcache::http {
namespace {
namespace json = boost::json;

json::object key(std::string hash = "abcd") {
  return json::object{{"chunk_hash_hex", std::move(hash)},
                      {"model_name", "m"},
                      {"kv_rank", 3},
                      {"object_group_id", 1},
                      {"cache_salt", "t"}};
}

// A valid store batch with every field given.
json::object store_batch(uint64_t seq = 1) {
  return json::object{{"instance_id", "mp-1"},
                      {"incarnation", 1788000000},
                      {"seq", seq},
                      {"event_type", "store"},
                      {"tier", "l2"},
                      {"backend", "fs"},
                      {"shared", true},
                      {"ts", 1788000123.5},
                      {"capacity_bytes", 0},
                      {"capacity_revision", 0},
                      {"entries", json::array{json::object{{"key", key()},
                                                           {"size_bytes", 8388608},
                                                           {"token_ids", json::array{15496, 11}},
                                                           {"token_offset", 512}}}}};
}

std::string body_of(json::array batches) {
  return json::serialize(json::object{{"batches", std::move(batches)}});
}

// Decodes a request of one batch, expecting it to decode as a request.
CacheEventRequest decode_one(const json::object& batch) {
  ValidationErrors errors;
  auto request = decode_cache_event_request(body_of(json::array{batch}), errors);
  EXPECT_TRUE(request.has_value()) << errors.to_response().body();
  return request ? std::move(*request) : CacheEventRequest{};
}

// The error of a request whose one batch must be rejected.
std::string rejection(const json::object& batch) {
  const CacheEventRequest request = decode_one(batch);
  EXPECT_TRUE(request.batches.empty());
  if (request.rejected.size() != 1) {
    ADD_FAILURE() << "expected one rejection for " << json::serialize(batch);
    return {};
  }
  EXPECT_EQ(request.rejected[0].index, 0U);
  return request.rejected[0].error;
}

// `batch` with `field` set to `value` (or removed when value is nullptr).
json::object with(json::object batch, std::string_view field, json::value value) {
  batch[field] = std::move(value);
  return batch;
}
json::object without(json::object batch, std::string_view field) {
  batch.erase(field);
  return batch;
}
json::object with_entry(json::object batch, std::string_view field, json::value value) {
  json::object& entry = batch["entries"].as_array()[0].as_object();
  if (value.is_null()) {
    entry.erase(field);
  } else {
    entry[field] = std::move(value);
  }
  return batch;
}

TEST(CacheEventDecoderTest, DecodesEveryFieldOfABatch) {
  const CacheEventRequest request = decode_one(store_batch(7));
  ASSERT_EQ(request.batches.size(), 1U);
  EXPECT_TRUE(request.rejected.empty());
  const core::CacheEventBatch& batch = request.batches[0];
  EXPECT_EQ(batch.instance_id, "mp-1");
  EXPECT_EQ(batch.incarnation, 1788000000U);
  EXPECT_EQ(batch.seq, 7U);
  EXPECT_EQ(batch.type, core::CacheEventType::kStore);
  EXPECT_EQ(batch.tier, core::CacheTier::kL2);
  EXPECT_EQ(batch.backend, "fs");
  EXPECT_TRUE(batch.shared);
  EXPECT_DOUBLE_EQ(batch.ts, 1788000123.5);
  ASSERT_EQ(batch.entries.size(), 1U);
  const core::CacheEventEntry& entry = batch.entries[0];
  EXPECT_EQ(entry.key.chunk_hash, std::string("\xab\xcd"));
  EXPECT_EQ(entry.key.model_name, "m");
  EXPECT_EQ(entry.key.kv_rank, 3);
  EXPECT_EQ(entry.key.object_group_id, 1U);
  EXPECT_EQ(entry.key.cache_salt, "t");
  EXPECT_EQ(entry.size_bytes, 8388608U);
  EXPECT_EQ(std::vector<int64_t>(entry.token_ids.begin(), entry.token_ids.end()),
            (std::vector<int64_t>{15496, 11}));
  EXPECT_EQ(entry.token_offset, 512);
}

TEST(CacheEventDecoderTest, OptionalFieldsTakeTheirDefaults) {
  const json::object batch{{"instance_id", "mp-1"},
                           {"incarnation", 0},
                           {"seq", 1},
                           {"event_type", "access"},
                           {"tier", "l1"},
                           {"entries", json::array{json::object{{"key", key()}}}}};
  const CacheEventRequest request = decode_one(batch);
  ASSERT_EQ(request.batches.size(), 1U);
  const core::CacheEventBatch& decoded = request.batches[0];
  EXPECT_EQ(decoded.backend, "");
  EXPECT_FALSE(decoded.shared);
  EXPECT_EQ(decoded.ts, 0.0);
  EXPECT_EQ(decoded.capacity_bytes, 0U);
  EXPECT_EQ(decoded.capacity_revision, 0U);
  ASSERT_EQ(decoded.entries.size(), 1U);
  EXPECT_EQ(decoded.entries[0].size_bytes, 0U);
  EXPECT_TRUE(decoded.entries[0].token_ids.empty());
  EXPECT_EQ(decoded.entries[0].token_offset, -1);

  // Entries default to [] too.
  const CacheEventRequest empty = decode_one(without(batch, "entries"));
  ASSERT_EQ(empty.batches.size(), 1U);
  EXPECT_TRUE(empty.batches[0].entries.empty());
}

TEST(CacheEventDecoderTest, ConfigBatchCarriesItsCapacity) {
  json::object batch = without(store_batch(), "entries");
  batch["event_type"] = "config";
  batch["capacity_bytes"] = 1000;
  batch["capacity_revision"] = 4;
  const CacheEventRequest request = decode_one(batch);
  ASSERT_EQ(request.batches.size(), 1U);
  EXPECT_EQ(request.batches[0].type, core::CacheEventType::kConfig);
  EXPECT_EQ(request.batches[0].capacity_bytes, 1000U);
  EXPECT_EQ(request.batches[0].capacity_revision, 4U);
}

TEST(CacheEventDecoderTest, NumbersFollowTheLaxRulesAndUnknownFieldsAreIgnored) {
  json::object batch = store_batch();
  batch["seq"] = "12";
  batch["incarnation"] = 3.0;
  batch["ts"] = "5.5";
  batch["dropped_events"] = 4;
  const CacheEventRequest request = decode_one(batch);
  ASSERT_EQ(request.batches.size(), 1U) << request.rejected[0].error;
  EXPECT_EQ(request.batches[0].seq, 12U);
  EXPECT_EQ(request.batches[0].incarnation, 3U);
  EXPECT_DOUBLE_EQ(request.batches[0].ts, 5.5);
}

TEST(CacheEventDecoderTest, EveryBatchInvariantRejectsTheBatch) {
  const json::object good = store_batch();
  EXPECT_EQ(rejection(without(good, "instance_id")), "instance_id is missing");
  EXPECT_EQ(rejection(with(good, "instance_id", "")), "instance_id must not be empty");
  EXPECT_EQ(rejection(with(good, "instance_id", 5)), "instance_id must be a string, got 5");
  EXPECT_EQ(rejection(with(good, "incarnation", -1)),
            "incarnation must be an integer >= 0, got -1");
  EXPECT_EQ(rejection(without(good, "incarnation")), "incarnation is missing");
  EXPECT_EQ(rejection(with(good, "seq", 0)), "seq must be an integer >= 1, got 0");
  EXPECT_EQ(rejection(with(good, "seq", 1.5)), "seq must be an integer >= 1, got 1.5E0");
  EXPECT_EQ(rejection(with(good, "ts", -0.5)), "ts must be a number >= 0, got -5E-1");
  EXPECT_EQ(rejection(with(good, "tier", "all")), "tier must be 'l1' or 'l2', got \"all\"");
  EXPECT_EQ(rejection(with(good, "event_type", "lookup")),
            "event_type must be 'store', 'delete', 'access' or 'config', got \"lookup\"");
  EXPECT_EQ(rejection(with(good, "backend", "")), "backend must not be empty in a store batch");
  EXPECT_EQ(rejection(without(with(good, "event_type", "delete"), "backend")),
            "backend must not be empty in a delete batch");
  EXPECT_EQ(rejection(with(good, "capacity_bytes", -1)),
            "capacity_bytes must be an integer >= 0, got -1");
  EXPECT_EQ(rejection(with(good, "capacity_revision", -2)),
            "capacity_revision must be an integer >= 0, got -2");
  EXPECT_EQ(rejection(with(good, "shared", "yes")), "shared must be a boolean, got \"yes\"");
  EXPECT_EQ(rejection(with(good, "entries", 3)), "entries must be a list, got 3");
  EXPECT_EQ(rejection(with(good, "event_type", "config")), "a config batch has no entries, got 1");
  EXPECT_EQ(rejection(with(good, "seq", nullptr)), "seq must be an integer >= 1, got null");
}

TEST(CacheEventDecoderTest, EveryEntryInvariantRejectsTheBatch) {
  const json::object good = store_batch();
  EXPECT_EQ(rejection(with_entry(good, "size_bytes", -1)),
            "entries[0].size_bytes must be an integer >= 0, got -1");
  EXPECT_EQ(rejection(with_entry(good, "token_offset", -2)),
            "entries[0].token_offset must be an integer >= -1, got -2");
  EXPECT_EQ(rejection(with_entry(good, "token_ids", json::array{1, "x"})),
            "entries[0].token_ids[1] must be an integer, got \"x\"");
  EXPECT_EQ(rejection(with_entry(good, "token_ids", "1,2")),
            "entries[0].token_ids must be a list, got \"1,2\"");
  EXPECT_EQ(rejection(with_entry(good, "key", nullptr)), "entries[0].key is missing");
  EXPECT_EQ(rejection(with_entry(good, "key", key("abc"))),
            "entries[0].invalid key: chunk_hash_hex has odd length 3; expected an even number "
            "of hex digits");
  json::object bad_model = key();
  bad_model["model_name"] = "a@b";
  EXPECT_EQ(rejection(with_entry(good, "key", bad_model)),
            "entries[0].invalid key: model_name must not contain '@'");
  json::object no_rank = key();
  no_rank.erase("kv_rank");
  EXPECT_EQ(rejection(with_entry(good, "key", no_rank)), "entries[0].key.kv_rank is missing");

  json::object not_object = good;
  not_object["entries"].as_array().push_back(5);
  EXPECT_EQ(rejection(not_object), "entries[1] must be an object, got 5");
  EXPECT_EQ(rejection(with(good, "entries", json::array{json::object{{"key", key()}}, 2})),
            "entries[1] must be an object, got 2");
  EXPECT_EQ(rejection(json::object{}), "instance_id is missing");
}

TEST(CacheEventDecoderTest, ABatchThatIsNotAnObjectIsRejected) {
  ValidationErrors errors;
  auto request = decode_cache_event_request(body_of(json::array{"x"}), errors);
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(request->rejected.size(), 1U);
  EXPECT_EQ(request->rejected[0].error, "batch must be an object, got \"x\"");
}

TEST(CacheEventDecoderTest, AnInvalidBatchIsRejectedAloneAndTheOthersDecode) {
  ValidationErrors errors;
  auto request = decode_cache_event_request(
      body_of(json::array{store_batch(1), with(store_batch(2), "tier", "all"), store_batch(3)}),
      errors);
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(request->batches.size(), 2U);
  EXPECT_EQ(request->batches[0].seq, 1U);
  EXPECT_EQ(request->batches[1].seq, 3U);
  ASSERT_EQ(request->rejected.size(), 1U);
  EXPECT_EQ(request->rejected[0].index, 1U);
}

TEST(CacheEventDecoderTest, AnEmptyBatchListDecodesToNothing) {
  ValidationErrors errors;
  auto request = decode_cache_event_request(R"({"batches":[]})", errors);
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(request->batches.empty());
  EXPECT_TRUE(request->rejected.empty());
}

TEST(CacheEventDecoderTest, OnlyABodyWithoutABatchListFailsTheRequest) {
  for (const std::string body : {"", "{", "[]", "5", "{}", R"({"batches":5})",
                                 R"({"batches":{"a":1}})", R"({"batches":null})"}) {
    ValidationErrors errors;
    EXPECT_FALSE(decode_cache_event_request(body, errors).has_value()) << body;
    EXPECT_FALSE(errors.empty()) << body;
    EXPECT_EQ(errors.to_response().result_int(), 422) << body;
  }
}

TEST(CacheEventDecoderTest, ViewsSurviveAMoveOfTheRequestAndTheBody) {
  std::optional<CacheEventRequest> moved;
  {
    std::string body = body_of(json::array{store_batch(), store_batch(2)});
    ValidationErrors errors;
    auto request = decode_cache_event_request(body, errors);
    ASSERT_TRUE(request.has_value());
    moved.emplace(std::move(*request));
    body.assign(body.size(), 'x');
    // Another decode on this thread reuses the parse arena.
    decode_cache_event_request(body_of(json::array{with(store_batch(), "instance_id", "mp-zz")}),
                               errors);
  }
  ASSERT_EQ(moved->batches.size(), 2U);
  for (const auto& batch : moved->batches) {
    EXPECT_EQ(batch.instance_id, "mp-1");
    EXPECT_EQ(batch.backend, "fs");
    EXPECT_EQ(batch.entries[0].key.model_name, "m");
    EXPECT_EQ(batch.entries[0].key.cache_salt, "t");
    EXPECT_EQ(batch.entries[0].key.chunk_hash, std::string("\xab\xcd"));
    EXPECT_EQ(batch.entries[0].token_ids.size(), 2U);
  }
}

}  // namespace
}  // namespace lmcache::http
