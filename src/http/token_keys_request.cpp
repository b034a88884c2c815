#include "http/token_keys_request.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <limits>
#include <utility>

#include "http/json_response.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// Adds a `value_error` at `loc` when `problem` is set.
void check_field(const std::optional<std::string>& problem, json::array loc,
                 const std::string& value, ValidationErrors& errors) {
  if (problem) {
    errors.add("value_error", std::move(loc), "Value error, " + *problem, json::string(value));
  }
}

}  // namespace

std::optional<TokenKeysRequest> read_token_keys_request(FieldReader& fields,
                                                        const TokenKeysRules& rules,
                                                        std::optional<HttpResponse>& too_many) {
  ValidationErrors& errors = fields.errors();
  auto model = fields.string("model_name");
  auto world_size = fields.integer("world_size", rules.default_world_size, 1, core::kMaxWorldSize);
  auto salt = fields.string("cache_salt", "");
  if (model) check_field(core::check_model_name(*model), fields.loc("model_name"), *model, errors);
  if (salt) check_field(core::check_cache_salt(*salt), fields.loc("cache_salt"), *salt, errors);

  TokenKeysRequest out;
  bool tokens_ok = false;
  if (const json::array* tokens = fields.array("token_ids", true)) {
    if (tokens->size() > kMaxRequestTokens) {
      too_many =
          detail_response(beast_http::status::bad_request,
                          "token_ids has " + std::to_string(tokens->size()) + " tokens; at most " +
                              std::to_string(kMaxRequestTokens) + " are allowed");
      return std::nullopt;
    }
    if (rules.non_empty_tokens && tokens->empty()) {
      errors.add("too_short", fields.loc("token_ids"),
                 "List should have at least 1 item after validation, not 0", *tokens,
                 json::object{{"field_type", "List"}, {"min_length", 1}, {"actual_length", 0}});
    }
    tokens_ok = true;
    out.token_ids.reserve(tokens->size());
    constexpr int64_t kMaxToken = std::numeric_limits<uint32_t>::max();
    for (size_t i = 0; i < tokens->size(); ++i) {
      // A JSON integer in range, the common case, without building the error location.
      const json::value& value = (*tokens)[i];
      if (value.is_int64() && value.get_int64() >= 0 && value.get_int64() <= kMaxToken) {
        out.token_ids.push_back(static_cast<uint32_t>(value.get_int64()));
        continue;
      }
      if (value.is_uint64() && value.get_uint64() <= static_cast<uint64_t>(kMaxToken)) {
        out.token_ids.push_back(static_cast<uint32_t>(value.get_uint64()));
        continue;
      }
      json::array loc = fields.loc("token_ids");
      loc.emplace_back(i);
      const auto token = read_integer(value, loc, errors, 0, kMaxToken);
      if (token) out.token_ids.push_back(static_cast<uint32_t>(*token));
    }
  }
  if (!errors.empty() || !model || !world_size || !salt || !tokens_ok) return std::nullopt;
  out.model_name = std::move(*model);
  out.world_size = *world_size;
  out.cache_salt = std::move(*salt);
  return out;
}

ResolvedKeys resolve_object_keys(const core::TokenChainHasher& hasher,
                                 const TokenKeysRequest& request) {
  const std::vector<core::ChunkHash> hashes = hasher.chunk_hashes(request.token_ids);
  ResolvedKeys out;
  out.chunks = hashes.size();
  // The world size was validated, so the expansion exists.
  out.keys =
      core::expand_object_keys(hashes, request.model_name, request.world_size, request.cache_salt)
          .value_or(std::vector<core::ObjectKey>{});
  return out;
}

}  // namespace lmcache::http
