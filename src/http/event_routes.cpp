#include "http/event_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "http/cache_event_decoder.h"
#include "http/json_response.h"
#include "http/request_validation.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

HttpResponse post_events(core::EventIngest& ingest, const RouteRequest& request) {
  ValidationErrors errors;
  auto decoded = decode_cache_event_request(request.message.body(), errors);
  if (!decoded) return errors.to_response();

  uint64_t applied = 0;
  uint64_t duplicates = 0;
  uint64_t stale = 0;
  for (const core::CacheEventBatch& batch : decoded->batches) {
    const core::EventGate::Decision decision = ingest.ingest(batch);
    if (decision.fenced) {
      spdlog::info("events of instance {}: incarnation {} fences the previous one (restart)",
                   batch.instance_id, batch.incarnation);
    }
    switch (decision.verdict) {
      case core::EventGate::Verdict::kAdmitted:
        ++applied;
        if (decision.first_gap) {
          spdlog::warn(
              "events of instance {} (incarnation {}): seq jumped {} -> {}; batches were lost",
              batch.instance_id, batch.incarnation, decision.last_seq, batch.seq);
        }
        break;
      case core::EventGate::Verdict::kDuplicate:
        ++duplicates;
        break;
      case core::EventGate::Verdict::kStale:
        ++stale;
        break;
    }
  }

  json::object body{{"applied", applied}, {"duplicates", duplicates}, {"stale", stale}};
  if (!decoded->rejected.empty()) {
    ingest.record_rejected(decoded->rejected.size());
    json::array rejected;
    rejected.reserve(decoded->rejected.size());
    for (const auto& item : decoded->rejected) {
      rejected.push_back(json::object{{"index", item.index}, {"error", item.error}});
    }
    spdlog::warn("POST /events: {} batch(es) rejected, first at index {}: {}",
                 decoded->rejected.size(), decoded->rejected.front().index,
                 decoded->rejected.front().error);
    body["rejected"] = std::move(rejected);
  }
  return json_response(status::ok, body);
}

}  // namespace

void add_event_routes(Router& router, core::EventIngest& ingest) {
  router.add(verb::post, "/events",
             [&ingest](const RouteRequest& request) { return post_events(ingest, request); });
}

}  // namespace lmcache::http
