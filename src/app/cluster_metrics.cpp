#include "app/cluster_metrics.h"

#include "app/metric_families.h"

namespace lmcache::app {

std::vector<prometheus::MetricFamily> ClusterMetrics::Collect() const {
  const http::ClusterStatus status = status_();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(metric_family("ha_is_leader",
                                   "1 while this node serves as the leader (always, outside HA "
                                   "mode), else 0",
                                   prometheus::MetricType::Gauge));
  add_sample(families.back(), status.role == "leader" ? 1.0 : 0.0);
  families.push_back(metric_family("ha_epoch",
                                   "The leader key's create revision known to this node (0 "
                                   "outside HA mode)",
                                   prometheus::MetricType::Gauge));
  add_sample(families.back(), static_cast<double>(status.epoch));
  return families;
}

}  // namespace lmcache::app
