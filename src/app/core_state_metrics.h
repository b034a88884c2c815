#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "core/blend_index.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/pinned_keys.h"
#include "core/quota_store.h"
#include "core/token_chain_hasher.h"

namespace lmcache::app {

// The metric families that report what the core objects hold: membership
// size, L2 event counters, usage and quota per cache salt, the default quota
// (absent while salts without a quota are exempt), the blend index, the pinned keys, the token
// chain's link cache.
// Core knows nothing of Prometheus, so each scrape reads it afresh; a salt
// with neither keys nor a quota is absent from that scrape.
class CoreStateMetrics : public prometheus::Collectable {
 public:
  // The objects must outlive this one.
  CoreStateMetrics(const core::InstanceRegistry& registry, const core::L2Accounting& l2,
                   const core::QuotaStore& quotas, const core::BlendIndex& blend,
                   const core::PinnedKeys& pins, const core::TokenChainHasher& chunk_hasher);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::InstanceRegistry& registry_;
  const core::L2Accounting& l2_;
  const core::QuotaStore& quotas_;
  const core::BlendIndex& blend_;
  const core::PinnedKeys& pins_;
  const core::TokenChainHasher& chunk_hasher_;
};

}  // namespace lmcache::app
