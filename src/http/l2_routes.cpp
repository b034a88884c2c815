#include "http/l2_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "http/json_response.h"
#include "http/l2_event_decoder.h"
#include "http/quota_forms.h"
#include "http/request_validation.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

HttpResponse post_events(core::L2Accounting& l2, const RouteRequest& request) {
  ValidationErrors errors;
  auto batch = decode_l2_event_batch(request.message.body(), errors);
  if (!batch) return errors.to_response();

  const core::L2BatchOutcome outcome =
      l2.apply_batch(batch->instance_id, batch->seq, batch->events);
  if (outcome.duplicate) {
    return json_response(status::ok, json::object{{"recorded", 0}, {"duplicate", true}});
  }
  if (outcome.gap) {
    spdlog::warn("L2 events of instance {}: batch seq {} follows a gap; earlier events were lost",
                 batch->instance_id, batch->seq);
  }
  json::object body{{"recorded", outcome.recorded}};
  if (!batch->rejected.empty()) {
    l2.record_rejected(batch->rejected.size());
    json::array rejected;
    rejected.reserve(batch->rejected.size());
    for (const auto& item : batch->rejected) {
      rejected.push_back(json::object{{"index", item.index}, {"error", item.error}});
    }
    spdlog::warn("L2 events of instance {} seq {}: {} rejected, first at index {}: {}",
                 batch->instance_id, batch->seq, batch->rejected.size(),
                 batch->rejected.front().index, batch->rejected.front().error);
    body["rejected"] = std::move(rejected);
  }
  return json_response(status::ok, body);
}

HttpResponse put_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  std::optional<double> limit_gb;
  if (auto body = parse_json_body(request.message.body(), errors)) {
    if (const json::object* object = body_object(*body, errors)) {
      limit_gb = FieldReader(*object, json::array{"body"}, errors).number("limit_gb", {}, 0.0);
    }
  }
  std::optional<uint64_t> limit_bytes;
  if (limit_gb) limit_bytes = limit_bytes_of(*limit_gb, json::array{"body", "limit_gb"}, errors);
  if (!errors.empty()) return errors.to_response();

  return store_quota(request, quotas, *salt, *limit_bytes, *limit_gb);
}

HttpResponse delete_quota(core::QuotaStore& quotas, const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  if (!salt) return errors.to_response();
  return remove_quota(request, quotas, *salt);
}

HttpResponse get_salt_status(const core::L2Accounting& l2, const core::QuotaStore& quotas,
                             const RouteRequest& request) {
  ValidationErrors errors;
  auto salt = path_salt(request, errors);
  if (!salt) return errors.to_response();
  return json_response(status::ok, salt_status(*salt, quotas.get(*salt), l2.usage_bytes(*salt)));
}

HttpResponse get_status(const core::L2Accounting& l2, const core::QuotaStore& quotas) {
  return json_response(status::ok, status_listing(l2.salts(), quotas.all()));
}

}  // namespace

void add_l2_routes(Router& router, core::L2Accounting& l2, core::QuotaStore& quotas) {
  router.add(verb::post, "/l2/events",
             [&l2](const RouteRequest& request) { return post_events(l2, request); });
  router.add(verb::put, "/l2/quota/{salt}",
             [&quotas](const RouteRequest& request) { return put_quota(quotas, request); });
  router.add(verb::delete_, "/l2/quota/{salt}",
             [&quotas](const RouteRequest& request) { return delete_quota(quotas, request); });
  router.add(verb::get, "/l2/status",
             [&l2, &quotas](const RouteRequest&) { return get_status(l2, quotas); });
  router.add(verb::get, "/l2/status/{salt}", [&l2, &quotas](const RouteRequest& request) {
    return get_salt_status(l2, quotas, request);
  });
}

}  // namespace lmcache::http
