#include "http/directory_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "http/directory_lookup_answer.h"
#include "http/json_response.h"
#include "http/query_params.h"
#include "http/request_validation.h"
#include "http/token_keys_fast_reader.h"
#include "http/token_keys_request.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

constexpr int64_t kMaxPageLimit = 10'000;

// A present, non-null field.
bool given(const json::object& body, std::string_view name) {
  const json::value* value = body.if_contains(name);
  return value != nullptr && !value->is_null();
}

// The keys form: every key decoded, or the 400 naming the first bad one.
std::variant<std::vector<core::ObjectKey>, HttpResponse> decode_keys(const json::array& keys) {
  std::vector<core::ObjectKey> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    core::ObjectKeyResult key = wire::decode_object_key(keys[i]);
    if (!key.ok()) {
      return detail_response(status::bad_request,
                             "keys[" + std::to_string(i) + "]: " + key.error.message);
    }
    out.push_back(std::move(*key.key));
  }
  return out;
}

// `/directory/lookup` takes the default world size 1 and an empty token list.
const TokenKeysRules kLookupRules{1, false};

// A 200 whose body is JSON text already.
HttpResponse json_text_response(std::string text) {
  HttpResponse response{status::ok, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = std::move(text);
  response.prepare_payload();
  return response;
}

HttpResponse lookup(const core::L2Accounting& l2, const core::TokenChainHasher& hasher,
                    const RouteRequest& request) {
  // The common request, a plainly valid tokens form, is read without a JSON tree; every other
  // body goes through the tree, which also reports every error.
  std::optional<TokenKeysRequest> tokens =
      read_token_keys_fast(request.message.body(), kLookupRules);
  std::vector<core::ObjectKey> listed_keys;  // the keys form
  if (!tokens) {
    ValidationErrors errors;
    auto body = parse_json_body(request.message.body(), errors);
    const json::object* object = body ? body_object(*body, errors) : nullptr;
    if (object == nullptr) return errors.to_response();
    if (given(*object, "keys") == given(*object, "token_ids")) {
      errors.add("value_error", json::array{"body"},
                 "Value error, give exactly one of 'keys' or 'token_ids'", *object);
      return errors.to_response();
    }
    FieldReader fields(*object, json::array{"body"}, errors);
    if (given(*object, "keys")) {
      const json::array* listed = fields.array("keys", true);
      if (listed == nullptr) return errors.to_response();
      auto decoded = decode_keys(*listed);
      if (auto* refused = std::get_if<HttpResponse>(&decoded)) return std::move(*refused);
      listed_keys = std::move(std::get<std::vector<core::ObjectKey>>(decoded));
    } else {
      std::optional<HttpResponse> too_many;
      tokens = read_token_keys_request(fields, kLookupRules, too_many);
      if (too_many) return std::move(*too_many);
      if (!tokens || !errors.empty()) return errors.to_response();
    }
  }

  std::vector<core::ChunkHash> hashes;
  std::vector<core::ObjectKeyView> keys;
  size_t chunks = 0;
  if (tokens) {
    hashes = hasher.chunk_hashes(tokens->token_ids);
    chunks = hashes.size();
    keys.reserve(chunks * static_cast<size_t>(tokens->world_size));
    // The world size was validated, so the expansion exists.
    core::for_each_object_key(hashes, tokens->model_name, tokens->world_size, tokens->cache_salt,
                              [&keys](const core::ObjectKeyView& key) { keys.push_back(key); });
  } else {
    keys.assign(listed_keys.begin(), listed_keys.end());
    chunks = keys.size();
  }
  return json_text_response(lookup_answer_text(chunks, keys, l2.lookup(keys)));
}

// An integer query parameter within [min, max], `fallback` when absent.
std::optional<int64_t> query_integer(const RouteRequest& request, std::string_view name,
                                     int64_t fallback, int64_t min, int64_t max,
                                     ValidationErrors& errors) {
  const auto text = query_param(request.message, name);
  if (!text) return fallback;
  return read_integer(json::string(*text), json::array{"query", name}, errors, min, max);
}

HttpResponse list_keys(const core::L2Accounting& l2, const RouteRequest& request) {
  ValidationErrors errors;
  core::PlacementFilter filter;
  const auto tier = query_param(request.message, "tier");
  if (tier && *tier == "l1") {
    filter.tier = core::CacheTier::kL1;
  } else if (tier && *tier == "l2") {
    filter.tier = core::CacheTier::kL2;
  } else if (tier && *tier != "all") {
    errors.add("enum", json::array{"query", "tier"}, "Input should be 'l1', 'l2' or 'all'",
               json::string(*tier), json::object{{"expected", "'l1', 'l2' or 'all'"}});
  }
  const auto offset = query_integer(request, "offset", 0, 0, INT64_MAX, errors);
  const auto limit = query_integer(request, "limit", 1000, 1, kMaxPageLimit, errors);
  if (!errors.empty()) return errors.to_response();
  const std::string instance_id = query_param(request.message, "instance_id").value_or("");
  const std::string backend = query_param(request.message, "backend").value_or("");
  filter.instance_id = instance_id;
  filter.backend = backend;

  auto [total, page] =
      l2.list_keys(filter, static_cast<uint64_t>(*offset), static_cast<uint64_t>(*limit));
  const std::vector<size_t> tokens = l2.token_counts(page);
  json::array keys;
  keys.reserve(page.size());
  for (size_t i = 0; i < page.size(); ++i) {
    keys.push_back(json::object{{"key", wire::encode_object_key(page[i].key)},
                                {"placements", placements_json(page[i].placements)},
                                {"num_tokens", tokens[i]}});
  }
  return json_response(status::ok, json::object{{"total", total}, {"keys", std::move(keys)}});
}

HttpResponse stats(const core::L2Accounting& l2, const core::BlendIndex& blend) {
  const core::DirectoryCounts counts = l2.directory_counts();
  json::object l1_keys;
  for (const auto& [instance, keys] : counts.l1_keys_by_instance) l1_keys[instance] = keys;
  const core::BlendIndexStats b = blend.stats();
  return json_response(status::ok,
                       json::object{{"num_keys", counts.keys},
                                    {"num_placements", counts.placements},
                                    {"l1_keys_by_instance", std::move(l1_keys)},
                                    {"blend", json::object{{"num_contents", b.contents},
                                                           {"num_chunks", b.keys},
                                                           {"num_claims", b.entries},
                                                           {"num_namespaces", b.scopes},
                                                           {"table_size", b.table_slots}}}});
}

}  // namespace

void add_directory_routes(Router& router, const core::L2Accounting& l2,
                          const core::BlendIndex& blend, const core::TokenChainHasher& hasher) {
  router.add(verb::post, "/directory/lookup",
             [&l2, &hasher](const RouteRequest& request) { return lookup(l2, hasher, request); });
  router.add(verb::get, "/directory/keys",
             [&l2](const RouteRequest& request) { return list_keys(l2, request); });
  router.add(verb::get, "/directory/stats",
             [&l2, &blend](const RouteRequest& /*request*/) { return stats(l2, blend); });
}

}  // namespace lmcache::http
