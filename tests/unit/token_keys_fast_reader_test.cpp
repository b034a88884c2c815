// The fast reader of token keys bodies against the tree path it stands in for: on plainly valid
// bodies (random field order, white space, omitted defaults) both read the same fields; on
// everything else the fast reader declines, and whatever it accepts out of mutated bodies the
// tree path accepts the same way.
#include "http/token_keys_fast_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "http/request_validation.h"
#include "http/token_keys_request.h"

namespace lmcache::http {
namespace {

const TokenKeysRules kLookup{1, false};
const TokenKeysRules kStrict{std::nullopt, true};

std::optional<TokenKeysRequest> tree_read(std::string_view body, const TokenKeysRules& rules) {
  ValidationErrors errors;
  auto value = parse_json_body(body, errors);
  const auto* object = value ? body_object(*value, errors) : nullptr;
  if (object == nullptr) return std::nullopt;
  FieldReader fields(*object, boost::json::array{"body"}, errors);
  std::optional<HttpResponse> too_many;
  auto out = read_token_keys_request(fields, rules, too_many);
  if (too_many || !errors.empty()) return std::nullopt;
  return out;
}

void expect_same(const TokenKeysRequest& a, const TokenKeysRequest& b, std::string_view body) {
  EXPECT_EQ(a.model_name, b.model_name) << body;
  EXPECT_EQ(a.world_size, b.world_size) << body;
  EXPECT_EQ(a.cache_salt, b.cache_salt) << body;
  EXPECT_EQ(a.token_ids, b.token_ids) << body;
}

TEST(TokenKeysFastReaderTest, ReadsThePlainLookupBody) {
  const auto read = read_token_keys_fast(
      R"({"model_name":"meta-llama/Llama-3.1-8B","world_size":8,"cache_salt":"tenant-0",)"
      R"("token_ids":[0,1,128255,4294967295]})",
      kLookup);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->model_name, "meta-llama/Llama-3.1-8B");
  EXPECT_EQ(read->world_size, 8);
  EXPECT_EQ(read->cache_salt, "tenant-0");
  EXPECT_EQ(read->token_ids, (std::vector<uint32_t>{0, 1, 128255, 4294967295u}));
}

TEST(TokenKeysFastReaderTest, AppliesDefaultsAndRules) {
  const auto read =
      read_token_keys_fast(R"( { "token_ids" : [ ] , "model_name" : "m" } )", kLookup);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->world_size, 1);
  EXPECT_EQ(read->cache_salt, "");
  EXPECT_TRUE(read->token_ids.empty());
  // The strict rules want world_size and a token: the tree path reports what is missing.
  EXPECT_FALSE(read_token_keys_fast(R"({"model_name":"m","token_ids":[1]})", kStrict));
  EXPECT_FALSE(
      read_token_keys_fast(R"({"model_name":"m","world_size":2,"token_ids":[]})", kStrict));
  EXPECT_TRUE(
      read_token_keys_fast(R"({"model_name":"m","world_size":2,"token_ids":[5]})", kStrict));
}

TEST(TokenKeysFastReaderTest, DeclinesEverythingButPlainValidBodies) {
  const char* declined[] = {
      "",
      "[]",
      "{}",
      R"({"model_name":"m"})",                                     // no token_ids
      R"({"token_ids":[1]})",                                      // no model_name
      R"({"model_name":"m","token_ids":[1],"keys":[]})",           // another member
      R"({"model_name":"m","token_ids":[1],"extra":1})",           // ignored by the tree path
      R"({"model_name":"m","model_name":"n","token_ids":[1]})",    // twice
      R"({"model_name":"m\u0041","token_ids":[1]})",               // an escape
      "{\"model_name\":\"caf\xC3\xA9\",\"token_ids\":[1]}",        // not ASCII
      R"({"model_name":"m@x","token_ids":[1]})",                   // check_model_name
      R"({"model_name":"m","cache_salt":"a/b","token_ids":[1]})",  // check_cache_salt
      R"({"model_name":null,"token_ids":[1]})",
      R"({"model_name":"m","token_ids":null})",
      R"({"model_name":"m","world_size":0,"token_ids":[1]})",
      R"({"model_name":"m","world_size":256,"token_ids":[1]})",
      R"({"model_name":"m","world_size":"8","token_ids":[1]})",
      R"({"model_name":"m","world_size":8.0,"token_ids":[1]})",
      R"({"model_name":"m","token_ids":[4294967296]})",
      R"({"model_name":"m","token_ids":[99999999999]})",
      R"({"model_name":"m","token_ids":[-1]})",
      R"({"model_name":"m","token_ids":[01]})",
      R"({"model_name":"m","token_ids":[1.0]})",
      R"({"model_name":"m","token_ids":[1e3]})",
      R"({"model_name":"m","token_ids":[1,]})",
      R"({"model_name":"m","token_ids":[1 2]})",
      R"({"model_name":"m","token_ids":[1],})",
      R"({"model_name":"m","token_ids":[1]} x)",
      R"({"model_name":"m","token_ids":[1])",
      "{\"model_name\":\"m\",\"token_ids\":[1]}\v",  // not JSON white space
  };
  for (const char* body : declined) {
    EXPECT_FALSE(read_token_keys_fast(body, kLookup)) << body;
  }
}

