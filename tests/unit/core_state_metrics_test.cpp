#include "app/core_state_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/blend_index.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "core/token_chain_hasher.h"

namespace lmcache::app {
namespace {

struct CoreState {
  core::InstanceRegistry registry;
  core::L2Accounting l2{core::EvictionConfig{}};
  core::QuotaStore quotas{std::string(core::QuotaStore::kInMemory)};
  core::BlendIndex blend{4, 1, 42};
  core::PinnedKeys pins;
  core::TokenChainHasher chunk_hasher{4, 1 << 20};
  CoreStateMetrics metrics{registry, l2, quotas, blend, pins, chunk_hasher};

  // Applies one batch of `type` events, one per hash, under `salt`.
  void apply(uint64_t seq, core::L2EventType type, const std::vector<std::string>& hashes,
             std::string_view salt) {
    std::vector<core::L2Event> events;
    events.reserve(hashes.size());
    for (const auto& hash : hashes) {
      events.push_back({type, core::ObjectKeyView(hash, "m", 0, 0, salt), 100});
    }
    l2.apply_batch("mp-a", seq, events);
  }

  std::string text() const { return prometheus::TextSerializer().Serialize(metrics.Collect()); }

  std::optional<prometheus::MetricFamily> family(const std::string& name) const {
    for (auto& f : metrics.Collect()) {
      if (f.name == "lmcache_coordinator_" + name) return f;
    }
    return std::nullopt;
  }
};

std::string hash(char c) { return std::string(32, c); }

TEST(CoreStateMetricsTest, FamiliesHaveTheirTypesAndCountersEndInTotal) {
  CoreState state;
  for (const auto& f : state.metrics.Collect()) {
    ASSERT_TRUE(f.type == prometheus::MetricType::Counter ||
                f.type == prometheus::MetricType::Gauge)
        << f.name;
    const bool total = f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, f.type == prometheus::MetricType::Counter) << f.name;
  }
  ASSERT_TRUE(state.family("l2_events_total").has_value());
  EXPECT_EQ(state.family("l2_events_total")->type, prometheus::MetricType::Counter);
  ASSERT_TRUE(state.family("l2_stored_bytes").has_value());
  EXPECT_EQ(state.family("l2_stored_bytes")->type, prometheus::MetricType::Gauge);
  EXPECT_FALSE(state.family("l2_usage_bytes_total").has_value());  // renamed: a gauge
}

TEST(CoreStateMetricsTest, DefaultQuotaIsAGaugeAbsentWhileExempt) {
  CoreState state;  // the store's fallback default is 0 (allowlist)
  auto family = state.family("l2_default_quota_bytes");
  ASSERT_TRUE(family.has_value());
  EXPECT_EQ(family->type, prometheus::MetricType::Gauge);
  ASSERT_EQ(family->metric.size(), 1u);
  EXPECT_EQ(family->metric[0].gauge.value, 0.0);

  state.quotas.set_default_limit(uint64_t{3} << 30);
  EXPECT_NE(state.text().find("lmcache_coordinator_l2_default_quota_bytes 3221225472\n"),
            std::string::npos)
      << state.text();

  state.quotas.set_default_limit(std::nullopt);
  family = state.family("l2_default_quota_bytes");
  ASSERT_TRUE(family.has_value());
  EXPECT_TRUE(family->metric.empty());
}

TEST(CoreStateMetricsTest, PinnedKeysIsAGaugeOfTheTableSize) {
  CoreState state;
  EXPECT_NE(state.text().find("lmcache_coordinator_pinned_keys 0\n"), std::string::npos);
  const core::PinCount pins[] = {{core::ObjectKey{hash('a'), "m", 0, 0, ""}, 2},
                                 {core::ObjectKey{hash('b'), "m", 0, 0, ""}, 1}};
  state.pins.apply(pins);
  auto family = state.family("pinned_keys");
  ASSERT_TRUE(family.has_value());
  EXPECT_EQ(family->type, prometheus::MetricType::Gauge);
  ASSERT_EQ(family->metric.size(), 1u);
  EXPECT_EQ(family->metric[0].gauge.value, 2.0);
}

TEST(CoreStateMetricsTest, TokenChainCacheHitsMissesAndLinks) {
  CoreState state;
  const std::vector<uint32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};     // two chunks of 4
  for (int i = 0; i < 3; ++i) state.chunk_hasher.chunk_hashes(tokens);  // 0, 1 and 2 hits
  const std::string text = state.text();
  EXPECT_NE(text.find("lmcache_coordinator_token_chain_cache_hits_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("lmcache_coordinator_token_chain_cache_inserts_total 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("lmcache_coordinator_token_chain_cache_links 2\n"), std::string::npos);
}

TEST(CoreStateMetricsTest, SaltsAppearAndDisappearWithTheirKeysAndQuotas) {
  CoreState state;
  state.apply(1, core::L2EventType::kStore, {hash('a'), hash('b')}, "t1");
  state.quotas.set("t2", 4096);
  std::string text = state.text();
  EXPECT_NE(text.find("lmcache_coordinator_l2_usage_bytes{cache_salt=\"t1\"} 200\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lmcache_coordinator_l2_usage_bytes{cache_salt=\"t2\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("lmcache_coordinator_l2_quota_bytes{cache_salt=\"t2\"} 4096\n"),
            std::string::npos);
  EXPECT_EQ(text.find("l2_quota_bytes{cache_salt=\"t1\"}"), std::string::npos);
  EXPECT_NE(text.find("lmcache_coordinator_l2_events_total{type=\"store\"} 2\n"),
            std::string::npos);

  state.apply(2, core::L2EventType::kDelete, {hash('a'), hash('b')}, "t1");
  state.quotas.remove("t2");
  text = state.text();
  EXPECT_EQ(text.find("cache_salt=\"t1\""), std::string::npos) << text;
  EXPECT_EQ(text.find("cache_salt=\"t2\""), std::string::npos) << text;
  EXPECT_NE(text.find("lmcache_coordinator_l2_events_total{type=\"delete\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("lmcache_coordinator_l2_stored_bytes 0\n"), std::string::npos);
}

// A cache salt may hold quotes and newlines ('\' is not allowed in a salt); the exposition
// escapes them, so a hostile salt cannot forge samples.
TEST(CoreStateMetricsTest, SaltLabelValuesAreEscaped) {
  CoreState state;
  const std::string salt = "q\"x\ny 1\nlmcache_coordinator_instances 99";
  ASSERT_EQ(core::check_cache_salt(salt), std::nullopt);
  state.apply(1, core::L2EventType::kStore, {hash('a')}, salt);
  const std::string text = state.text();
  EXPECT_NE(text.find("lmcache_coordinator_l2_usage_bytes{cache_salt=\"q\\\"x\\ny "
                      "1\\nlmcache_coordinator_instances 99\"} 100\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\nlmcache_coordinator_instances 99"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::app
