#include "http/cluster_routes.h"

#include <boost/json/value.hpp>

#include "http/json_response.h"

namespace lmcache::http {
namespace {

namespace json = boost::json;

json::value optional_text(const std::optional<std::string>& text) {
  return text ? json::value(*text) : json::value(nullptr);
}

}  // namespace

void add_cluster_routes(Router& router, const std::function<ClusterStatus()>& status) {
  router.add(beast_http::verb::get, "/readyz", [status](const RouteRequest&) {
    const ClusterStatus now = status();
    const bool ready = now.role == "leader";
    return json_response(
        ready ? beast_http::status::ok : beast_http::status::service_unavailable,
        json::object{
            {"role", now.role}, {"leader", optional_text(now.leader_url)}, {"epoch", now.epoch}});
  });
  router.add(beast_http::verb::get, "/cluster", [status](const RouteRequest&) {
    const ClusterStatus now = status();
    json::object body{{"mode", now.ha ? "ha" : "single"},
                      {"role", now.role},
                      {"epoch", now.epoch},
                      {"leader", optional_text(now.leader_url)},
                      {"node_id", now.node_id},
                      {"node_url", now.node_url}};
    body["last_lease_renewal"] =
        now.last_lease_renewal ? json::value(*now.last_lease_renewal) : json::value(nullptr);
    return json_response(beast_http::status::ok, body);
  });
}

}  // namespace lmcache::http