TEST(TokenKeysFastReaderTest, DeclinesMoreTokensThanAllowed) {
  std::string body = R"({"model_name":"m","token_ids":[)";
  for (size_t i = 0; i <= kMaxRequestTokens; ++i) body += i == 0 ? "7" : ",7";
  EXPECT_FALSE(read_token_keys_fast(body + "]}", kLookup));  // the tree path answers 400
  body.resize(body.size() - 2);                              // exactly the maximum
  EXPECT_TRUE(read_token_keys_fast(body + "]}", kLookup));
}

std::string random_space(std::mt19937& rng) {
  static const char* kSpaces[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
  return kSpaces[rng() % 7];
}

// A valid body: the members in a random order, defaults sometimes omitted, random white space
// (in the token list only when not `dense`: a list of digits and commas takes another path).
std::string random_body(std::mt19937& rng, size_t max_tokens, bool dense) {
  std::vector<std::string> members;
  members.push_back("\"model_name\":" + random_space(rng) + "\"model-" + std::to_string(rng() % 5) +
                    "/x y\"");
  if (rng() % 2 != 0) members.push_back("\"world_size\":" + std::to_string(1 + rng() % 255));
  if (rng() % 2 != 0) members.push_back("\"cache_salt\":\"s" + std::to_string(rng() % 9) + "\"");
  std::string tokens = "\"token_ids\":" + random_space(rng) + "[";
  const size_t count = rng() % max_tokens;
  for (size_t i = 0; i < count; ++i) {
    if (i != 0) tokens += dense ? "," : random_space(rng) + "," + random_space(rng);
    const uint32_t kind = rng() % 4;
    const uint64_t token = kind == 0 ? rng() % 10 : kind == 1 ? 4294967295u - rng() % 3 : rng();
    tokens += std::to_string(token);
  }
  members.push_back(tokens + random_space(rng) + "]");
  std::shuffle(members.begin(), members.end(), rng);
  std::string body = random_space(rng) + "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i != 0) body += random_space(rng) + ",";
    body += random_space(rng) + members[i];
  }
  return body + random_space(rng) + "}" + random_space(rng);
}

TEST(TokenKeysFastReaderTest, ReadsRandomValidBodiesAsTheTreePathDoes) {
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    const std::string body = random_body(rng, round % 3 == 0 ? 3000 : 600, round % 2 == 0);
    const auto fast = read_token_keys_fast(body, kLookup);
    const auto tree = tree_read(body, kLookup);
    ASSERT_TRUE(tree.has_value()) << body;
    ASSERT_TRUE(fast.has_value()) << body;
    expect_same(*fast, *tree, body);
  }
}

TEST(TokenKeysFastReaderTest, WhatItAcceptsOfMutatedBodiesTheTreePathReadsTheSame) {
  std::mt19937 rng(12);
  static const char kBytes[] = "{}[],:\" -+.0123456789eE\\nul@/x\x80";
  size_t accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = random_body(rng, 40, round % 2 == 0);
    if (rng() % 4 == 0) body.resize(rng() % body.size());  // cut short
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % (body.size() + 1);
      switch (rng() % 3) {
        case 0:
          body.insert(at, 1, kBytes[rng() % (sizeof(kBytes) - 1)]);
          break;
        case 1:
          if (at < body.size()) body.erase(at, 1);
          break;
        default:
          if (at < body.size()) body[at] = kBytes[rng() % (sizeof(kBytes) - 1)];
      }
    }
    for (const TokenKeysRules& rules : {kLookup, kStrict}) {
      const auto fast = read_token_keys_fast(body, rules);
      if (!fast) continue;
      ++accepted;
      const auto tree = tree_read(body, rules);
      ASSERT_TRUE(tree.has_value()) << body;
      expect_same(*fast, *tree, body);
    }
  }
  EXPECT_GT(accepted, 100u);  // the property was exercised
}

}  // namespace
}  // namespace lmcache::http
