#include "http/blend_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <variant>
#include <vector>

#include "http/json_response.h"
#include "http/request_validation.h"
#include "http/token_decoding.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// A JSON list of strings at `name` of `fields` (required).
std::optional<std::vector<std::string>> read_string_list(FieldReader& fields,
                                                         std::string_view name) {
  const json::array* items = fields.array(name, true);
  if (items == nullptr) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(items->size());
  bool ok = true;
  for (size_t i = 0; i < items->size(); ++i) {
    const json::value& item = (*items)[i];
    if (const json::string* text = item.if_string()) {
      out.emplace_back(*text);
      continue;
    }
    json::array loc = fields.loc(name);
    loc.emplace_back(i);
    fields.errors().add("string_type", std::move(loc), "Input should be a valid string", item);
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<core::BlendRange> decode_range(const json::value& value, json::array loc,
                                             ValidationErrors& errors) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    errors.add("model_type", std::move(loc),
               "Input should be a valid dictionary or instance of BlendRange", value,
               json::object{{"class_name", "BlendRange"}});
    return std::nullopt;
  }
  FieldReader fields(*object, loc, errors);
  auto model_scope = fields.string("model_scope");
  std::optional<std::vector<uint64_t>> tokens;
  if (const json::value* raw = object->if_contains("tokens")) {
    tokens = read_token_list(*raw, fields.loc("tokens"), errors);
  } else {
    errors.add("missing", fields.loc("tokens"), "Field required", *object);
  }
  auto object_keys = read_string_list(fields, "object_keys");
  auto old_st_base = fields.integer("old_st_base", 0, 0);
  if (!model_scope || !tokens || !object_keys || !old_st_base) return std::nullopt;
  return core::BlendRange{std::move(*model_scope), std::move(*tokens), std::move(*object_keys),
                          static_cast<uint64_t>(*old_st_base)};
}

// The ranges of a publish body; nullopt (with errors filled) when any is invalid.
std::optional<std::vector<core::BlendRange>> decode_publish(const json::object& body,
                                                            ValidationErrors& errors) {
  FieldReader fields(body, json::array{"body"}, errors);
  const json::array* items = fields.array("ranges", true);
  if (items == nullptr) return std::nullopt;
  std::vector<core::BlendRange> ranges;
  ranges.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    json::array loc = fields.loc("ranges");
    loc.emplace_back(i);
    if (auto range = decode_range((*items)[i], std::move(loc), errors)) {
      ranges.push_back(std::move(*range));
    }
  }
  if (!errors.empty()) return std::nullopt;
  return ranges;
}

// Parses the body as a JSON object; nullptr (with errors filled) otherwise.
const json::object* request_object(const RouteRequest& request, std::optional<json::value>& body,
                                   ValidationErrors& errors) {
  body = parse_json_body(request.message.body(), errors);
  return body ? body_object(*body, errors) : nullptr;
}

HttpResponse publish(core::BlendIndex& index, const RouteRequest& request) {
  ValidationErrors errors;
  std::optional<json::value> body;
  const json::object* object = request_object(request, body, errors);
  auto ranges = object ? decode_publish(*object, errors) : std::nullopt;
  if (!ranges) return errors.to_response();

  const auto result = index.publish(*ranges);
  if (result.skipped_ranges > 0) {
    spdlog::warn(
        "blend publish: skipped {} of {} ranges whose chunk count differs from their number of "
        "object keys (chunk size {}) or that have an over-long key",
        result.skipped_ranges, ranges->size(), index.chunk_size());
  }
  return json_response(status::ok, json::object{{"inserted", result.inserted}});
}

HttpResponse remove(core::BlendIndex& index, const RouteRequest& request) {
  ValidationErrors errors;
  std::optional<json::value> body;
  const json::object* object = request_object(request, body, errors);
  std::optional<std::vector<std::string>> keys;
  if (object != nullptr) {
    FieldReader fields(*object, json::array{"body"}, errors);
    keys = read_string_list(fields, "object_keys");
  }
  if (!keys) return errors.to_response();

  const size_t removed = index.remove(*keys);
  return json_response(status::ok, json::object{{"removed", removed}});
}

HttpResponse match(const core::BlendIndex& index, const RouteRequest& request,
                   const BlendMatchObserver& on_match) {
  ValidationErrors errors;
  std::optional<json::value> body;
  const json::object* object = request_object(request, body, errors);
  std::optional<std::string> scope;
  std::optional<RequestTokens> tokens;
  if (object != nullptr) {
    FieldReader fields(*object, json::array{"body"}, errors);
    scope = fields.string("model_scope");
    tokens = read_request_tokens(*object, json::array{"body"}, errors);
  }
  if (!scope || !tokens) return errors.to_response();

  const auto matches = std::visit(
      [&](const auto& ids) { return index.match(*scope, std::span(ids.data(), ids.size())); },
      *tokens);
  if (on_match) on_match(matches.size());
  json::array out;
  out.reserve(matches.size());
  for (const auto& m : matches) {
    out.emplace_back(
        json::object{{"object_key", m.object_key}, {"old_st", m.old_st}, {"cur_st", m.cur_st}});
  }
  return json_response(status::ok, json::object{{"matches", std::move(out)}});
}

}  // namespace

void add_blend_routes(Router& router, core::BlendIndex& index, BlendMatchObserver on_match) {
  router.add(verb::post, "/blend/fingerprints",
             [&index](const RouteRequest& request) { return publish(index, request); });
  router.add(verb::delete_, "/blend/fingerprints",
             [&index](const RouteRequest& request) { return remove(index, request); });
  router.add(verb::post, "/blend/match",
             [&index, on_match = std::move(on_match)](const RouteRequest& request) {
               return match(index, request, on_match);
             });
}

}  // namespace lmcache::http
