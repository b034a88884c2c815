#include "http/metrics_routes.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace lmcache::http {

void add_metrics_route(Router& router, std::vector<const prometheus::Collectable*> sources) {
  router.add(
      beast_http::verb::get, "/metrics", [sources = std::move(sources)](const RouteRequest&) {
        std::vector<prometheus::MetricFamily> families;
        for (const prometheus::Collectable* source : sources) {
          auto collected = source->Collect();
          std::move(collected.begin(), collected.end(), std::back_inserter(families));
        }
        HttpResponse response{beast_http::status::ok, 11};
        response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = prometheus::TextSerializer().Serialize(families);
        response.prepare_payload();
        return response;
      });
}

}  // namespace lmcache::http
