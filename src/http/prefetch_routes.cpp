#include "http/prefetch_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "http/json_response.h"
#include "http/request_validation.h"
#include "http/token_keys_request.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

HttpResponse unknown_instance(const std::string& id) {
  return detail_response(status::not_found,
                         "no MP server registered with instance_id='" + id + "'");
}

// The forwarded submit body, or nullopt with errors filled.
std::optional<json::object> decode_submit(const json::object& body, ValidationErrors& errors,
                                          std::string& instance_id) {
  FieldReader fields(body, json::array{"body"}, errors);
  auto id = fields.string("instance_id");
  auto model = fields.string("model_name");
  auto world_size = fields.integer("world_size", std::nullopt, 1);
  auto salt = fields.string("cache_salt", "");
  json::array tokens;
  if (const json::array* raw = fields.array("token_ids", true)) {
    tokens.reserve(raw->size());
    for (size_t i = 0; i < raw->size(); ++i) {
      json::array loc = fields.loc("token_ids");
      loc.emplace_back(i);
      if (auto token = read_integer((*raw)[i], loc, errors, std::nullopt, std::nullopt)) {
        tokens.emplace_back(*token);
      }
    }
  }
  if (!errors.empty()) return std::nullopt;
  instance_id = *id;
  return json::object{{"model_name", *model},
                      {"world_size", *world_size},
                      {"token_ids", std::move(tokens)},
                      {"cache_salt", *salt}};
}

// `field` of the server's JSON reply, or `fallback`.
json::value reply_field(const json::object* reply, std::string_view field, json::value fallback) {
  if (reply == nullptr) return fallback;
  const json::value* value = reply->if_contains(field);
  return value != nullptr && !value->is_null() ? *value : fallback;
}

// Answers a forwarded submit: 502 unless a 2xx arrived, else the server's fields with defaults.
void answer_submit(const std::string& instance_id, const ForwardedReply& reply,
                   const Respond& respond, const PrefetchObserver& observe) {
  if (!reply.reached || reply.status < 200 || reply.status >= 300) {
    if (observe) observe("failed");
    const std::string why = !reply.reached
                                ? "unreachable: " + reply.error
                                : "answered " + std::to_string(reply.status) + ": " + reply.body;
    return respond(detail_response(status::bad_gateway, "MP server " + instance_id + " " + why));
  }
  boost::system::error_code ec;
  const json::value parsed = json::parse(reply.body, ec);
  const json::object* fields = ec ? nullptr : parsed.if_object();
  json::value outcome = reply_field(fields, "status", "submitted");
  if (observe) {
    const json::string* text = outcome.if_string();
    observe(text != nullptr && *text == "noop" ? "noop" : "submitted");
  }
  respond(
      json_response(status::ok, json::object{{"instance_id", instance_id},
                                             {"request_id", reply_field(fields, "request_id", "")},
                                             {"chunks", reply_field(fields, "chunks", 0)},
                                             {"status", std::move(outcome)}}));
}

// Relays a forwarded poll: the server's status and body (a non-JSON body as {"detail": body}).
void relay_poll(const std::string& instance_id, ForwardedReply reply, const Respond& respond) {
  if (!reply.reached) {
    return respond(detail_response(status::bad_gateway,
                                   "MP server " + instance_id + " unreachable: " + reply.error));
  }
  boost::system::error_code ec;
  json::value parsed = json::parse(reply.body, ec);
  if (ec) parsed = json::object{{"detail", reply.body}};
  respond(json_response(static_cast<status>(reply.status), parsed));
}

// The forwarded v2 submit body, or the error answer.
std::variant<json::object, HttpResponse> decode_cache_submit(const RouteRequest& request,
                                                             std::string& instance_id) {
  ValidationErrors errors;
  auto body = parse_json_body(request.message.body(), errors);
  const json::object* object = body ? body_object(*body, errors) : nullptr;
  if (object == nullptr) return errors.to_response();
  FieldReader fields(*object, json::array{"body"}, errors);
  auto id = fields.string("instance_id");
  std::optional<HttpResponse> too_many;
  auto tokens = read_token_keys_request(fields, TokenKeysRules{}, too_many);
  if (too_many) return std::move(*too_many);
  if (!id || !tokens) return errors.to_response();
  instance_id = std::move(*id);
  json::array token_ids;
  token_ids.reserve(tokens->token_ids.size());
  for (const uint32_t token : tokens->token_ids) token_ids.emplace_back(token);
  return json::object{{"model_name", tokens->model_name},
                      {"world_size", tokens->world_size},
                      {"token_ids", std::move(token_ids)},
                      {"cache_salt", tokens->cache_salt}};
}

}  // namespace

void add_cache_prefetch_routes(Router& router, core::InstanceRegistry& registry,
                               const PrefetchForwarder& forward, const PrefetchObserver& observe) {
  router.add_async(verb::post, "/cache/prefetches",
                   [&registry, forward, observe](const RouteRequest& request, Respond respond) {
                     std::string instance_id;
                     auto decoded = decode_cache_submit(request, instance_id);
                     if (auto* answer = std::get_if<HttpResponse>(&decoded)) {
                       return respond(std::move(*answer));
                     }
                     auto instance = registry.find(instance_id);
                     if (!instance) return respond(unknown_instance(instance_id));
                     forward.submit(*instance, json::serialize(std::get<json::object>(decoded)),
                                    [instance_id, observe,
                                     respond = std::move(respond)](const ForwardedReply& reply) {
                                      answer_submit(instance_id, reply, respond, observe);
                                    });
                   });

  router.add_async(verb::get, "/cache/prefetches/{instance_id}/{request_id}",
                   [&registry, forward](const RouteRequest& request, Respond respond) {
                     const std::string& instance_id = request.param("instance_id");
                     auto instance = registry.find(instance_id);
                     if (!instance) return respond(unknown_instance(instance_id));
                     forward.poll(
                         *instance, request.param("request_id"),
                         [instance_id, respond = std::move(respond)](ForwardedReply reply) {
                           relay_poll(instance_id, std::move(reply), respond);
                         });
                   });
}

void add_prefetch_routes(Router& router, core::InstanceRegistry& registry,
                         const PrefetchForwarder& forward) {
  router.add_async(
      verb::post, "/l2/prefetch", [&registry, forward](RouteRequest request, Respond respond) {
        ValidationErrors errors;
        auto body = parse_json_body(request.message.body(), errors);
        const json::object* object = body ? body_object(*body, errors) : nullptr;
        std::string instance_id;
        auto forwarded = object ? decode_submit(*object, errors, instance_id) : std::nullopt;
        if (!forwarded) return respond(errors.to_response());
        auto instance = registry.find(instance_id);
        if (!instance) return respond(unknown_instance(instance_id));

        forward.submit(*instance, json::serialize(*forwarded),
                       [instance_id, respond = std::move(respond)](const ForwardedReply& reply) {
                         answer_submit(instance_id, reply, respond, {});
                       });
      });

  router.add_async(verb::get, "/l2/prefetch/{instance_id}/{request_id}",
                   [&registry, forward](const RouteRequest& request, Respond respond) {
                     const std::string& instance_id = request.param("instance_id");
                     auto instance = registry.find(instance_id);
                     if (!instance) return respond(unknown_instance(instance_id));
                     forward.poll(
                         *instance, request.param("request_id"),
                         [instance_id, respond = std::move(respond)](ForwardedReply reply) {
                           relay_poll(instance_id, std::move(reply), respond);
                         });
                   });
}

}  // namespace lmcache::http
