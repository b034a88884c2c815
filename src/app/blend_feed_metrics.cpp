#include "app/blend_feed_metrics.h"

#include <utility>

#include "app/metric_families.h"

namespace lmcache::app {
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> BlendFeedMetrics::Collect() const {
  const core::BlendFeed::Counters counters = feed_.counters();
  std::vector<MetricFamily> out;
  MetricFamily chunks = metric_family(
      "blend_feed_chunks_total",
      "Chunks the POST /events stream put into the blend index (indexed) and took out when "
      "their last placement went (removed).",
      MetricType::Counter);
  add_sample(chunks, static_cast<double>(counters.indexed), {{"change", "indexed"}});
  add_sample(chunks, static_cast<double>(counters.removed), {{"change", "removed"}});
  out.push_back(std::move(chunks));
  out.push_back(single_metric("blend_feed_entries_ignored_total",
                              "Store entries the blend index could not take: no token_offset, "
                              "not one chunk of tokens, or a kv_rank without a world size.",
                              MetricType::Counter, static_cast<double>(counters.ignored)));
  out.push_back(single_metric("blend_feed_chunks", "Chunks in the blend index fed by POST /events.",
                              MetricType::Gauge, static_cast<double>(feed_.chunk_count())));
  return out;
}

}  // namespace lmcache::app
