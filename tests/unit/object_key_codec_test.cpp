#include "wire/object_key_codec.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "core/token_chain_hasher.h"

namespace lmcache::wire {
namespace {
namespace json = boost::json;

core::ObjectKeyResult decode(std::string_view json_text) {
  return decode_object_key(json::parse(json_text));
}

TEST(ObjectKeyCodecTest, DecodesAllFields) {
  const auto result =
      decode(R"({"chunk_hash_hex":"00FFab","model_name":"m/x","kv_rank":-2,"object_group_id":7,)"
             R"("cache_salt":"tenant","extra":[1]})");
  ASSERT_TRUE(result.ok()) << result.error.message;
  EXPECT_EQ(*result.key, (core::ObjectKey{std::string("\x00\xff\xab", 3), "m/x", -2, 7, "tenant"}));
}

TEST(ObjectKeyCodecTest, OptionalFieldsDefaultWhenAbsentOrNull) {
  const core::ObjectKey expected{"\xaa", "m", 0, 0, ""};
  for (const char* text :
       {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0})",
        R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"object_group_id":null,)"
        R"("cache_salt":null})"}) {
    const auto result = decode(text);
    ASSERT_TRUE(result.ok()) << text << ": " << result.error.message;
    EXPECT_EQ(*result.key, expected) << text;
  }
}

TEST(ObjectKeyCodecTest, IntegersFollowTheLaxRules) {
  const auto result =
      decode(R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":" 3 ","object_group_id":4.0})");
  ASSERT_TRUE(result.ok()) << result.error.message;
  EXPECT_EQ(result.key->kv_rank, 3);
  EXPECT_EQ(result.key->object_group_id, 4U);
}

TEST(ObjectKeyCodecTest, NamesTheFieldAtFault) {
  struct Case {
    const char* json;
    const char* field;
    const char* message;
  };
  const Case cases[] = {
      {"[1]", "key", "key must be an object, got [1]"},
      {R"({"model_name":"m","kv_rank":0})", "chunk_hash_hex", "key.chunk_hash_hex is missing"},
      {R"({"chunk_hash_hex":"aa","model_name":5,"kv_rank":0})", "model_name",
       "key.model_name must be a string, got 5"},
      {R"({"chunk_hash_hex":"aa","model_name":null,"kv_rank":0})", "model_name",
       "key.model_name must be a string, got null"},
      {R"({"chunk_hash_hex":"aa","model_name":"m"})", "kv_rank", "key.kv_rank is missing"},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0.5})", "kv_rank",
       "key.kv_rank must be an integer, got "},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"object_group_id":"x"})",
       "object_group_id", "key.object_group_id must be an integer, got \"x\""},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":1})", "cache_salt",
       "key.cache_salt must be a string, got 1"},
      // The first fault in field order wins.
      {R"({"chunk_hash_hex":1,"model_name":2,"kv_rank":"x"})", "chunk_hash_hex",
       "key.chunk_hash_hex must be a string, got 1"},
      // Values of the right type that break a key rule.
      {R"({"chunk_hash_hex":"zz","model_name":"m","kv_rank":0})", "chunk_hash_hex",
       "invalid key: "},
      {R"({"chunk_hash_hex":"aa","model_name":"a@b","kv_rank":0})", "model_name",
       "invalid key: model_name must not contain '@'"},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":4294967296})", "kv_rank",
       "invalid key: kv_rank"},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"object_group_id":-1})",
       "object_group_id", "invalid key: object_group_id -1"},
      {R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0,"cache_salt":"a/b"})", "cache_salt",
       "invalid key: "},
  };
  for (const Case& c : cases) {
    const auto result = decode(c.json);
    ASSERT_FALSE(result.ok()) << c.json;
    EXPECT_EQ(result.error.field, c.field) << c.json;
    EXPECT_EQ(result.error.message.rfind(c.message, 0), 0U)
        << c.json << ": " << result.error.message;
  }
}

TEST(ObjectKeyCodecTest, EncodesEveryFieldInOrderWithLowercaseHex) {
  const core::ObjectKey key{std::string("\xAB\x01", 2), "m\"x", -1, 4294967295U, "t"};
  EXPECT_EQ(json::serialize(encode_object_key(key)),
            R"({"chunk_hash_hex":"ab01","model_name":"m\"x","kv_rank":-1,)"
            R"("object_group_id":4294967295,"cache_salt":"t"})");
}

TEST(ObjectKeyCodecTest, EncodedKeysDecodeToThemselves) {
  const core::ObjectKey keys[] = {
      {std::string(1, '\0'), "", 0, 0, ""},
      {std::string(32, '\xfe'), "llama", 2147483647, 4294967295U, "tenant-a"},
      {"\x10\x20", "m", -2147483647 - 1, 1, std::string("\xc3\xa9")},
  };
  for (const core::ObjectKey& key : keys) {
    const auto decoded = decode_object_key(encode_object_key(key));
    ASSERT_TRUE(decoded.ok()) << decoded.error.message;
    EXPECT_EQ(*decoded.key, key) << key.to_string();
  }
}

// Upstream sends the packed rank unsigned, above INT32_MAX from world size 128 up: every key the
// token hasher expands must go out as that value and decode back to the same key.
TEST(ObjectKeyCodecTest, PackedRanksOfEveryWorldSizeRoundTripUnsigned) {
  const core::ChunkHash hash{};
  for (int64_t ws = 1; ws <= core::kMaxWorldSize; ++ws) {
    const auto keys = core::expand_object_keys({&hash, 1}, "m", ws, "s");
    ASSERT_TRUE(keys.has_value());
    for (uint32_t worker = 0; worker < keys->size(); ++worker) {
      const core::ObjectKey& key = (*keys)[worker];
      const json::object encoded = encode_object_key(key);
      const int64_t wire_rank = core::pack_kv_rank(static_cast<uint32_t>(ws), worker);
      ASSERT_EQ(encoded.at("kv_rank").to_number<int64_t>(), wire_rank) << ws << " " << worker;
      const auto decoded = decode_object_key(json::parse(json::serialize(encoded)));
      ASSERT_TRUE(decoded.ok()) << decoded.error.message;
      ASSERT_EQ(*decoded.key, key) << key.to_string();
    }
  }
  // e.g. world size 128, worker 0: 0x80008000.
  const core::ObjectKey key{"\x01", "m", core::kv_rank_from_wire(2147516416), 0, ""};
  EXPECT_EQ(json::serialize(encode_object_key(key)),
            R"({"chunk_hash_hex":"01","model_name":"m","kv_rank":2147516416,)"
            R"("object_group_id":0,"cache_salt":""})");
}

TEST(ObjectKeyCodecTest, RanksAboveInt32MaxAreAccepted) {
  const auto decoded = decode(R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":4294967295})");
  ASSERT_TRUE(decoded.ok()) << decoded.error.message;
  EXPECT_EQ(decoded.key->kv_rank, -1);  // the same 32 bits
}

}  // namespace
}  // namespace lmcache::wire
