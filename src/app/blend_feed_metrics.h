#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "core/blend_feed.h"

namespace lmcache::app {

// The blend index's feed from POST /events, read at each scrape:
// lmcache_coordinator_blend_feed_chunks_total{change="indexed|removed"},
// blend_feed_entries_ignored_total (store entries that could not be indexed) and the gauge
// blend_feed_chunks (chunks indexed now).
class BlendFeedMetrics : public prometheus::Collectable {
 public:
  // `feed` must outlive this object.
  explicit BlendFeedMetrics(const core::BlendFeed& feed) : feed_(feed) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::BlendFeed& feed_;
};

}  // namespace lmcache::app
