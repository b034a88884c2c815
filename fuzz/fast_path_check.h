// The checks the event fuzz targets (fuzz_l2_events, fuzz_cache_events) share: the fast path
// of a decoder against its tree decoder, and the length of the body's list.
#pragma once

#include <boost/json/parse.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

#include "fuzz_support.h"
#include "http/request_validation.h"

namespace lmcache::fuzz {

// The number of items of the root object's list `field`, when the body has one.
inline std::optional<size_t> wire_list_size(std::string_view body, std::string_view field) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const boost::json::value* list = value.get_object().if_contains(field);
  if (list == nullptr || !list->is_array()) return std::nullopt;
  return list->get_array().size();
}

// When the fast path takes `body` into an Output, the tree decoder must take it too, neither
// may reject anything, and both must have decoded the same values. `fast(body, out)` is the
// fast path, `tree(body, errors)` the tree decoder (an optional Output) and `values_of(out)`
// what is compared.
template <typename Output, typename Fast, typename Tree, typename ValuesOf>
void check_fast_path(std::string_view body, Fast&& fast, Tree&& tree, ValuesOf&& values_of) {
  Output fast_out;
  if (!fast(body, fast_out)) return;
  http::ValidationErrors errors;
  const auto tree_out = tree(body, errors);
  require(tree_out.has_value(), "the fast path took a body the tree decoder fails");
  require(tree_out->rejected.empty(),
          "the fast path took a body the tree decoder rejects parts of");
  require(fast_out.rejected.empty(), "the fast path rejected a part");
  require(values_of(fast_out) == values_of(*tree_out), "the fast path decoded other values");
}

}  // namespace lmcache::fuzz
