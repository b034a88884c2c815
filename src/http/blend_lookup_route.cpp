#include "http/blend_lookup_route.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "core/blend_feed.h"
#include "http/json_response.h"
#include "http/request_validation.h"
#include "http/token_keys_request.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

HttpResponse blend_lookup(const core::BlendIndex& index, const RouteRequest& request,
                          const BlendLookupObserver& observe) {
  ValidationErrors errors;
  auto body = parse_json_body(request.message.body(), errors);
  const json::object* object = body ? body_object(*body, errors) : nullptr;
  if (object == nullptr) return errors.to_response();
  FieldReader fields(*object, json::array{"body"}, errors);
  std::optional<HttpResponse> too_many;
  const TokenKeysRules rules{1, true};
  auto query = read_token_keys_request(fields, rules, too_many);
  if (too_many) return std::move(*too_many);
  if (!query) return errors.to_response();

  const std::vector<core::BlendMatch> matches =
      index.match(core::BlendFeed::scope(query->model_name, query->cache_salt,
                                         static_cast<uint32_t>(query->world_size)),
                  std::span<const uint32_t>(query->token_ids));
  if (observe) observe(matches.size());
  json::array out;
  out.reserve(matches.size());
  for (const core::BlendMatch& match : matches) {
    out.emplace_back(json::object{{"chunk_hash", core::BlendFeed::chunk_hash_hex(match.object_key)},
                                  {"old_st", match.old_st},
                                  {"cur_st", match.cur_st}});
  }
  return json_response(status::ok, json::object{{"matches", std::move(out)}});
}

}  // namespace

void add_blend_lookup_route(Router& router, const core::BlendIndex& index,
                            BlendLookupObserver observe) {
  router.add(verb::post, "/directory/blend-lookup",
             [&index, observe = std::move(observe)](const RouteRequest& request) {
               return blend_lookup(index, request, observe);
             });
}

}  // namespace lmcache::http
