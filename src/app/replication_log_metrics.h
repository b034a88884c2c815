#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "core/mutation_log.h"

namespace lmcache::app {

// The HA leader's mutation log, read at each scrape: lmcache_coordinator_replication_log_entries
// and _log_bytes (held now; 0 on a node that does not lead) and
// lmcache_coordinator_replication_log_dropped_total (dropped for room: a follower further behind
// than that rebuilds from a snapshot).
class ReplicationLogMetrics : public prometheus::Collectable {
 public:
  explicit ReplicationLogMetrics(const core::MutationLog& log) : log_(log) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::MutationLog& log_;
};

}  // namespace lmcache::app
