#include "app/metrics_exposition.h"

#include <fmt/format.h>

#include <map>

#include "core/gib.h"

namespace lmcache::app {
namespace {

constexpr const char* kPrefix = "lmcache_coordinator_";

// Prometheus label values escape backslash, double quote and newline.
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {}{} {}\n# TYPE {}{} {}\n", kPrefix, name, help, kPrefix, name, type);
}

void sample(std::string& out, std::string_view name, uint64_t value, std::string_view labels = "") {
  if (labels.empty()) {
    out += fmt::format("{}{} {}\n", kPrefix, name, value);
  } else {
    out += fmt::format("{}{}{{{}}} {}\n", kPrefix, name, labels, value);
  }
}

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            uint64_t value) {
  family(out, name, type, help);
  sample(out, name, value);
}

}  // namespace

std::string render_metrics(const MetricsSources& s) {
  std::string out;
  out.reserve(8192);
  single(out, "instances", "gauge", "Registered MP server instances.", s.registry.size());
  single(out, "heartbeats_total", "counter", "Heartbeats from registered instances.",
         s.heartbeats.load());
  single(out, "instance_evictions_total", "counter",
         "Instances removed by the health sweep for missing heartbeats.",
         s.health_sweep.removed_total());

  const core::L2Counters l2 = s.l2.counters();
  family(out, "l2_events_total", "counter", "L2 events applied, by type.");
  static constexpr const char* kTypes[] = {"store", "lookup", "delete"};
  for (size_t i = 0; i < core::kL2EventTypes; ++i) {
    sample(out, "l2_events_total", l2.events[i], fmt::format("type=\"{}\"", kTypes[i]));
  }
  single(out, "l2_rejected_events_total", "counter",
         "L2 events rejected for an invalid key or field.", l2.rejected_events);
  single(out, "l2_duplicate_batches_total", "counter",
         "L2 event batches acknowledged as replays (seq not above the last applied).",
         l2.duplicate_batches);
  single(out, "l2_seq_gaps_total", "counter", "L2 event batches that followed a seq gap.",
         l2.gap_batches);
  single(out, "l2_missed_batches_total", "counter", "L2 event batches lost in seq gaps.",
         l2.missed_batches);
  single(out, "l2_tracked_keys", "gauge", "L2 keys tracked.", l2.tracked_keys);
  single(out, "l2_usage_bytes_total", "gauge", "Bytes recorded in L2 over all salts.",
         l2.total_bytes);
  single(out, "l2_ledger_memory_bytes", "gauge", "Memory held by the L2 ledger.", l2.memory_bytes);
  single(out, "resync_keys_total", "counter", "L2 keys recorded by the startup resync.",
         l2.resync_keys);

  // Per salt: usage for salts with keys, quota for salts with one.
  std::map<std::string, std::pair<uint64_t, std::optional<uint64_t>>> salts;
  for (const auto& usage : s.l2.salts()) salts[usage.cache_salt].first = usage.bytes;
  for (const auto& [salt, limit] : s.quotas.all()) salts[salt].second = limit;
  family(out, "l2_usage_bytes", "gauge", "Bytes recorded in L2, by cache salt.");
  for (const auto& [salt, entry] : salts) {
    sample(out, "l2_usage_bytes", entry.first,
           fmt::format("cache_salt=\"{}\"", escape_label(salt)));
  }
  family(out, "l2_quota_bytes", "gauge", "Quota limit in bytes, by cache salt with a quota.");
  for (const auto& [salt, entry] : salts) {
    if (entry.second) {
      sample(out, "l2_quota_bytes", *entry.second,
             fmt::format("cache_salt=\"{}\"", escape_label(salt)));
    }
  }

  const EvictionStats eviction = s.eviction.stats();
  single(out, "eviction_sweeps_total", "counter", "Eviction sweeps run.", eviction.sweeps);
  single(out, "eviction_victims_dispatched_total", "counter",
         "Keys sent to MP servers in DELETE /l2 requests.", eviction.victims_dispatched);
  single(out, "eviction_dispatches_total", "counter", "DELETE /l2 requests sent.",
         eviction.dispatches);
  single(out, "eviction_dispatch_failures_total", "counter",
         "DELETE /l2 requests that failed or were refused.", eviction.dispatch_failures);

  single(out, "blend_entries", "gauge", "CacheBlend (content, object key) entries.",
         s.blend.entry_count());
  single(out, "blend_memory_bytes", "gauge", "Memory held by the CacheBlend index.",
         s.blend.memory_bytes());
  single(out, "blend_match_requests_total", "counter", "CacheBlend match requests answered.",
         s.blend_match_requests.load());
  single(out, "blend_matches_total", "counter", "CacheBlend matches reported.",
         s.blend_matches.load());

  s.requests.render(out);
  return out;
}

}  // namespace lmcache::app
