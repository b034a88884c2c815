#include "http/membership_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>

#include "http/json_response.h"
#include "http/request_validation.h"
#include "wire/lax_number.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

std::string strip(std::string_view s) { return std::string(wire::trim(s)); }

double wall_clock_seconds() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

// Decodes a registration body; nullopt (with errors filled) when invalid.
std::optional<core::InstanceRecord> decode_registration(const json::object& body,
                                                        ValidationErrors& errors) {
  FieldReader fields(body, json::array{"body"}, errors);
  auto instance_id = fields.string("instance_id", "");
  auto ip = fields.string("ip");
  auto http_port = fields.integer("http_port", std::nullopt, 1, 65535);
  auto p2p_url = fields.string("p2p_advertised_url", "");
  auto mq_port = fields.integer("mq_port", 0, 0, 65535);

  core::InstanceRecord record;
  if (const auto* metadata = fields.object("metadata", false)) {
    for (const auto& [key, value] : *metadata) {
      if (!value.is_string()) {
        json::array loc = fields.loc("metadata");
        loc.emplace_back(key);
        errors.add("string_type", std::move(loc), "Input should be a valid string", value);
        continue;
      }
      record.metadata.emplace_back(std::string(key), std::string(value.get_string()));
    }
  }
  if (ip && strip(*ip).empty()) {
    errors.add("value_error", fields.loc("ip"), "Value error, ip must not be empty",
               *fields.raw("ip"), json::object{{"error", "ip must not be empty"}});
  }
  if (!errors.empty()) return std::nullopt;

  record.instance_id = strip(*instance_id);
  record.ip = strip(*ip);
  record.http_port = static_cast<uint16_t>(*http_port);
  record.p2p_advertised_url = strip(*p2p_url);
  record.mq_port = static_cast<uint16_t>(*mq_port);
  record.registration_time = wall_clock_seconds();
  return record;
}

json::object encode_record(const core::InstanceRecord& record) {
  json::object metadata;
  for (const auto& [key, value] : record.metadata) metadata[key] = value;
  return json::object{
      {"instance_id", record.instance_id}, {"ip", record.ip},
      {"http_port", record.http_port},     {"registration_time", record.registration_time},
      {"metadata", std::move(metadata)},   {"p2p_advertised_url", record.p2p_advertised_url},
      {"mq_port", record.mq_port}};
}

}  // namespace

void add_membership_routes(Router& router, core::InstanceRegistry& registry,
                           const MembershipHooks& hooks) {
  router.add(verb::get, "/healthz", [](const RouteRequest&) {
    return json_response(status::ok, json::object{{"status", "healthy"}});
  });

  router.add(verb::post, "/instances", [&registry, hooks](const RouteRequest& request) {
    ValidationErrors errors;
    auto body = parse_json_body(request.message.body(), errors);
    const json::object* object = body ? body_object(*body, errors) : nullptr;
    auto record = object ? decode_registration(*object, errors) : std::nullopt;
    if (!record) return errors.to_response();

    const std::string ip = record->ip;
    const uint16_t port = record->http_port;
    auto registration =
        registry.register_instance(std::move(*record), std::chrono::steady_clock::now());
    spdlog::info("{} instance {} at {}:{}",
                 registration.re_registered ? "re-registered" : "registered",
                 registration.instance_id, ip, port);
    if (hooks.on_registered) hooks.on_registered(registration.instance_id);
    return json_response(status::ok, json::object{{"instance_id", registration.instance_id},
                                                  {"re_registered", registration.re_registered}});
  });

  router.add(
      verb::put, "/instances/{instance_id}/heartbeat", [&registry](const RouteRequest& request) {
        const std::string& id = request.param("instance_id");
        if (!registry.heartbeat(id, std::chrono::steady_clock::now())) {
          return json_response(status::not_found,
                               json::object{{"error", "unknown instance " + id + "; re-register"}});
        }
        return json_response(status::ok, json::object{{"instance_id", id}});
      });

  router.add(verb::delete_, "/instances/{instance_id}",
             [&registry, hooks](const RouteRequest& request) {
               const std::string& id = request.param("instance_id");
               if (registry.remove(id)) spdlog::info("deregistered instance {}", id);
               // Also for an id that is not registered: posting events needs no registration.
               if (hooks.on_deregistered) hooks.on_deregistered(id);
               return empty_response(status::no_content);
             });

  router.add(verb::get, "/instances", [&registry](const RouteRequest&) {
    json::array instances;
    for (const auto& record : registry.list()) instances.emplace_back(encode_record(record));
    return json_response(status::ok, json::object{{"instances", std::move(instances)}});
  });
}

}  // namespace lmcache::http
