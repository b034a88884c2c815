// Benchmarks of the v2 token chain (core/token_chain_hasher.h): what a `/directory/lookup` by
// `token_ids` costs before touching the directory.
//   BM_HashChain          BLAKE3 chain of 32,768 tokens at C = 256 (128 chunks of 1 KiB)
//   BM_HashAndExpandKeys  the same plus expansion to 1,024 owning ObjectKeys at world size 8
//   BM_HashAndVisitKeys   the same, visiting ObjectKeyViews instead (no key allocation)
//   BM_DirectoryLookupByTokens  hash, expand and look the 1,024 keys up in an L2Accounting that
//                         holds each with one L2 placement and its chunk's token binding (the
//                         core of `/directory/lookup` by tokens, without JSON)
// Run: ./build-rel/bench/token_chain_bench --benchmark_repetitions=3
//        --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/l2_accounting.h"
#include "core/token_chain_hasher.h"

namespace {

using lmcache::core::ChunkHash;
using lmcache::core::ObjectKeyView;
using lmcache::core::TokenChainHasher;

constexpr size_t kTokens = 32'768;
constexpr size_t kChunkSize = 256;
constexpr int64_t kWorldSize = 8;
constexpr const char* kModel = "meta-llama/Llama-3.1-8B";

std::vector<uint32_t> request_tokens() {
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> vocab(0, 128'255);  // a Llama-3 sized vocabulary
  std::vector<uint32_t> tokens(kTokens);
  for (auto& t : tokens) t = vocab(rng);
  return tokens;
}

void BM_HashChain(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  for (auto _ : state) benchmark::DoNotOptimize(hasher.chunk_hashes(tokens));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kTokens * sizeof(uint32_t)));
}
BENCHMARK(BM_HashChain)->Unit(benchmark::kMicrosecond);

void BM_HashAndExpandKeys(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  for (auto _ : state) {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    auto keys = lmcache::core::expand_object_keys(hashes, kModel, kWorldSize, "");
    benchmark::DoNotOptimize(keys);
  }
}
BENCHMARK(BM_HashAndExpandKeys)->Unit(benchmark::kMicrosecond);

void BM_HashAndVisitKeys(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  for (auto _ : state) {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    uint64_t sum = 0;
    lmcache::core::for_each_object_key(
        hashes, kModel, kWorldSize, "", [&](const ObjectKeyView& key) {
          sum += static_cast<uint8_t>(key.chunk_hash[0]) + static_cast<uint32_t>(key.kv_rank);
        });
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_HashAndVisitKeys)->Unit(benchmark::kMicrosecond);

void BM_DirectoryLookupByTokens(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  lmcache::core::L2Accounting l2{lmcache::core::EvictionConfig{}};
  {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    const auto keys = *lmcache::core::expand_object_keys(hashes, kModel, kWorldSize, "");
    std::vector<int64_t> wide(tokens.begin(), tokens.end());
    std::vector<lmcache::core::CacheEventEntry> entries;
    entries.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const size_t chunk = i / kWorldSize;
      entries.push_back({keys[i], 1 << 20,
                         std::span<const int64_t>(wide).subspan(chunk * kChunkSize, kChunkSize),
                         static_cast<int64_t>(chunk * kChunkSize)});
    }
    lmcache::core::CacheEventBatch batch;
    batch.instance_id = "mp-0";
    batch.incarnation = 1;
    batch.seq = 1;
    batch.type = lmcache::core::CacheEventType::kStore;
    batch.tier = lmcache::core::CacheTier::kL2;
    batch.backend = "fs";
    batch.entries = entries;
    l2.apply_cache_batch(batch);
  }
  for (auto _ : state) {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    const auto keys = *lmcache::core::expand_object_keys(hashes, kModel, kWorldSize, "");
    benchmark::DoNotOptimize(l2.lookup(keys));
  }
}
BENCHMARK(BM_DirectoryLookupByTokens)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
