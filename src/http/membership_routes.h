#pragma once

#include <functional>
#include <string>

#include "core/instance_registry.h"
#include "http/router.h"

namespace lmcache::http {

// Hooks the membership routes call besides the registry.
struct MembershipHooks {
  // After a (re-)registration, with the instance id.
  std::function<void(const std::string&)> on_registered;
  // After DELETE /instances/{id}, with the id, whether or not it was registered.
  std::function<void(const std::string&)> on_deregistered;
};

// POST /instances, PUT /instances/{id}/heartbeat, DELETE /instances/{id},
// GET /instances and GET /healthz.
void add_membership_routes(Router& router, core::InstanceRegistry& registry,
                           const MembershipHooks& hooks = {});

}  // namespace lmcache::http
