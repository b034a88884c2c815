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
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// More token_ids than this is a 400, as upstream's cap.
constexpr size_t kMaxTokens = 1'000'000;

// A decoded pin or unpin body.
struct PinRequest {
  std::string model_name;
  int64_t world_size = 1;
  std::vector<uint32_t> token_ids;
  std::string cache_salt;
};

// Adds a `value_error` at `loc` when `problem` is set.
void check_field(std::optional<std::string> problem, json::array loc, const std::string& value,
                 ValidationErrors& errors) {
  if (problem) {
    errors.add("value_error", std::move(loc), "Value error, " + *problem, json::string(value));
  }
}

// The request, or the error answer.
std::variant<PinRequest, HttpResponse> decode_pin_request(const RouteRequest& request) {
  ValidationErrors errors;
  auto body = parse_json_body(request.message.body(), errors);
  const json::object* object = body ? body_object(*body, errors) : nullptr;
  if (object == nullptr) return errors.to_response();

  FieldReader fields(*object, json::array{"body"}, errors);
  auto model = fields.string("model_name");
  auto world_size = fields.integer("world_size", std::nullopt, 1, core::kMaxWorldSize);
  auto salt = fields.string("cache_salt", "");
  if (model) check_field(core::check_model_name(*model), fields.loc("model_name"), *model, errors);
  if (salt) check_field(core::check_cache_salt(*salt), fields.loc("cache_salt"), *salt, errors);

  PinRequest out;
  if (const json::array* tokens = fields.array("token_ids", true)) {
    if (tokens->size() > kMaxTokens) {
      return detail_response(status::bad_request,
                             "token_ids has " + std::to_string(tokens->size()) +
                                 " tokens; at most " + std::to_string(kMaxTokens) + " are allowed");
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
  if (!errors.empty()) return errors.to_response();
  out.model_name = std::move(*model);
  out.world_size = *world_size;
  out.cache_salt = std::move(*salt);
  return out;
}

HttpResponse change_pins(core::Pins& pins, const core::TokenChainHasher& hasher,
                         const RouteRequest& request, bool pin) {
  auto decoded = decode_pin_request(request);
  if (auto* answer = std::get_if<HttpResponse>(&decoded)) return std::move(*answer);
  const PinRequest& body = std::get<PinRequest>(decoded);

  const std::vector<core::ChunkHash> hashes = hasher.chunk_hashes(body.token_ids);
  // The world size was checked above, so the expansion exists.
  const std::vector<core::ObjectKey> keys =
      *core::expand_object_keys(hashes, body.model_name, body.world_size, body.cache_salt);
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
  return json_response(status::ok, json::object{{"requested", hashes.size()},
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
