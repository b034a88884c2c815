// Fuzzes the fast reader of token keys bodies (http/token_keys_fast_reader.h) against the tree
// path it stands in for: whatever body the fast reader accepts, read_token_keys_request over the
// parsed tree must accept too, with the same model_name, world_size, token_ids and cache_salt.
// Both rule sets of the routes are tried (lookup: world_size defaults to 1, tokens may be empty;
// the others: world_size required, tokens non-empty). Bodies it refuses go to the tree path,
// which the router target fuzzes.

#include <boost/json/array.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_support.h"
#include "http/request_validation.h"
#include "http/token_keys_fast_reader.h"
#include "http/token_keys_request.h"

namespace {

using namespace lmcache;
using fuzz::require;

std::optional<http::TokenKeysRequest> tree_read(std::string_view body,
                                                const http::TokenKeysRules& rules) {
  http::ValidationErrors errors;
  auto value = http::parse_json_body(body, errors);
  const auto* object = value ? http::body_object(*value, errors) : nullptr;
  if (object == nullptr) return std::nullopt;
  http::FieldReader fields(*object, boost::json::array{"body"}, errors);
  std::optional<http::HttpResponse> too_many;
  auto out = http::read_token_keys_request(fields, rules, too_many);
  if (too_many || !errors.empty()) return std::nullopt;
  return out;
}

void check(std::string_view body, const http::TokenKeysRules& rules) {
  const auto fast = http::read_token_keys_fast(body, rules);
  if (!fast) return;
  const auto tree = tree_read(body, rules);
  require(tree.has_value(), "the fast reader accepted a body the tree path refuses");
  require(fast->model_name == tree->model_name, "model_name differs");
  require(fast->world_size == tree->world_size, "world_size differs");
  require(fast->cache_salt == tree->cache_salt, "cache_salt differs");
  require(fast->token_ids == tree->token_ids, "token_ids differ");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(body, http::TokenKeysRules{1, false});
  check(body, http::TokenKeysRules{std::nullopt, true});
  return 0;
}
