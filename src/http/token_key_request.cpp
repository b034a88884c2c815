#include "http/token_key_request.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <limits>
#include <utility>

#include "http/json_response.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// Adds a `value_error` at `loc` when `problem` is set.
void check_field(std::optional<std::string> problem, json::array loc, const std::string& value,
                 ValidationErrors& errors) {
  if (problem) {
    errors.add("value_error", std::move(loc), "Value error, " + *problem, json::string(value));
  }
}

}  // namespace

std::optional<HttpResponse> read_token_key_request(FieldReader& fields,
                                                   std::optional<int64_t> default_world_size,
                                                   TokenKeyRequest& out) {
  ValidationErrors& errors = fields.errors();
  auto model = fields.string("model_name");
  auto world_size = fields.integer("world_size", default_world_size, 1, core::kMaxWorldSize);
  auto salt = fields.string("cache_salt", "");
  if (model) check_field(core::check_model_name(*model), fields.loc("model_name"), *model, errors);
  if (salt) check_field(core::check_cache_salt(*salt), fields.loc("cache_salt"), *salt, errors);

  if (const json::array* tokens = fields.array("token_ids", true)) {
    if (tokens->size() > kMaxRequestTokens) {
      return detail_response(beast_http::status::bad_request,
                             "token_ids has " + std::to_string(tokens->size()) +
                                 " tokens; at most " + std::to_string(kMaxRequestTokens) +
                                 " are allowed");
    }
    out.token_ids.reserve(tokens->size());
    for (size_t i = 0; i < tokens->size(); ++i) {
      json::array loc = fields.loc("token_ids");
      loc.emplace_back(i);
      const auto token =
          read_integer((*tokens)[i], loc, errors, 0, int64_t{std::numeric_limits<uint32_t>::max()});
      if (token) out.token_ids.push_back(static_cast<uint32_t>(*token));
    }
  }
  if (model) out.model_name = std::move(*model);
  if (world_size) out.world_size = *world_size;
  if (salt) out.cache_salt = std::move(*salt);
  return std::nullopt;
}

ResolvedKeys resolve_token_keys(const core::TokenChainHasher& hasher,
                                const TokenKeyRequest& request) {
  ResolvedKeys out;
  out.hashes = hasher.chunk_hashes(request.token_ids);
  // The world size was checked when the request was read, so the expansion exists.
  out.keys = *core::expand_object_keys(out.hashes, request.model_name, request.world_size,
                                       request.cache_salt);
  return out;
}

}  // namespace lmcache::http
