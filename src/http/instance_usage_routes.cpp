#include "http/instance_usage_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "http/json_response.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;

namespace {

// (tier, backend): a module of one instance or a shared pool.
using ModuleId = std::pair<core::CacheTier, std::string>;

// Bytes and declarations gathered once per request.
struct FleetView {
  std::map<std::string, std::map<ModuleId, uint64_t>> used_by_instance;  // private modules
  std::map<ModuleId, uint64_t> used_shared;
  std::map<std::string, core::CapacityDeclaration> declared;
  std::set<std::string> registered;
};

FleetView gather(const core::InstanceRegistry& registry, const core::L2Accounting& l2,
                 const core::EventIngest& events) {
  FleetView view;
  for (const core::ModuleUsage& module : l2.module_usage()) {
    ModuleId id{module.tier, module.backend};
    if (module.shared) {
      view.used_shared[id] += module.used_bytes;
    } else {
      view.used_by_instance[module.instance_id][id] += module.used_bytes;
    }
  }
  for (auto& [id, declaration] : events.capacity().all()) {
    view.declared.emplace(id, std::move(declaration));
  }
  for (const core::InstanceRecord& instance : registry.list()) {
    view.registered.insert(instance.instance_id);
  }
  return view;
}

json::object module_json(const ModuleId& id, bool shared, uint64_t used, uint64_t capacity) {
  json::value ratio = nullptr;
  if (capacity > 0) ratio = static_cast<double>(used) / static_cast<double>(capacity);
  return json::object{{"tier", core::cache_tier_name(id.first)},
                      {"backend", id.second},
                      {"shared", shared},
                      {"used_bytes", used},
                      {"capacity_bytes", capacity},
                      {"usage_ratio", ratio}};
}

json::object instance_json(const FleetView& view, const std::string& instance_id) {
  std::map<ModuleId, std::pair<uint64_t, uint64_t>> modules;  // (used, capacity)
  if (auto it = view.used_by_instance.find(instance_id); it != view.used_by_instance.end()) {
    for (const auto& [id, used] : it->second) modules[id].first = used;
  }
  auto declared = view.declared.find(instance_id);
  const bool has_declaration = declared != view.declared.end();
  if (has_declaration) {
    for (const core::CapacityCompartment& c : declared->second.compartments) {
      if (c.shared) continue;  // reported once, under shared_modules
      modules[ModuleId{c.tier, c.backend}].second = c.capacity_bytes;
    }
  }
  json::array listed;
  for (const auto& [id, figures] : modules) {
    listed.push_back(module_json(id, false, figures.first, figures.second));
  }
  return json::object{{"instance_id", instance_id},
                      {"registered", view.registered.contains(instance_id)},
                      {"declared_capacity", has_declaration},
                      {"modules", std::move(listed)}};
}

json::array shared_json(const FleetView& view) {
  // A pool's capacity counts only when every declarer agrees on it.
  std::map<ModuleId, std::set<uint64_t>> claims;
  for (const auto& [instance, declaration] : view.declared) {
    for (const core::CapacityCompartment& c : declaration.compartments) {
      if (c.shared) claims[ModuleId{c.tier, c.backend}].insert(c.capacity_bytes);
    }
  }
  json::array out;
  for (const auto& [id, used] : view.used_shared) {
    auto claim = claims.find(id);
    const uint64_t capacity =
        claim != claims.end() && claim->second.size() == 1 ? *claim->second.begin() : 0;
    out.push_back(module_json(id, true, used, capacity));
  }
  return out;
}

HttpResponse fleet_usage(const FleetView& view) {
  std::set<std::string> ids = view.registered;
  for (const auto& [id, modules] : view.used_by_instance) ids.insert(id);
  for (const auto& [id, declaration] : view.declared) ids.insert(id);
  json::array instances;
  for (const std::string& id : ids) instances.push_back(instance_json(view, id));
  return json_response(status::ok, json::object{{"instances", std::move(instances)},
                                                {"shared_modules", shared_json(view)}});
}

HttpResponse one_usage(const FleetView& view, const std::string& instance_id) {
  if (!view.registered.contains(instance_id) && !view.used_by_instance.contains(instance_id) &&
      !view.declared.contains(instance_id)) {
    return detail_response(status::not_found, "unknown instance '" + instance_id + "'");
  }
  return json_response(status::ok, instance_json(view, instance_id));
}

}  // namespace

void add_instance_usage_routes(Router& router, const core::InstanceRegistry& registry,
                               const core::L2Accounting& l2, const core::EventIngest& events) {
  router.add(verb::get, "/instances/usage",
             [&registry, &l2, &events](const RouteRequest& /*request*/) {
               return fleet_usage(gather(registry, l2, events));
             });
  router.add(verb::get, "/instances/{instance_id}/usage",
             [&registry, &l2, &events](const RouteRequest& request) {
               return one_usage(gather(registry, l2, events), request.param("instance_id"));
             });
}

}  // namespace lmcache::http
