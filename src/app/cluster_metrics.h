#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <vector>

#include "http/cluster_routes.h"

namespace lmcache::app {

// This node's place in the cluster, read at each scrape: the gauges
// lmcache_coordinator_ha_is_leader (1 while this node serves as the leader; a single coordinator
// always does) and lmcache_coordinator_ha_epoch (the leader key's create revision this node
// knows; 0 outside HA mode). The alert "no leader" is max(ha_is_leader) < 1 over the cluster.
class ClusterMetrics : public prometheus::Collectable {
 public:
  explicit ClusterMetrics(std::function<http::ClusterStatus()> status)
      : status_(std::move(status)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<http::ClusterStatus()> status_;
};

}  // namespace lmcache::app
