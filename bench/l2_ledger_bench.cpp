// L2 ledger benchmarks: memory per key at 10M keys, event throughput, eviction planning cost.
//
// One ledger is built once and shared: 10,000,000 keys in salt "big" plus 100,000 keys spread
// over 7 small salts, 4 model names, 8 kv ranks, 4 owners, 32-byte hashes.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/eviction_planner.h"
#include "core/key_directory.h"
#include "core/usage_ledger.h"

namespace lmcache::core {
namespace {

constexpr uint64_t kBigKeys = 10'000'000;
constexpr uint64_t kSmallKeys = 100'000;
constexpr int kSmallSalts = 7;
constexpr int kModels = 4;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

const std::vector<std::string>& models() {
  static const std::vector<std::string> names = {"meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-7B",
                                                 "mistralai/Mistral-7B", "deepseek/V3"};
  return names;
}
const std::vector<std::string>& owners() {
  static const std::vector<std::string> names = {"mp-0", "mp-1", "mp-2", "mp-3"};
  return names;
}
std::string small_salt(uint64_t n) { return "tenant-" + std::to_string(n % kSmallSalts); }

// Rewrites `key` in place as key number n (no allocation once the strings have capacity).
// Keys 0..kBigKeys-1 are in salt "big"; the next kSmallKeys in the small salts.
void make_key(uint64_t n, ObjectKey& key) {
  key.chunk_hash.resize(32);
  for (int w = 0; w < 4; ++w) {
    const uint64_t v = splitmix64(n * 4 + w);
    for (int b = 0; b < 8; ++b) key.chunk_hash[w * 8 + b] = static_cast<char>(v >> (8 * b));
  }
  key.model_name = models()[n % kModels];
  key.kv_rank = static_cast<int32_t>((n / kModels) % 8);
  key.object_group_id = 0;
  if (n < kBigKeys) {
    key.cache_salt = "big";
  } else {
    key.cache_salt = small_salt(n);
  }
}

long resident_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

struct Shared {
  UsageLedger ledger;
  uint64_t next_key = kBigKeys + kSmallKeys;  // next never-used key number
  QuotaLimits quotas;                         // "big" over quota, small salts far under
  double build_seconds = 0;
  long rss_delta = 0;
};

Shared& shared() {
  static Shared* s = [] {
    const long rss_before = resident_bytes();
    auto* s = new Shared;
    ObjectKey key;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t n = 0; n < kBigKeys + kSmallKeys; ++n) {
      make_key(n, key);
      s->ledger.apply_store(key, 4096 + n % 1024, owners()[n % owners().size()]);
    }
    s->build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s->rss_delta = resident_bytes() - rss_before;
    s->quotas.explicit_limits["big"] = 1;
    for (int i = 0; i < kSmallSalts; ++i) {
      s->quotas.explicit_limits[small_salt(i)] = uint64_t{1} << 50;
    }
    return s;
  }();
  return *s;
}

// Memory per tracked key, from the ledger's own account and from the process RSS delta.
void BM_BytesPerKey10M(benchmark::State& state) {
  Shared& s = shared();
  for (auto _ : state) benchmark::DoNotOptimize(s.ledger.key_count());
  const double keys = static_cast<double>(s.ledger.key_count());
  state.counters["keys"] = keys;
  state.counters["bytes_per_key"] = static_cast<double>(s.ledger.memory_bytes()) / keys;
  state.counters["rss_bytes_per_key"] = static_cast<double>(s.rss_delta) / keys;
  state.counters["build_inserts_per_s"] = keys / s.build_seconds;
}
BENCHMARK(BM_BytesPerKey10M)->Iterations(1)->Unit(benchmark::kMillisecond);

// The key directory (ledger included) holding 10M keys with one L2 placement each, fed as
// `POST /events` store batches of 256 entries from 4 instances. Built on first use only, so
// `--benchmark_filter=Directory` measures it alone.
struct DirectoryShared {
  KeyDirectory directory;
  double build_seconds = 0;
  long rss_delta = 0;
};

DirectoryShared& directory_shared() {
  static DirectoryShared* s = [] {
    const long rss_before = resident_bytes();
    auto* s = new DirectoryShared;
    constexpr size_t kBatch = 256;
    std::vector<ObjectKey> keys(kBatch);
    std::vector<CacheEventEntry> entries(kBatch);
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t n = 0; n < kBigKeys; n += kBatch) {
      const size_t count = static_cast<size_t>(std::min<uint64_t>(kBatch, kBigKeys - n));
      for (size_t i = 0; i < count; ++i) {
        make_key(n + i, keys[i]);
        entries[i] = CacheEventEntry{keys[i], 4096 + (n + i) % 1024, {}, -1};
      }
      CacheEventBatch batch;
      batch.instance_id = owners()[(n / kBatch) % owners().size()];
      batch.incarnation = 1;
      batch.seq = n / kBatch + 1;
      batch.type = CacheEventType::kStore;
      batch.tier = CacheTier::kL2;
      batch.backend = "fs";
      batch.ts = 1788000000.0;
      batch.entries = std::span<const CacheEventEntry>(entries.data(), count);
      s->directory.apply_batch(batch);
    }
    s->build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s->rss_delta = resident_bytes() - rss_before;
    return s;
  }();
  return *s;
}

