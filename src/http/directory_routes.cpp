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

#include "http/json_response.h"
#include "http/query_params.h"
#include "http/request_validation.h"
#include "http/token_keys_request.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

constexpr int64_t kMaxPageLimit = 10'000;

json::object placement_json(const core::Placement& p) {
  return json::object{{"instance_id", p.instance_id},
                      {"incarnation", p.incarnation},
                      {"tier", core::cache_tier_name(p.tier)},
                      {"backend", p.backend},
                      {"size_bytes", p.size_bytes},
                      {"shared", p.shared}};
}

json::array placements_json(const std::vector<core::Placement>& placements) {
  json::array out;
  out.reserve(placements.size());
  for (const core::Placement& p : placements) out.push_back(placement_json(p));
  return out;
}

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

HttpResponse lookup(const core::L2Accounting& l2, const core::TokenChainHasher& hasher,
                    const RouteRequest& request) {
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
  std::vector<core::ObjectKey> keys;
  size_t chunks = 0;
  if (given(*object, "keys")) {
    const json::array* listed = fields.array("keys", true);
    if (listed == nullptr) return errors.to_response();
    auto decoded = decode_keys(*listed);
    if (auto* refused = std::get_if<HttpResponse>(&decoded)) return std::move(*refused);
    keys = std::move(std::get<std::vector<core::ObjectKey>>(decoded));
    chunks = keys.size();
  } else {
    std::optional<HttpResponse> too_many;
    auto tokens = read_token_keys_request(fields, TokenKeysRules{1, false}, too_many);
    if (too_many) return std::move(*too_many);
    if (!tokens || !errors.empty()) return errors.to_response();
    ResolvedKeys resolved = resolve_object_keys(hasher, *tokens);
    chunks = resolved.chunks;
    keys = std::move(resolved.keys);
  }

  const std::vector<core::L2Accounting::KeyLookup> found = l2.lookup(keys);
  json::array results;
  results.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    json::array tokens;
    if (found[i].binding) {
      const std::vector<uint32_t>& ids = found[i].binding->token_ids;
      tokens.reserve(ids.size());
      for (const uint32_t id : ids) tokens.emplace_back(id);
    }
    results.push_back(json::object{{"key", wire::encode_object_key(keys[i])},
                                   {"placements", placements_json(found[i].placements)},
                                   {"token_ids", std::move(tokens)}});
  }
  return json_response(status::ok,
                       json::object{{"chunks", chunks}, {"results", std::move(results)}});
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
