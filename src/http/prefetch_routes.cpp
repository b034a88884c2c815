#include "http/prefetch_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "http/json_response.h"
#include "http/request_validation.h"

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

}  // namespace

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

        forward.submit(
            *instance, json::serialize(*forwarded),
            [instance_id, respond = std::move(respond)](const ForwardedReply& reply) {
              if (!reply.reached) {
                return respond(
                    detail_response(status::bad_gateway,
                                    "MP server " + instance_id + " unreachable: " + reply.error));
              }
              if (reply.status < 200 || reply.status >= 300) {
                return respond(detail_response(
                    status::bad_gateway, "MP server " + instance_id + " answered " +
                                             std::to_string(reply.status) + ": " + reply.body));
              }
              boost::system::error_code ec;
              const json::value parsed = json::parse(reply.body, ec);
              const json::object* fields = ec ? nullptr : parsed.if_object();
              respond(json_response(
                  status::ok,
                  json::object{{"instance_id", instance_id},
                               {"request_id", reply_field(fields, "request_id", "")},
                               {"chunks", reply_field(fields, "chunks", 0)},
                               {"status", reply_field(fields, "status", "submitted")}}));
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
                           if (!reply.reached) {
                             return respond(detail_response(
                                 status::bad_gateway,
                                 "MP server " + instance_id + " unreachable: " + reply.error));
                           }
                           boost::system::error_code ec;
                           json::value parsed = json::parse(reply.body, ec);
                           if (ec) parsed = json::object{{"detail", reply.body}};
                           respond(json_response(static_cast<status>(reply.status), parsed));
                         });
                   });
}

}  // namespace lmcache::http
