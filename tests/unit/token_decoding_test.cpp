#include "http/token_decoding.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstring>

#include "base64_encode.h"

namespace lmcache::http {
namespace {
namespace json = boost::json;

std::optional<std::string> decode(std::string_view text) {
  std::string error;
  auto size = base64_decoded_size(text, error);
  if (!size) return std::nullopt;
  std::string out(*size, '\0');
  if (!base64_decode(text, reinterpret_cast<unsigned char*>(out.data()), error)) {
    return std::nullopt;
  }
  return out;
}

TEST(TokenDecodingTest, Base64KnownVectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("Zg=="), "f");
  EXPECT_EQ(decode("Zm8="), "fo");
  EXPECT_EQ(decode("Zm9v"), "foo");
  EXPECT_EQ(decode("Zm9vYg=="), "foob");
  EXPECT_EQ(decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode("+/+/"), "\xfb\xff\xbf");
}

TEST(TokenDecodingTest, Base64RoundTripsAllByteValues) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t len = 0; len <= bytes.size(); len += 37) {
    const std::string part = bytes.substr(0, len);
    EXPECT_EQ(decode(testing::base64_encode(part.data(), part.size())), part) << len;
  }
}

TEST(TokenDecodingTest, Base64RejectsMalformedInput) {
  for (const char* bad : {"Zg=", "Zm9", "Z", "Zg===", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v",
                          "Z===", "====", "Zg==Zm9v", "Z=g=", "Zm=v", "Zm9v====", "Zm9\xc3\xa9"}) {
    EXPECT_EQ(decode(bad), std::nullopt) << bad;
  }
}

TEST(TokenDecodingTest, Base64ErrorsSayWhy) {
  std::string error;
  EXPECT_EQ(decode_base64_tokens<uint32_t>("Zm9", error), std::nullopt);
  EXPECT_NE(error.find("multiple of 4"), std::string::npos) << error;
  EXPECT_EQ(decode_base64_tokens<uint32_t>("Zm!v", error), std::nullopt);
  EXPECT_NE(error.find("'!' at offset 2"), std::string::npos) << error;
  EXPECT_EQ(decode_base64_tokens<uint32_t>("Zm9v", error), std::nullopt);  // 3 bytes
  EXPECT_NE(error.find("3 bytes"), std::string::npos) << error;
}

TEST(TokenDecodingTest, TokensAreLittleEndian) {
  const uint32_t narrow[] = {0, 1, 0x01020304u, 0xFFFFFFFFu};
  std::string error;
  const auto u32 =
      decode_base64_tokens<uint32_t>(testing::base64_encode(narrow, sizeof narrow), error);
  ASSERT_TRUE(u32) << error;
  EXPECT_EQ(*u32, std::vector<uint32_t>(std::begin(narrow), std::end(narrow)));

  const unsigned char bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto u64 =
      decode_base64_tokens<uint64_t>(testing::base64_encode(bytes, sizeof bytes), error);
  ASSERT_TRUE(u64) << error;
  EXPECT_EQ(*u64, std::vector<uint64_t>{0x0807060504030201ull});

  // 12 bytes: three uint32 tokens but not a whole number of uint64 tokens.
  const uint32_t three[] = {7, 8, 9};
  EXPECT_EQ(
      decode_base64_tokens<uint32_t>(testing::base64_encode(three, sizeof three), error)->size(),
      3U);
  EXPECT_EQ(decode_base64_tokens<uint64_t>(testing::base64_encode(three, sizeof three), error),
            std::nullopt);
}

TEST(TokenDecodingTest, TokenListAcceptsLaxIntegersAndReportsEachBadItem) {
  ValidationErrors errors;
  auto tokens = read_token_list(json::parse(R"([0, 5, 18446744073709551615, "7", 3.0])"),
                                json::array{"body", "tokens"}, errors);
  ASSERT_TRUE(tokens);
  EXPECT_EQ(*tokens, (std::vector<uint64_t>{0, 5, 18446744073709551615ull, 7, 3}));
  EXPECT_TRUE(errors.empty());

  auto bad = read_token_list(json::parse(R"([1, -1, 2.5, "x", null])"),
                             json::array{"body", "tokens"}, errors);
  EXPECT_FALSE(bad);
  const auto detail = json::parse(errors.to_response().body()).at("detail").as_array();
  ASSERT_EQ(detail.size(), 4U);
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","tokens",1])"));
  EXPECT_EQ(detail[0].at("type"), "greater_than_equal");
  EXPECT_EQ(detail[1].at("type"), "int_from_float");
  EXPECT_EQ(detail[2].at("type"), "int_parsing");
  EXPECT_EQ(detail[3].at("type"), "int_type");
}

TEST(TokenDecodingTest, RequestTokensAtMostOneField) {
  const uint32_t ids[] = {1, 2, 3};
  const std::string b64 = testing::base64_encode(ids, sizeof ids);
  const json::array loc{"body"};
  {
    ValidationErrors errors;
    auto tokens = read_request_tokens(json::object{{"tokens_b64", b64}}, loc, errors);
    ASSERT_TRUE(tokens);
    EXPECT_EQ(std::get<std::vector<uint32_t>>(*tokens), (std::vector<uint32_t>{1, 2, 3}));
  }
  {
    ValidationErrors errors;
    auto tokens = read_request_tokens(json::object{{"model_scope", "m"}}, loc, errors);
    ASSERT_TRUE(tokens);
    EXPECT_TRUE(std::get<std::vector<uint32_t>>(*tokens).empty());
  }
  {
    ValidationErrors errors;  // null counts as absent
    auto tokens =
        read_request_tokens(json::object{{"tokens_b64", b64}, {"tokens", nullptr}}, loc, errors);
    ASSERT_TRUE(tokens);
  }
  {
    ValidationErrors errors;
    auto tokens = read_request_tokens(json::object{{"tokens_b64", b64}, {"tokens", json::array{1}}},
                                      loc, errors);
    EXPECT_FALSE(tokens);
    const auto detail = json::parse(errors.to_response().body()).at("detail");
    EXPECT_EQ(detail.at(0).at("loc"), json::parse(R"(["body"])"));
    EXPECT_EQ(detail.at(0).at("type"), "value_error");
  }
  {
    ValidationErrors errors;
    auto tokens = read_request_tokens(json::object{{"tokens_u64_b64", 5}}, loc, errors);
    EXPECT_FALSE(tokens);
    const auto detail = json::parse(errors.to_response().body()).at("detail");
    EXPECT_EQ(detail.at(0).at("loc"), json::parse(R"(["body","tokens_u64_b64"])"));
    EXPECT_EQ(detail.at(0).at("type"), "string_type");
  }
}

}  // namespace
}  // namespace lmcache::http
