#include "app/event_ingest_metrics.h"

#include <string>
#include <utility>

#include "app/metric_families.h"

namespace lmcache::app {
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> EventIngestMetrics::Collect() const {
  const core::EventIngest::Counters counters = ingest_.counters();
  std::vector<MetricFamily> out;

  MetricFamily batches =
      metric_family("event_batches_total",
                    "POST /events batches, by outcome: applied (admitted by the gate), "
                    "duplicate, stale (older incarnation), rejected (invalid).",
                    MetricType::Counter);
  add_sample(batches, static_cast<double>(counters.batches.admitted), {{"outcome", "applied"}});
  add_sample(batches, static_cast<double>(counters.batches.duplicates), {{"outcome", "duplicate"}});
  add_sample(batches, static_cast<double>(counters.batches.stale), {{"outcome", "stale"}});
  add_sample(batches, static_cast<double>(counters.rejected), {{"outcome", "rejected"}});
  out.push_back(std::move(batches));

  MetricFamily fences =
      metric_family("event_fences_total",
                    "Instances fenced: restarts (higher incarnation) and forgotten "
                    "event streams (deregistration, health sweep).",
                    MetricType::Counter);
  add_sample(fences, static_cast<double>(counters.batches.fences));
  out.push_back(std::move(fences));

  MetricFamily gaps = metric_family(
      "event_gaps_total", "POST /events batches admitted after a seq gap (batches were lost).",
      MetricType::Counter);
  add_sample(gaps, static_cast<double>(counters.batches.gaps));
  out.push_back(std::move(gaps));

  MetricFamily cursors = metric_family(
      "event_stream_cursors", "Instances with a POST /events stream cursor.", MetricType::Gauge);
  add_sample(cursors, static_cast<double>(ingest_.gate().cursor_count()));
  out.push_back(std::move(cursors));
  return out;
}

}  // namespace lmcache::app
