#include "core/object_key.h"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>

namespace lmcache::core {
namespace {

const std::string kHex64(64, 'a');

ObjectKeyResult parse(std::string_view hex, std::string_view model = "m", int64_t rank = 0,
                      int64_t group = 0, std::string_view salt = "") {
  return parse_object_key(hex, model, rank, group, salt);
}

TEST(ObjectKeyTest, ParsesAValidKey) {
  const auto ok = parse("00FF10", "llama", 3, 7, "tenant-a");
  ASSERT_TRUE(ok.ok()) << ok.error.message;
  EXPECT_EQ(ok.key->chunk_hash, std::string("\x00\xff\x10", 3));
  EXPECT_EQ(ok.key->model_name, "llama");
  EXPECT_EQ(ok.key->kv_rank, 3);
  EXPECT_EQ(ok.key->object_group_id, 7u);
  EXPECT_EQ(ok.key->cache_salt, "tenant-a");
}

TEST(ObjectKeyTest, HexIsCaseInsensitiveAndFormatsLowercase) {
  const auto upper = parse("ABCDEF0123456789");
  const auto lower = parse("abcdef0123456789");
  const auto mixed = parse("AbCdEf0123456789");
  ASSERT_TRUE(upper.ok() && lower.ok() && mixed.ok());
  EXPECT_EQ(*upper.key, *lower.key);
  EXPECT_EQ(*mixed.key, *lower.key);
  EXPECT_EQ(ObjectKeyHash{}(*upper.key), ObjectKeyHash{}(*lower.key));
  EXPECT_EQ(upper.key->chunk_hash_hex(), "abcdef0123456789");
}

TEST(ObjectKeyTest, AcceptsHashesOfAnyEvenLength) {
  EXPECT_TRUE(parse("ab").ok());
  EXPECT_TRUE(parse(kHex64).ok());
  EXPECT_EQ(parse(kHex64).key->chunk_hash.size(), 32u);
  EXPECT_TRUE(parse(std::string(130, 'f')).ok());
}

TEST(ObjectKeyTest, RejectsBadHex) {
  const auto empty = parse("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error.field, "chunk_hash_hex");
  EXPECT_NE(empty.error.message.find("empty"), std::string::npos);

  const auto odd = parse("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error.field, "chunk_hash_hex");
  EXPECT_NE(odd.error.message.find("odd length 3"), std::string::npos);

  const auto bad = parse("zz00");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error.message.find("'z' at offset 0"), std::string::npos);
  EXPECT_FALSE(parse("0x00").ok());
  EXPECT_FALSE(parse("ab cd ").ok());
}

TEST(ObjectKeyTest, ModelNameRules) {
  const auto at = parse("00", "a@b");
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.error.field, "model_name");
  EXPECT_TRUE(parse("00", "").ok());  // documented decision: empty model name is accepted
}

TEST(ObjectKeyTest, IntegerRanges) {
  EXPECT_TRUE(parse("00", "m", std::numeric_limits<int32_t>::min()).ok());
  EXPECT_TRUE(parse("00", "m", std::numeric_limits<int32_t>::max()).ok());
  // Upstream's packed ranks reach above INT32_MAX (world size >= 128): up to UINT32_MAX.
  EXPECT_TRUE(parse("00", "m", int64_t{1} << 31).ok());
  EXPECT_TRUE(parse("00", "m", std::numeric_limits<uint32_t>::max()).ok());
  const auto big = parse("00", "m", int64_t{1} << 32);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error.field, "kv_rank");
  EXPECT_NE(big.error.message.find("4294967296"), std::string::npos);
  EXPECT_FALSE(parse("00", "m", -(int64_t{1} << 31) - 1).ok());
  EXPECT_TRUE(parse("00", "m", -1).ok());  // negative ranks are ints like any other

  EXPECT_TRUE(parse("00", "m", 0, std::numeric_limits<uint32_t>::max()).ok());
  const auto negative = parse("00", "m", 0, -1);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error.field, "object_group_id");
  EXPECT_FALSE(parse("00", "m", 0, int64_t{1} << 32).ok());
}

TEST(ObjectKeyTest, CacheSaltRules) {
  EXPECT_TRUE(parse("00", "m", 0, 0, std::string(128, 's')).ok());
  const auto long_salt = parse("00", "m", 0, 0, std::string(129, 's'));
  ASSERT_FALSE(long_salt.ok());
  EXPECT_EQ(long_salt.error.field, "cache_salt");
  EXPECT_NE(long_salt.error.message.find("129"), std::string::npos);
  // Characters, not bytes: 128 two-byte characters are fine.
  std::string accented;
  for (int i = 0; i < 128; ++i) accented += "\xc3\xa9";
  EXPECT_TRUE(parse("00", "m", 0, 0, accented).ok());
  EXPECT_FALSE(parse("00", "m", 0, 0, accented + "x").ok());

  for (const std::string& bad :
       {std::string("a@b"), std::string("a/b"), std::string("a\\b"), std::string("a\0b", 3)}) {
    const auto r = parse("00", "m", 0, 0, bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error.field, "cache_salt");
  }
  EXPECT_NE(parse("00", "m", 0, 0, std::string("a\0b", 3)).error.message.find("NUL"),
            std::string::npos);
}

TEST(ObjectKeyTest, KeysDifferingInAnyFieldDiffer) {
  const ObjectKey base = *parse("0011", "m", 1, 2, "s").key;
  EXPECT_NE(base, *parse("0012", "m", 1, 2, "s").key);
  EXPECT_NE(base, *parse("0011", "n", 1, 2, "s").key);
  EXPECT_NE(base, *parse("0011", "m", 0, 2, "s").key);
  EXPECT_NE(base, *parse("0011", "m", 1, 3, "s").key);
  EXPECT_NE(base, *parse("0011", "m", 1, 2, "t").key);
  EXPECT_NE(base, *parse("001100", "m", 1, 2, "s").key);  // a prefix is another hash
}

TEST(ObjectKeyTest, FormatsForLogs) {
  const ObjectKey key = *parse("0A0b", "llama", 2, 1, "t1").key;
  EXPECT_EQ(key.to_string(), "llama@2@0a0b@1@t1");
  EXPECT_EQ(encode_hex(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
  EXPECT_EQ(decode_hex("007F80ff"), std::string("\x00\x7f\x80\xff", 4));
  EXPECT_FALSE(decode_hex("0"));
}

// The value of a hex digit, or -1: the reference decode_hex_into is checked against.
int reference_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> reference_decode(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = reference_digit(hex[i]);
    const int low = reference_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

TEST(ObjectKeyTest, DecodesHexOfEveryLengthAndRefusesEveryOtherByteAnywhere) {
  // Lengths below, at and past the 32-digit blocks of the vectorised path, in mixed case.
  const std::string digits = "0123456789abcdefABCDEF";
  std::string hex;
  for (size_t size = 0; size <= 100; ++size) {
    EXPECT_EQ(decode_hex(hex), reference_decode(hex)) << hex;
    hex += digits[(size * 7 + 3) % digits.size()];
  }
  // Every byte value at every position of a 64-digit hash and of a 34-digit one (a block and a
  // scalar tail).
  for (const size_t size : {size_t{64}, size_t{34}}) {
    const std::string good = hex.substr(0, size);
    for (size_t at = 0; at < size; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text = good;
        text[at] = static_cast<char>(byte);
        ASSERT_EQ(decode_hex(text), reference_decode(text)) << "byte " << byte << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace lmcache::core
