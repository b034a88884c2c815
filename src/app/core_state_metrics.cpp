#include "app/core_state_metrics.h"

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "app/metric_families.h"

namespace lmcache::app {
using prometheus::MetricFamily;
using prometheus::MetricType;

CoreStateMetrics::CoreStateMetrics(const core::InstanceRegistry& registry,
                                   const core::L2Accounting& l2, const core::QuotaStore& quotas,
                                   const core::BlendIndex& blend, const core::PinnedKeys& pins,
                                   const core::TokenChainHasher& chunk_hasher)
    : registry_(registry),
      l2_(l2),
      quotas_(quotas),
      blend_(blend),
      pins_(pins),
      chunk_hasher_(chunk_hasher) {}

std::vector<MetricFamily> CoreStateMetrics::Collect() const {
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;
  std::vector<MetricFamily> out;
  out.push_back(single_metric("instances", "Registered MP server instances.", kGauge,
                              static_cast<double>(registry_.size())));
  out.push_back(single_metric("heartbeats_total", "Heartbeats accepted.", kCounter,
                              static_cast<double>(registry_.heartbeats())));

  const core::L2Counters l2 = l2_.counters();
  MetricFamily events = metric_family("l2_events_total", "L2 events applied, by type.", kCounter);
  static constexpr const char* kTypes[core::kL2EventTypes] = {"store", "lookup", "delete"};
  for (size_t i = 0; i < core::kL2EventTypes; ++i) {
    add_sample(events, static_cast<double>(l2.events[i]), {{"type", kTypes[i]}});
  }
  out.push_back(std::move(events));
  out.push_back(single_metric("l2_rejected_events_total",
                              "L2 events rejected for an invalid key or field.", kCounter,
                              static_cast<double>(l2.rejected_events)));
  out.push_back(
      single_metric("l2_duplicate_batches_total",
                    "L2 event batches acknowledged as replays (seq not above the last applied).",
                    kCounter, static_cast<double>(l2.duplicate_batches)));
  out.push_back(single_metric("l2_seq_gaps_total", "L2 event batches that followed a seq gap.",
                              kCounter, static_cast<double>(l2.gap_batches)));
  out.push_back(single_metric("l2_missed_batches_total", "L2 event batches lost in seq gaps.",
                              kCounter, static_cast<double>(l2.missed_batches)));
  out.push_back(single_metric("l2_tracked_keys", "L2 keys tracked.", kGauge,
                              static_cast<double>(l2.tracked_keys)));
  out.push_back(single_metric("l2_stored_bytes", "Bytes recorded in L2 over all salts.", kGauge,
                              static_cast<double>(l2.total_bytes)));
  out.push_back(single_metric("l2_ledger_memory_bytes",
                              "Memory held by the L2 ledger and the key directory.", kGauge,
                              static_cast<double>(l2.memory_bytes)));
  const core::DirectoryCounts directory = l2_.directory_counts();
  MetricFamily directory_keys = metric_family(
      "directory_keys", "Keys in the key directory with a placement in the tier.", kGauge);
  MetricFamily directory_placements =
      metric_family("directory_placements", "Placements in the key directory, by tier.", kGauge);
  static constexpr const char* kTiers[2] = {"l1", "l2"};
  for (size_t tier = 0; tier < 2; ++tier) {
    add_sample(directory_keys, static_cast<double>(directory.keys_by_tier[tier]),
               {{"tier", kTiers[tier]}});
    add_sample(directory_placements, static_cast<double>(directory.placements_by_tier[tier]),
               {{"tier", kTiers[tier]}});
  }
  out.push_back(std::move(directory_keys));
  out.push_back(std::move(directory_placements));
  out.push_back(single_metric("directory_lookups_total", "POST /directory/lookup requests served.",
                              kCounter, static_cast<double>(l2_.directory_lookups())));
  out.push_back(single_metric("resync_keys_total", "L2 keys recorded by the startup resync.",
                              kCounter, static_cast<double>(l2.resync_keys)));

  // Per salt: usage for salts with keys or a quota, quota for salts with one.
  std::map<std::string, std::pair<uint64_t, std::optional<uint64_t>>> salts;
  for (const auto& usage : l2_.salts()) salts[usage.cache_salt].first = usage.bytes;
  for (const auto& [salt, limit] : quotas_.all()) salts[salt].second = limit;
  MetricFamily usage =
      metric_family("l2_usage_bytes", "Bytes recorded in L2, by cache salt.", kGauge);
  MetricFamily quota =
      metric_family("l2_quota_bytes", "Quota limit in bytes, by cache salt with a quota.", kGauge);
  for (const auto& [salt, entry] : salts) {
    add_sample(usage, static_cast<double>(entry.first), {{"cache_salt", salt}});
    if (entry.second) add_sample(quota, static_cast<double>(*entry.second), {{"cache_salt", salt}});
  }
  out.push_back(std::move(usage));
  out.push_back(std::move(quota));
  // Absent, not NaN, while salts without a quota are exempt: there is no limit to graph, and a
  // NaN sample would break sums and alerts over the family.
  MetricFamily default_quota = metric_family(
      "l2_default_quota_bytes",
      "Quota limit in bytes of salts without their own; absent while they are exempt.", kGauge);
  if (const core::DefaultLimit limit = quotas_.default_limit()) {
    add_sample(default_quota, static_cast<double>(*limit));
  }
  out.push_back(std::move(default_quota));

  out.push_back(single_metric("blend_entries", "CacheBlend (content, object key) entries.", kGauge,
                              static_cast<double>(blend_.entry_count())));
  out.push_back(single_metric("blend_memory_bytes", "Memory held by the CacheBlend index.", kGauge,
                              static_cast<double>(blend_.memory_bytes())));
  out.push_back(single_metric("pinned_keys", "L2 keys pinned (never chosen for eviction).", kGauge,
                              static_cast<double>(pins_.size())));
  const core::ChainLinkCache::Stats links = chunk_hasher_.link_cache_stats();
  out.push_back(single_metric("token_chain_cache_hits_total",
                              "Token-chain links read from the link cache instead of hashed.",
                              kCounter, static_cast<double>(links.hits)));
  out.push_back(single_metric("token_chain_cache_inserts_total",
                              "Token-chain links hashed and put in the link cache.", kCounter,
                              static_cast<double>(links.inserted)));
  out.push_back(single_metric("token_chain_cache_links", "Token-chain links in the link cache.",
                              kGauge, static_cast<double>(links.links)));
  return out;
}

}  // namespace lmcache::app
