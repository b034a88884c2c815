#pragma once

#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "http/router.h"

namespace lmcache::http {

// Fleet memory (protocol-v2.md Part A 9, Part B 2.6): bytes held per module joined with the
// declared capacities. Read-only.
// - GET /instances/usage: {instances: [status], shared_modules: [module]}. An instance is listed
//   (sorted by id) when it is registered, holds bytes or has declared capacity. A status is
//   {instance_id, registered, declared_capacity, modules: [module]}; a module is {tier, backend,
//   shared, used_bytes, capacity_bytes, usage_ratio (null without a capacity; not clamped)},
//   sorted by (tier, backend). Declared compartments without bytes are listed with 0 used.
//   Shared pools are counted once; their capacity is the one all declarers agree on, else 0.
// - GET /instances/{instance_id}/usage: one status; 404 when none of the three sources knows it.
void add_instance_usage_routes(Router& router, const core::InstanceRegistry& registry,
                               const core::L2Accounting& l2, const core::EventIngest& events);

}  // namespace lmcache::http
