#include "http/pin_routes.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "http/audit_log.h"
#include "http/json_response.h"
#include "http/request_validation.h"
#include "http/token_keys_request.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// The request, or the error answer.
std::variant<TokenKeysRequest, HttpResponse> decode_pin_request(const RouteRequest& request) {
  ValidationErrors errors;
  auto body = parse_json_body(request.message.body(), errors);
  const json::object* object = body ? body_object(*body, errors) : nullptr;
  if (object == nullptr) return errors.to_response();
  FieldReader fields(*object, json::array{"body"}, errors);
  std::optional<HttpResponse> too_many;
  auto out = read_token_keys_request(fields, TokenKeysRules{}, too_many);
  if (too_many) return std::move(*too_many);
  if (!out) return errors.to_response();
  return std::move(*out);
}

HttpResponse change_pins(core::Pins& pins, const core::TokenChainHasher& hasher,
                         const RouteRequest& request, bool pin) {
  auto decoded = decode_pin_request(request);
  if (auto* answer = std::get_if<HttpResponse>(&decoded)) return std::move(*answer);
  const TokenKeysRequest& body = std::get<TokenKeysRequest>(decoded);
  const ResolvedKeys resolved = resolve_object_keys(hasher, body);
  const std::vector<core::ObjectKey>& keys = resolved.keys;
  const size_t pinned_before = pins.keys().size();
  core::PinOutcome outcome;
  try {
    outcome = pin ? pins.pin(keys) : pins.unpin(keys);
  } catch (const core::QuotaStoreError& error) {
    spdlog::error("cannot write pins: {}", error.what());
    return detail_response(status::service_unavailable,
                           std::string("state file unavailable: ") + error.what());
  }
  log_audit(request,
            fmt::format("{} of {} keys of model '{}' cache_salt '{}' ({} changed)",
                        pin ? "pins" : "unpins", keys.size(), body.model_name, body.cache_salt,
                        outcome.affected),
            fmt::format("{} pinned keys", pinned_before),
            fmt::format("{} pinned keys", pins.keys().size()));
  return json_response(status::ok, json::object{{"requested", resolved.chunks},
                                                {"affected", outcome.affected},
                                                {"status", pin ? "pinned" : "unpinned"}});
}

HttpResponse list_pins(const core::Pins& pins) {
  const std::vector<core::PinCount> sorted = pins.keys().sorted();
  json::array listed;
  listed.reserve(sorted.size());
  for (const core::PinCount& pin : sorted) {
    listed.emplace_back(
        json::object{{"key", wire::encode_object_key(pin.key)}, {"pin_count", pin.count}});
  }
  return json_response(status::ok,
                       json::object{{"total", sorted.size()}, {"pins", std::move(listed)}});
}

}  // namespace

void add_pin_routes(Router& router, core::Pins& pins, const core::TokenChainHasher& hasher) {
  router.add(verb::post, "/cache/pins", [&pins, &hasher](const RouteRequest& request) {
    return change_pins(pins, hasher, request, true);
  });
  router.add(verb::delete_, "/cache/pins", [&pins, &hasher](const RouteRequest& request) {
    return change_pins(pins, hasher, request, false);
  });
  router.add(verb::get, "/cache/pins",
             [&pins](const RouteRequest& /*request*/) { return list_pins(pins); });
}

}  // namespace lmcache::http
