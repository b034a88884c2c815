// The fleet page (GET / and GET /ui) and the summary it reads (GET /fleet/summary).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_limits.h"
#include "http/router.h"

namespace lmcache::http {

// One registered instance as the page shows it.
struct FleetInstance {
  core::InstanceRecord record;
  double heartbeat_age_s = 0.0;  // seconds since its last heartbeat (or registration)
  bool v2 = false;               // speaks the v2 dialect (core::EventIngest::speaks_v2)
};

// One cache salt with L2 usage or an explicit quota.
struct FleetSalt {
  std::string cache_salt;
  uint64_t usage_bytes = 0;
  uint64_t keys = 0;
  uint64_t in_flight = 0;               // keys sent for deletion, not yet confirmed
  std::optional<uint64_t> quota_bytes;  // its explicit quota, if any
};

// The eviction loop's activity since start.
struct FleetEviction {
  uint64_t sweeps = 0;
  uint64_t victims_dispatched = 0;  // keys sent in delete requests
  uint64_t dispatches = 0;          // delete requests sent
  uint64_t dispatch_failures = 0;
  uint64_t victims_in_flight = 0;  // keys sent and not yet confirmed deleted
};

// The CacheBlend directory and its match requests since start.
struct FleetBlend {
  uint64_t entries = 0;
  uint64_t memory_bytes = 0;
  uint64_t match_requests = 0;
  uint64_t matches = 0;              // matches reported over all requests
  uint64_t requests_with_match = 0;  // requests that found at least one match
};

// The role of this coordinator in HA mode and the leader it knows of.
struct FleetHa {
  std::string role;
  std::string leader;
};

// Everything GET /fleet/summary reports, gathered from core state at one moment.
struct FleetSummary {
  double time = 0.0;  // wall clock, seconds since the epoch
  double instance_timeout_s = 0.0;
  std::vector<FleetInstance> instances;  // registration order
  std::vector<FleetSalt> salts;          // sorted by salt
  core::DefaultLimit default_quota_bytes;
  core::L2Counters l2;                 // the seed-era POST /l2/events stream
  core::EventIngest::Counters events;  // the v2 POST /events stream
  uint64_t event_cursors = 0;
  FleetEviction eviction;
  FleetBlend blend;
  std::optional<FleetHa> ha;  // outside HA mode: none ("ha": null)
};

// The JSON form of `summary` (see README, "The fleet page").
boost::json::value fleet_summary_json(const FleetSummary& summary);

// GET / and GET /ui answer `page` as text/html; GET /fleet/summary answers the JSON of what
// `summarize` gathers at the time of the request. `page` must outlive the router.
void add_fleet_routes(Router& router, std::string_view page,
                      std::function<FleetSummary()> summarize);

// The fleet page embedded at build time (ui/ inlined into one HTML document).
std::string_view fleet_page_html();

}  // namespace lmcache::http
