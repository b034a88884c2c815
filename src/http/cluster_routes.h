#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "http/router.h"

namespace lmcache::http {

// What /readyz and /cluster report about leadership (app/leader_election.h decides it).
struct ClusterStatus {
  bool ha = false;   // false: a single coordinator, always the serving leader
  std::string role;  // "leader", "follower" or "candidate"
  std::optional<std::string> leader_url;
  int64_t epoch = 0;  // the leader key's create revision; 0 outside HA mode
  std::string node_id;
  std::string node_url;
  std::optional<double> last_lease_renewal;  // Unix seconds, while this node leads
};

// GET /readyz: 200 on the serving leader, 503 otherwise, body {"role", "leader", "epoch"}.
// GET /cluster: the whole ClusterStatus. `status` is called once per request, from any thread.
void add_cluster_routes(Router& router, const std::function<ClusterStatus()>& status);

}  // namespace lmcache::http
