// Benchmarks of the v2 token chain (core/token_chain_hasher.h): what a `/directory/lookup` by
// `token_ids` costs before touching the directory.
//   BM_HashChain          BLAKE3 chain of 32,768 tokens at C = 256 (128 chunks of 1 KiB)
//   BM_HashAndExpandKeys  the same plus expansion to 1,024 owning ObjectKeys at world size 8
//   BM_HashAndVisitKeys   the same, visiting ObjectKeyViews instead (no key allocation)
// Run: ./build-rel/bench/token_chain_bench --benchmark_repetitions=3
//        --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

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

}  // namespace

BENCHMARK_MAIN();
