// The differential check of a one-pass (fast path) decoder against its tree decoder, shared by
// the tests of l2_event_fast_decoder and cache_event_fast_decoder.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "http/request_validation.h"

namespace lmcache::testing {

// The three decoders of one request body and a plain-text form of their output, so two decodes
// can be compared and printed. `Decoders` provides:
//   using Output = ...;  (the decoded request, with a `rejected` list)
//   static bool fast(std::string_view body, Output& out);
//   static std::optional<Output> tree(std::string_view body, http::ValidationErrors& errors);
//   static std::optional<Output> combined(std::string_view body, http::ValidationErrors& errors);
//   static std::string describe(const Output& out);
//
// Decodes `body` all three ways; returns whether the fast path took it, and checks that when it
// did it produced what the tree decoder produces, with nothing rejected, and that the combined
// decoder (fast path first) always agrees with the tree decoder, errors included.
template <typename Decoders>
bool fast_path_agrees(const std::string& body) {
  http::ValidationErrors tree_errors;
  const auto tree = Decoders::tree(body, tree_errors);
  typename Decoders::Output fast;
  const bool took = Decoders::fast(body, fast);
  if (took) {
    EXPECT_TRUE(tree.has_value()) << body;
    if (tree.has_value()) {
      EXPECT_EQ(Decoders::describe(fast), Decoders::describe(*tree)) << body;
      EXPECT_TRUE(tree->rejected.empty()) << body;
    }
  }
  http::ValidationErrors errors;
  const auto combined = Decoders::combined(body, errors);
  EXPECT_EQ(combined.has_value(), tree.has_value()) << body;
  if (combined && tree) {
    EXPECT_EQ(Decoders::describe(*combined), Decoders::describe(*tree)) << body;
  }
  EXPECT_EQ(errors.to_response().body(), tree_errors.to_response().body()) << body;
  return took;
}

}  // namespace lmcache::testing
