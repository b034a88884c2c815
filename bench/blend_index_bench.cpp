// Benchmarks of the CacheBlend directory core (spec section 7 targets):
//   BM_Match32kAgainst1M  match of a 32,768-token request, 1,000,000 published
//                         chunks of 256 tokens, stride 1 (target: median < 1 ms)
//   BM_PublishTokens      publish throughput (target: >= 50 M tokens/s)
//   BM_MemoryPerChunk     memory per published chunk (target: <= 64 bytes plus the key)
// Run (one line): ./build-blend/bench/blend_index_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
// Setup (1 M chunks, 256 M tokens) takes ~10 s. On a shared machine read the
// CPU column and tokens_per_cpu_s; wall time includes waiting for a core.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/blend_index.h"

namespace {

using lmcache::core::BlendIndex;
using lmcache::core::BlendRange;

constexpr size_t kChunk = 256;
constexpr size_t kPublished = 1'000'000;
constexpr size_t kChunksPerRange = 256;
constexpr uint64_t kVocab = 128'256;  // a Llama-3 sized vocabulary

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The tokens of published chunk c are a pure function of c, so the request can
// embed any chunk without keeping all 256 M tokens around.
void chunk_tokens(uint64_t c, uint64_t* out) {
  for (size_t j = 0; j < kChunk; ++j) out[j] = splitmix(c * kChunk + j) % kVocab;
}

// A realistic LMCache-style object key, 45-50 characters.
std::string object_key(uint64_t c) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "meta-llama/Llama-3.1-8B@1@0@%016llx",
                static_cast<unsigned long long>(splitmix(c ^ 0xABCDEF)));
  return buf;
}

BlendRange make_range(uint64_t first_chunk, size_t chunks) {
  BlendRange r;
  r.model_scope = "meta-llama/Llama-3.1-8B";
  r.tokens.resize(chunks * kChunk);
  for (size_t i = 0; i < chunks; ++i) {
    chunk_tokens(first_chunk + i, r.tokens.data() + i * kChunk);
    r.object_keys.push_back(object_key(first_chunk + i));
  }
  r.old_st_base = first_chunk * kChunk;
  return r;
}

struct Published {
  std::unique_ptr<BlendIndex> index;
  double publish_seconds = 0;      // wall time inside publish() only
  double publish_cpu_seconds = 0;  // thread CPU time inside publish() only
};

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The 1 M-chunk index, built once and shared by the benchmarks that need it.
const Published& published_1m() {
  static const Published p = [] {
    Published out;
    out.index = std::make_unique<BlendIndex>(kChunk, 1, 42);
    for (uint64_t c = 0; c < kPublished; c += kChunksPerRange) {
      BlendRange r = make_range(c, std::min(kChunksPerRange, kPublished - c));
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = thread_cpu_seconds();
      out.index->publish(std::span<const BlendRange>(&r, 1));
      out.publish_cpu_seconds += thread_cpu_seconds() - c0;
      out.publish_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return out;
  }();
  return p;
}

void BM_Match32kAgainst1M(benchmark::State& state) {
  const Published& p = published_1m();
  constexpr size_t kRequest = 32'768;
  constexpr size_t kEmbedded = 16;
  std::mt19937_64 rng(7);
  std::vector<uint64_t> request(kRequest);
  for (auto& t : request) t = rng() % kVocab;
  // Published chunks at arbitrary (non-aligned) offsets, not overlapping.
  for (size_t k = 0; k < kEmbedded; ++k) {
    const size_t slot = kRequest / kEmbedded;
    const size_t offset = k * slot + rng() % (slot - kChunk);
    chunk_tokens(rng() % kPublished, request.data() + offset);
  }
  size_t matches = 0;
  for (auto _ : state) {
    auto m = p.index->match("meta-llama/Llama-3.1-8B", std::span<const uint64_t>(request));
    matches = m.size();
    benchmark::DoNotOptimize(m);
  }
  state.counters["matches"] = static_cast<double>(matches);
  state.counters["published_chunks"] = static_cast<double>(p.index->entry_count());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRequest));
}
BENCHMARK(BM_Match32kAgainst1M)->Unit(benchmark::kMicrosecond);

// Publish 32,768 chunks (8.4 M tokens) in ranges of 256 chunks into a fresh index.
void BM_PublishTokens(benchmark::State& state) {
  const size_t chunks = static_cast<size_t>(state.range(0));
  std::vector<BlendRange> ranges;
  for (uint64_t c = 0; c < chunks; c += kChunksPerRange) {
    ranges.push_back(make_range(5'000'000 + c, kChunksPerRange));
  }
  for (auto _ : state) {
    state.PauseTiming();
    auto index = std::make_unique<BlendIndex>(kChunk, 1, 42);
    state.ResumeTiming();
    const auto r = index->publish(ranges);
    benchmark::DoNotOptimize(r);
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chunks * kChunk));
}
BENCHMARK(BM_PublishTokens)->Arg(32'768)->Unit(benchmark::kMillisecond);

// Throughput of the 1 M-chunk build above (fresh index grown to 1 M chunks).
void BM_PublishTokensTo1M(benchmark::State& state) {
  const Published& p = published_1m();
  for (auto _ : state) benchmark::DoNotOptimize(p.index.get());
  state.counters["tokens_per_s"] = static_cast<double>(kPublished * kChunk) / p.publish_seconds;
  state.counters["publish_seconds"] = p.publish_seconds;
  state.counters["tokens_per_cpu_s"] =
      static_cast<double>(kPublished * kChunk) / p.publish_cpu_seconds;
}
BENCHMARK(BM_PublishTokensTo1M)->Iterations(1);

void BM_MemoryPerChunk(benchmark::State& state) {
  const Published& p = published_1m();
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = p.index->memory_bytes();
    benchmark::DoNotOptimize(bytes);
  }
  const double entries = static_cast<double>(p.index->entry_count());
  const double key_bytes = static_cast<double>(p.index->object_key_bytes());
  state.counters["entries"] = entries;
  state.counters["bytes_per_chunk"] = static_cast<double>(bytes) / entries;
  state.counters["bytes_per_chunk_excl_keys"] = (static_cast<double>(bytes) - key_bytes) / entries;
  state.counters["key_bytes_per_chunk"] = key_bytes / entries;
}
BENCHMARK(BM_MemoryPerChunk);

}  // namespace

BENCHMARK_MAIN();
