#include "app/replication_log_metrics.h"

#include "app/metric_families.h"

namespace lmcache::app {

std::vector<prometheus::MetricFamily> ReplicationLogMetrics::Collect() const {
  const core::MutationLog::Counters counters = log_.counters();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(metric_family("replication_log_entries",
                                   "Mutations the HA leader holds for followers to replay",
                                   prometheus::MetricType::Gauge));
  add_sample(families.back(), static_cast<double>(counters.entries));
  families.push_back(metric_family("replication_log_bytes",
                                   "Payload bytes of the mutations the HA leader holds "
                                   "(at most --replication-log-mb)",
                                   prometheus::MetricType::Gauge));
  add_sample(families.back(), static_cast<double>(counters.bytes));
  families.push_back(metric_family("replication_log_dropped_total",
                                   "Mutations the HA leader dropped from its log for room",
                                   prometheus::MetricType::Counter));
  add_sample(families.back(), static_cast<double>(counters.dropped));
  return families;
}

}  // namespace lmcache::app
