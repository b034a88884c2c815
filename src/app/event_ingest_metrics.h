#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "core/event_ingest.h"

namespace lmcache::app {

// The metric families of the v2 event ingest (`POST /events`), read from its counters at each
// scrape: lmcache_coordinator_event_batches_total{outcome="applied|duplicate|stale|rejected"},
// event_fences_total, event_gaps_total and the gauge event_stream_cursors.
class EventIngestMetrics : public prometheus::Collectable {
 public:
  // `ingest` must outlive this object.
  explicit EventIngestMetrics(const core::EventIngest& ingest) : ingest_(ingest) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::EventIngest& ingest_;
};

}  // namespace lmcache::app
