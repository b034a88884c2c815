// The differential check of a one-pass (fast path) decoder against its tree decoder, shared by
// the tests of l2_event_fast_decoder and cache_event_fast_decoder.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "http/request_validation.h"

namespace lmcache::testing {

// Decodes `body` three ways: `fast` (the fast path, false when it leaves the body to the tree
// decoder), `tree` (the tree decoder) and `combined` (fast path first, as the routes decode);
// `describe` renders an Output as plain text, so two decodes can be compared and printed.
// Returns whether the fast path took the body, and checks that when it did it produced what the
// tree decoder produces, with nothing rejected, and that the combined decoder always agrees with
// the tree decoder, errors included.
template <typename Output, typename Tree, typename Combined, typename Describe>
bool fast_path_agrees(const std::string& body, bool (*fast)(std::string_view, Output&), Tree tree,
                      Combined combined, Describe describe) {
  http::ValidationErrors tree_errors;
  const std::optional<Output> tree_out = tree(body, tree_errors);
  Output fast_out;
  const bool took = fast(body, fast_out);
  if (took) {
    EXPECT_TRUE(tree_out.has_value()) << body;
    if (tree_out.has_value()) {
      EXPECT_EQ(describe(fast_out), describe(*tree_out)) << body;
      EXPECT_TRUE(tree_out->rejected.empty()) << body;
    }
  }
  http::ValidationErrors errors;
  const std::optional<Output> combined_out = combined(body, errors);
  EXPECT_EQ(combined_out.has_value(), tree_out.has_value()) << body;
  if (combined_out && tree_out) {
    EXPECT_EQ(describe(*combined_out), describe(*tree_out)) << body;
  }
  EXPECT_EQ(errors.to_response().body(), tree_errors.to_response().body()) << body;
  return took;
}

// A key object whose strings are escaped and longer than basic_parser's internal buffer, so
// they reach the handler in several parts, with what they decode to.
struct LongKey {
  std::string json;        // the key object
  std::string model_name;  // its model_name, unescaped
  std::string chunk_hash;  // its chunk hash bytes
};
inline LongKey long_key() {
  LongKey key;
  std::string model_json;
  for (int i = 0; i < 3000; ++i) {
    key.model_name += "a/";
    model_json += "a\\/";
  }
  key.chunk_hash = std::string(10000, '\xbb');
  key.json = R"({"chunk_hash_hex":")" + std::string(20000, 'b') + R"(","model_name":")" +
             model_json + R"(","kv_rank":0,"cache_s\u0061lt":"t"})";
  return key;
}

// An escaped text longer than basic_parser's internal buffer (it arrives in parts), for a name
// or string cut off by an invalid escape after it.
inline std::string long_escaped_text() {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "\\/";
  return text;
}

}  // namespace lmcache::testing
