#include "http/metrics_routes.h"

namespace lmcache::http {

void add_metrics_route(Router& router, std::function<std::string()> render) {
  router.add(beast_http::verb::get, "/metrics", [render = std::move(render)](const RouteRequest&) {
    HttpResponse response{beast_http::status::ok, 11};
    response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = render();
    response.prepare_payload();
    return response;
  });
}

}  // namespace lmcache::http
