// Benchmarks of the v2 token chain (core/token_chain_hasher.h): what a `/directory/lookup` by
// `token_ids` costs before touching the directory.
//   BM_HashChain          BLAKE3 chain of 32,768 tokens at C = 256 (128 chunks of 1 KiB)
//   BM_HashChainLinkCache/N  the same with the link cache on: every link new (0) or cached (1)
//   BM_HashAndExpandKeys  the same plus expansion to 1,024 owning ObjectKeys at world size 8
//   BM_HashAndVisitKeys   the same, visiting ObjectKeyViews instead (no key allocation)
//   BM_DirectoryLookupByTokens  hash, expand and look the 1,024 keys up in an L2Accounting that
//                         holds each with one L2 placement and its chunk's token binding (the
//                         core of `/directory/lookup` by tokens, without JSON)
//   BM_DirectoryLookupByTokens10M  the same with key views, in a directory of 10,000,000 other
//                         keys (built once, ~25 s and ~1.2 GB): the request's 1,024 keys are
//                         found among them, so the index probes miss the CPU caches
//   BM_DirectoryLookupByTokens10MLinkCache/N  the same with the link cache on, N of the 128
//                         chunks new in each request (0: a repeated prompt; 128: a new one)
//   BM_DirectoryLookupByTokens10MOwningKeys  the same through the per-key path of before (owning
//                         keys, one directory and binding look-up per key)
//   BM_ReadLookupBody     the HTTP side: reading the ~200 KB JSON body of that request
//                         (http/token_keys_fast_reader.h)
//   BM_WriteLookupAnswer  the HTTP side: writing its ~230 KB answer for 1,024 unknown keys
//                         (http/directory_lookup_answer.h)
// Run: ./build-rel/bench/token_chain_bench --benchmark_repetitions=3
//        --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/l2_accounting.h"
#include "core/token_chain_hasher.h"
#include "http/directory_lookup_answer.h"
#include "http/token_keys_fast_reader.h"

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

// The chain alone with the link cache on: every link new (0), or every link cached (1).
void BM_HashChainLinkCache(benchmark::State& state) {
  auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize, size_t{64} << 20);
  const bool repeated = state.range(0) == 1;
  hasher.chunk_hashes(tokens);
  uint32_t turn = 0;
  for (auto _ : state) {
    if (!repeated) tokens[0] = 200'000 + ++turn;
    benchmark::DoNotOptimize(hasher.chunk_hashes(tokens));
  }
}
BENCHMARK(BM_HashChainLinkCache)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

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

// The keys of `hashes` at kWorldSize as views (what the lookup route passes to the directory).
std::vector<ObjectKeyView> key_views(const std::vector<ChunkHash>& hashes) {
  std::vector<ObjectKeyView> views;
  views.reserve(hashes.size() * kWorldSize);
  lmcache::core::for_each_object_key(hashes, kModel, kWorldSize, "",
                                     [&](const ObjectKeyView& key) { views.push_back(key); });
  return views;
}

// An L2Accounting holding 10,000,000 random keys (one L2 placement each, 4 instances) plus the
// request's 1,024 keys with their chunks' token bindings.
lmcache::core::L2Accounting& big_directory(const std::vector<uint32_t>& tokens) {
  static lmcache::core::L2Accounting* l2 = [&] {
    auto* out = new lmcache::core::L2Accounting{lmcache::core::EvictionConfig{}};
    constexpr uint64_t kKeys = 10'000'000;
    constexpr size_t kBatch = 256;
    const char* instances[] = {"mp-0", "mp-1", "mp-2", "mp-3"};
    std::vector<std::string> hashes(kBatch, std::string(32, '\0'));
    std::vector<lmcache::core::CacheEventEntry> entries(kBatch);
    std::mt19937_64 rng(7);
    for (uint64_t n = 0; n < kKeys; n += kBatch) {
      for (size_t i = 0; i < kBatch; ++i) {
        for (size_t w = 0; w < 32; w += 8) {
          const uint64_t word = rng();
          std::memcpy(hashes[i].data() + w, &word, 8);
        }
        const auto rank = static_cast<uint32_t>((n + i) % kWorldSize);
        entries[i] = {ObjectKeyView(hashes[i], kModel,
                                    lmcache::core::kv_rank_from_wire(
                                        lmcache::core::pack_kv_rank(kWorldSize, rank)),
                                    0, ""),
                      4096,
                      {},
                      -1};
      }
      lmcache::core::CacheEventBatch batch;
      batch.instance_id = instances[(n / kBatch) % 4];
      batch.incarnation = 1;
      batch.seq = n / kBatch + 1;
      batch.type = lmcache::core::CacheEventType::kStore;
      batch.tier = lmcache::core::CacheTier::kL2;
      batch.backend = "fs";
      batch.entries = entries;
      out->apply_cache_batch(batch);
    }
    const std::vector<ChunkHash> hashes_of_request =
        TokenChainHasher(kChunkSize).chunk_hashes(tokens);
    const std::vector<ObjectKeyView> keys = key_views(hashes_of_request);
    std::vector<int64_t> wide(tokens.begin(), tokens.end());
    std::vector<lmcache::core::CacheEventEntry> request_entries;
    for (size_t i = 0; i < keys.size(); ++i) {
      const size_t chunk = i / kWorldSize;
      request_entries.push_back(
          {keys[i], 1 << 20, std::span<const int64_t>(wide).subspan(chunk * kChunkSize, kChunkSize),
           static_cast<int64_t>(chunk * kChunkSize)});
    }
    lmcache::core::CacheEventBatch batch;
    batch.instance_id = "mp-0";
    batch.incarnation = 1;
    batch.seq = kKeys;
    batch.type = lmcache::core::CacheEventType::kStore;
    batch.tier = lmcache::core::CacheTier::kL2;
    batch.backend = "fs";
    batch.entries = request_entries;
    out->apply_cache_batch(batch);
    return out;
  }();
  return *l2;
}

