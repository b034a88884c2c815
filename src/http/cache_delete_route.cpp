#include "http/cache_delete_route.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "core/cache_delete_plan.h"
#include "http/audit_log.h"
#include "http/json_response.h"
#include "http/request_validation.h"
#include "http/token_keys_request.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

struct CacheDeleteRequest {
  std::string instance_id;
  TokenKeysRequest tokens;
  core::DeleteTier tier = core::DeleteTier::kAll;
  bool force = false;
};

// A boolean with pydantic's lax rules: true/false, 0/1 and the usual strings.
std::optional<bool> read_bool(FieldReader& fields, std::string_view name, bool fallback) {
  const json::value* value = fields.raw(name);
  if (value == nullptr) return fallback;
  if (const bool* flag = value->if_bool()) return *flag;
  if (value->is_int64() || value->is_uint64()) {
    const json::value& v = *value;
    if (v.is_int64() && (v.get_int64() == 0 || v.get_int64() == 1)) return v.get_int64() == 1;
    if (v.is_uint64() && v.get_uint64() <= 1) return v.get_uint64() == 1;
  }
  if (const json::string* text = value->if_string()) {
    static constexpr std::string_view kTrue[] = {"true", "1", "yes", "on", "t", "y"};
    static constexpr std::string_view kFalse[] = {"false", "0", "no", "off", "f", "n"};
    std::string lower(text->begin(), text->end());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view word : kTrue) {
      if (lower == word) return true;
    }
    for (std::string_view word : kFalse) {
      if (lower == word) return false;
    }
  }
  fields.errors().add("bool_parsing", fields.loc(name),
                      "Input should be a valid boolean, unable to interpret input", *value);
  return std::nullopt;
}

std::variant<CacheDeleteRequest, HttpResponse> decode(const RouteRequest& request) {
  ValidationErrors errors;
  auto body = parse_json_body(request.message.body(), errors);
  const json::object* object = body ? body_object(*body, errors) : nullptr;
  if (object == nullptr) return errors.to_response();
  FieldReader fields(*object, json::array{"body"}, errors);
  auto id = fields.string("instance_id");
  std::optional<HttpResponse> too_many;
  auto tokens = read_token_keys_request(fields, TokenKeysRules{}, too_many);
  if (too_many) return std::move(*too_many);
  auto tier_name = fields.string("tier", "all");
  std::optional<core::DeleteTier> tier;
  if (tier_name) {
    tier = core::parse_delete_tier(*tier_name);
    if (!tier) {
      errors.add("literal_error", fields.loc("tier"), "Input should be 'l1', 'l2' or 'all'",
                 json::string(*tier_name), json::object{{"expected", "'l1', 'l2' or 'all'"}});
    }
  }
  auto force = read_bool(fields, "force", false);
  if (!errors.empty() || !id || !tokens || !tier || !force) return errors.to_response();
  return CacheDeleteRequest{std::move(*id), std::move(*tokens), *tier, *force};
}

HttpResponse answer(const std::string& instance_id, size_t chunks, uint64_t affected,
                    uint64_t skipped, std::string_view outcome) {
  return json_response(status::ok, json::object{{"instance_id", instance_id},
                                                {"requested", chunks},
                                                {"affected", affected},
                                                {"skipped", skipped},
                                                {"status", outcome}});
}

}  // namespace

void add_cache_delete_route(Router& router, core::InstanceRegistry& registry, core::Pins& pins,
                            const core::TokenChainHasher& hasher, ObjectDeleter deleter,
                            CacheDeleteObserver observe) {
  router.add_async(
      verb::post, "/cache/delete",
      [&registry, &pins, &hasher, deleter = std::move(deleter), observe = std::move(observe)](
          const RouteRequest& request, Respond respond) {
        auto decoded = decode(request);
        if (auto* error = std::get_if<HttpResponse>(&decoded)) return respond(std::move(*error));
        CacheDeleteRequest body = std::move(std::get<CacheDeleteRequest>(decoded));
        auto instance = registry.find(body.instance_id);
        if (!instance) {
          return respond(detail_response(
              status::not_found,
              "no MP server registered with instance_id='" + body.instance_id + "'"));
        }
        ResolvedKeys resolved = resolve_object_keys(hasher, body.tokens);
        auto plan = std::make_shared<core::CacheDeletePlan>(
            core::plan_cache_delete(std::move(resolved.keys), body.tier, body.force, pins.keys()));
        const size_t chunks = resolved.chunks;
        if (plan->send.empty()) {
          if (observe) observe({"noop", 0, 0, plan->pinned_skipped});
          return respond(answer(body.instance_id, chunks, 0, plan->pinned_skipped, "noop"));
        }
        std::vector<core::ObjectKey> send = std::move(plan->send);
        // The audit line is written once the node has answered; it names the caller and the
        // peer of this request, whose body is not kept.
        RouteRequest audited;
        audited.message.method(request.message.method());
        audited.message.target(request.message.target());
        audited.peer = request.peer;
        audited.caller = request.caller;
        std::string target = fmt::format(
            "{} keys ({} chunks) of model '{}' cache_salt '{}' on instance '{}', tier {}{}",
            send.size(), chunks, body.tokens.model_name, body.tokens.cache_salt, body.instance_id,
            core::delete_tier_name(body.tier), body.force ? ", forced" : "");
        deleter(*instance, std::move(send), std::string(core::delete_tier_name(body.tier)),
                body.force,
                [&pins, observe, plan, chunks, instance_id = body.instance_id,
                 audited = std::move(audited), target = std::move(target),
                 respond = std::move(respond)](const ObjectDeleteReply& reply) {
                  if (!reply.ok) {
                    if (observe) observe({"failed", 0, 0, plan->pinned_skipped});
                    return respond(detail_response(
                        status::bad_gateway,
                        "MP server " + instance_id + " failed to delete: " + reply.error));
                  }
                  if (!plan->unpin.empty()) {
                    try {
                      pins.drop(plan->unpin);
                    } catch (const core::QuotaStoreError& error) {
                      spdlog::error("forced delete on {}: cannot drop {} pins: {}", instance_id,
                                    plan->unpin.size(), error.what());
                    }
                  }
                  if (observe) {
                    observe({"deleted", reply.deleted, reply.skipped, plan->pinned_skipped});
                  }
                  log_audit(audited, target,
                            fmt::format("{} pinned keys skipped", plan->pinned_skipped),
                            fmt::format("{} deleted, {} skipped by the node, {} unpinned",
                                        reply.deleted, reply.skipped, plan->unpin.size()));
                  respond(answer(instance_id, chunks, reply.deleted,
                                 reply.skipped + plan->pinned_skipped, "deleted"));
                });
      });
}

}  // namespace lmcache::http