// Memory per key with one L2 placement (ledger + directory), by memory_bytes() and by RSS.
void BM_DirectoryBytesPerKey10M(benchmark::State& state) {
  DirectoryShared& s = directory_shared();
  for (auto _ : state) benchmark::DoNotOptimize(s.directory.counts().keys);
  const double keys = static_cast<double>(s.directory.ledger().key_count());
  state.counters["keys"] = keys;
  state.counters["bytes_per_key"] = static_cast<double>(s.directory.memory_bytes()) / keys;
  state.counters["rss_bytes_per_key"] = static_cast<double>(s.rss_delta) / keys;
  state.counters["build_entries_per_s"] = keys / s.build_seconds;
}
BENCHMARK(BM_DirectoryBytesPerKey10M)->Iterations(1)->Unit(benchmark::kMillisecond);

// Re-store of random existing keys (the update path: size replace, owner, LRU move).
void BM_StoreExisting(benchmark::State& state) {
  Shared& s = shared();
  ObjectKey key;
  uint64_t i = 0;
  for (auto _ : state) {
    make_key(splitmix64(++i) % kBigKeys, key);
    s.ledger.apply_store(key, 8192, "mp-1");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreExisting);

// Lookup of random existing keys (LRU move).
void BM_LookupExisting(benchmark::State& state) {
  Shared& s = shared();
  ObjectKey key;
  uint64_t i = 1'000'000;
  for (auto _ : state) {
    make_key(splitmix64(++i) % kBigKeys, key);
    benchmark::DoNotOptimize(s.ledger.apply_lookup(key));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_LookupExisting);

// Lookup of unknown keys (index miss).
void BM_LookupUnknown(benchmark::State& state) {
  Shared& s = shared();
  ObjectKey key;
  uint64_t i = 0;
  for (auto _ : state) {
    make_key(kBigKeys * 100 + ++i, key);
    key.cache_salt = "big";
    benchmark::DoNotOptimize(s.ledger.apply_lookup(key));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_LookupUnknown);

// A store of a new key plus a delete of an old one (steady churn at 10M keys). Two events.
void BM_StoreNewDeleteOld(benchmark::State& state) {
  Shared& s = shared();
  ObjectKey key;
  for (auto _ : state) {
    make_key(s.next_key, key);
    key.cache_salt = small_salt(s.next_key);
    s.ledger.apply_store(key, 4096, "mp-2");
    make_key(s.next_key - kSmallKeys, key);
    key.cache_salt = small_salt(s.next_key - kSmallKeys);
    benchmark::DoNotOptimize(s.ledger.apply_delete(key));
    ++s.next_key;
  }
  state.SetItemsProcessed(2 * static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreNewDeleteOld);

// One eviction sweep over the ledger for salt "big" (10M keys) choosing state.range(0) victims,
// timed alone; the victims are released afterwards (untimed) so every sweep starts equal.
void BM_PlanVictims(benchmark::State& state) {
  Shared& s = shared();
  const auto victims = static_cast<double>(state.range(0));
  EvictionConfig config;
  config.eviction_ratio = victims / static_cast<double>(s.ledger.key_count("big"));
  const EvictionPlanner planner(config);
  SteadyTime now = std::chrono::steady_clock::now();
  size_t chosen = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    EvictionPlan plan = planner.plan(s.ledger, s.quotas, now);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    chosen = plan.victims.size();
    s.ledger.release_in_flight(plan.victims);
  }
  state.counters["victims"] = static_cast<double>(chosen);
  state.counters["keys_tracked"] = static_cast<double>(s.ledger.key_count());
  state.counters["victims_per_s"] =
      benchmark::Counter(static_cast<double>(chosen) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlanVictims)
    ->Arg(1)
    ->Arg(100)
    ->Arg(10'000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PlanVictims)
    ->Arg(2'000'000)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The sweeps that follow a large one: 2M keys of "big" in flight, nothing new to choose. Must
// not rescan the in-flight keys.
void BM_PlanWithTwoMillionInFlight(benchmark::State& state) {
  Shared& s = shared();
  EvictionConfig config;
  config.eviction_ratio = 0.2;
  const EvictionPlanner planner(config);
  const SteadyTime now = std::chrono::steady_clock::now();
  EvictionPlan first = planner.plan(s.ledger, s.quotas, now);
  size_t chosen = 0;
  for (auto _ : state) {
    EvictionPlan plan = planner.plan(s.ledger, s.quotas, now + std::chrono::seconds(5));
    chosen += plan.victims.size();
  }
  state.counters["in_flight"] = static_cast<double>(first.victims.size());
  state.counters["victims"] = static_cast<double>(chosen);
  s.ledger.release_in_flight(first.victims);
}
BENCHMARK(BM_PlanWithTwoMillionInFlight)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace lmcache::core

BENCHMARK_MAIN();