void BM_DirectoryLookupByTokens10M(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  const lmcache::core::L2Accounting& l2 = big_directory(tokens);
  size_t found = 0;
  for (auto _ : state) {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    const std::vector<ObjectKeyView> keys = key_views(hashes);
    const auto answer = l2.lookup(keys);
    found = 0;
    for (size_t i = 0; i < keys.size(); ++i) found += answer.placements(i).empty() ? 0 : 1;
    benchmark::DoNotOptimize(answer);
  }
  if (found != kTokens / kChunkSize * kWorldSize) state.SkipWithError("request keys not found");
}
BENCHMARK(BM_DirectoryLookupByTokens10M)->Unit(benchmark::kMicrosecond);

// The same with the coordinator's link cache (64 MiB, the --token-chain-cache-mb default). The
// argument is how many of the 128 chunks are new in each request: the token opening the first new
// chunk changes every iteration, so that chunk and every later one are links never seen before
// (0: the same request again, every link cached; 32: a conversation that grew by a quarter; 128:
// a prompt never seen, every link hashed and inserted).
void BM_DirectoryLookupByTokens10MLinkCache(benchmark::State& state) {
  auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize, size_t{64} << 20);
  const lmcache::core::L2Accounting& l2 = big_directory(tokens);
  const auto new_chunks = static_cast<size_t>(state.range(0));
  const size_t changing = (kTokens / kChunkSize - new_chunks) * kChunkSize;
  hasher.chunk_hashes(tokens);  // the request seen once before
  uint32_t turn = 0;
  for (auto _ : state) {
    if (new_chunks > 0) tokens[changing] = 200'000 + ++turn;
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    const std::vector<ObjectKeyView> keys = key_views(hashes);
    benchmark::DoNotOptimize(l2.lookup(keys));
  }
  const auto links = hasher.link_cache_stats();
  state.counters["hit_ratio"] =
      static_cast<double>(links.hits) / static_cast<double>(links.hits + links.inserted);
}
BENCHMARK(BM_DirectoryLookupByTokens10MLinkCache)
    ->Arg(0)
    ->Arg(32)
    ->Arg(128)
    ->Unit(benchmark::kMicrosecond);

// The same through the per-key path the route used before: owning keys, one lookup per key.
void BM_DirectoryLookupByTokens10MOwningKeys(benchmark::State& state) {
  const auto tokens = request_tokens();
  const TokenChainHasher hasher(kChunkSize);
  const lmcache::core::L2Accounting& l2 = big_directory(tokens);
  for (auto _ : state) {
    const std::vector<ChunkHash> hashes = hasher.chunk_hashes(tokens);
    const auto keys = *lmcache::core::expand_object_keys(hashes, kModel, kWorldSize, "");
    benchmark::DoNotOptimize(l2.lookup(keys));
  }
}
BENCHMARK(BM_DirectoryLookupByTokens10MOwningKeys)->Unit(benchmark::kMicrosecond);

std::string lookup_body(const std::vector<uint32_t>& tokens) {
  std::string body = R"({"model_name":"meta-llama/Llama-3.1-8B-Instruct","world_size":8,)"
                     R"("cache_salt":"tenant-0","token_ids":[)";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i != 0) body += ',';
    body += std::to_string(tokens[i]);
  }
  return body + "]}";
}

void BM_ReadLookupBody(benchmark::State& state) {
  const std::string body = lookup_body(request_tokens());
  for (auto _ : state) {
    auto read = lmcache::http::read_token_keys_fast(body, lmcache::http::TokenKeysRules{1, false});
    if (!read) state.SkipWithError("body declined");
    benchmark::DoNotOptimize(read);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReadLookupBody)->Unit(benchmark::kMicrosecond);

void BM_WriteLookupAnswer(benchmark::State& state) {
  const std::vector<ChunkHash> hashes = TokenChainHasher(kChunkSize).chunk_hashes(request_tokens());
  const std::vector<ObjectKeyView> keys = key_views(hashes);
  const lmcache::core::L2Accounting l2{lmcache::core::EvictionConfig{}};
  const auto found = l2.lookup(keys);
  for (auto _ : state) {
    benchmark::DoNotOptimize(lmcache::http::lookup_answer_text(hashes.size(), keys, found));
  }
}
BENCHMARK(BM_WriteLookupAnswer)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
