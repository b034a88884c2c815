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

}  // namespace lmcache::testing
