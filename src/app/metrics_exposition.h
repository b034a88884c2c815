#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "app/eviction_loop.h"
#include "app/health_sweep.h"
#include "core/blend_index.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/request_metrics.h"

namespace lmcache::app {

// Everything GET /metrics reports, by reference.
struct MetricsSources {
  const core::InstanceRegistry& registry;
  const std::atomic<uint64_t>& heartbeats;
  const HealthSweep& health_sweep;
  const core::L2Accounting& l2;
  const core::QuotaStore& quotas;
  const EvictionLoop& eviction;
  const core::BlendIndex& blend;
  const std::atomic<uint64_t>& blend_match_requests;
  const std::atomic<uint64_t>& blend_matches;
  const http::RequestMetrics& requests;
};

// The Prometheus text exposition (format 0.0.4) of every family.
std::string render_metrics(const MetricsSources& sources);

}  // namespace lmcache::app
