#include "core/chain_link_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/token_chain_hasher.h"

namespace lmcache::core {
namespace {

using Digest = ChainLinkCache::Digest;

constexpr size_t kChunk = 4;

// A digest whose first eight bytes (which choose stripe and set) are `low`, the rest `fill`.
Digest digest(uint64_t low, uint8_t fill = 0xAB) {
  Digest out;
  out.fill(fill);
  std::memcpy(out.data(), &low, sizeof(low));
  return out;
}

// Inserts the one link (previous, tokens) -> out.
void insert(ChainLinkCache& cache, const Digest& previous, const std::vector<uint32_t>& tokens,
            const Digest& out) {
  cache.insert_chain(previous, tokens, std::span<const Digest>(&out, 1));
}

// Room for exactly one set of four links: every link lands in it.
ChainLinkCache one_set() {
  return ChainLinkCache(kChunk, ChainLinkCache::bytes_per_link(kChunk) * 4);
}

TEST(ChainLinkCacheTest, AnInsertedLinkIsFoundWithItsDigest) {
  ChainLinkCache cache(kChunk, 1 << 20);
  const std::vector<uint32_t> tokens = {1, 2, 3, 4};
  Digest out{};
  EXPECT_FALSE(cache.find(digest(7), tokens, out));
  insert(cache, digest(7), tokens, digest(99, 0x11));
  ASSERT_TRUE(cache.find(digest(7), tokens, out));
  EXPECT_EQ(out, digest(99, 0x11));
  const ChainLinkCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.links, 1u);
  EXPECT_GT(stats.capacity_links, 0u);
}

TEST(ChainLinkCacheTest, AChainIsInsertedLinkByLink) {
  ChainLinkCache cache(kChunk, 1 << 20);
  const std::vector<uint32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Digest digests[] = {digest(100), digest(200), digest(300)};
  cache.insert_chain(digest(7), tokens, digests);
  Digest out{};
  const Digest previous[] = {digest(7), digest(100), digest(200)};
  for (size_t i = 0; i < 3; ++i) {
    const std::span<const uint32_t> chunk(&tokens[i * kChunk], kChunk);
    ASSERT_TRUE(cache.find(previous[i], chunk, out)) << "link " << i;
    EXPECT_EQ(out, digests[i]);
  }
  // A chunk after another previous digest than its own is not the same link.
  EXPECT_FALSE(cache.find(digest(7), std::span<const uint32_t>(&tokens[kChunk], kChunk), out));
  EXPECT_EQ(cache.stats().inserted, 3u);
  EXPECT_EQ(cache.stats().links, 3u);
}

TEST(ChainLinkCacheTest, EveryTokenAndEveryDigestByteIsCompared) {
  ChainLinkCache cache(kChunk, 1 << 20);
  const std::vector<uint32_t> tokens = {1, 2, 3, 4};
  insert(cache, digest(7), tokens, digest(99));
  Digest out{};
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::vector<uint32_t> changed = tokens;
    changed[i] ^= 0x80000000u;
    EXPECT_FALSE(cache.find(digest(7), changed, out)) << "token " << i;
  }
  // Another byte beyond the first eight (which seed the set's hash): another link.
  Digest other_previous = digest(7);
  other_previous[31] ^= 1;
  EXPECT_FALSE(cache.find(other_previous, tokens, out));
  EXPECT_TRUE(cache.find(digest(7), tokens, out));
}

TEST(ChainLinkCacheTest, AFullSetReplacesItsLeastRecentlyUsedLink) {
  ChainLinkCache cache = one_set();
  ASSERT_EQ(cache.stats().capacity_links, 4u);
  const std::vector<uint32_t> tokens = {5, 6, 7, 8};
  for (uint64_t i = 0; i < 4; ++i) insert(cache, digest(i), tokens, digest(100 + i));
  Digest out{};
  ASSERT_TRUE(cache.find(digest(0), tokens, out));  // the oldest is now the most recent
  insert(cache, digest(4), tokens, digest(104));
  EXPECT_TRUE(cache.find(digest(0), tokens, out));
  EXPECT_EQ(out, digest(100));
  EXPECT_FALSE(cache.find(digest(1), tokens, out));  // least recently used: replaced
  EXPECT_TRUE(cache.find(digest(2), tokens, out));
  EXPECT_TRUE(cache.find(digest(3), tokens, out));
  EXPECT_TRUE(cache.find(digest(4), tokens, out));
  EXPECT_EQ(cache.stats().links, 4u);
}

TEST(ChainLinkCacheTest, InsertingAHeldLinkAgainKeepsOneCopy) {
  ChainLinkCache cache = one_set();
  const std::vector<uint32_t> tokens = {5, 6, 7, 8};
  insert(cache, digest(0), tokens, digest(100));
  insert(cache, digest(0), tokens, digest(100));
  EXPECT_EQ(cache.stats().links, 1u);
  // Three more fit beside it without replacing it.
  for (uint64_t i = 1; i < 4; ++i) insert(cache, digest(i), tokens, digest(100 + i));
  Digest out{};
  EXPECT_TRUE(cache.find(digest(0), tokens, out));
  EXPECT_EQ(cache.stats().links, 4u);
}

TEST(ChainLinkCacheTest, TooSmallACapacityHoldsNothing) {
  ChainLinkCache cache(kChunk, ChainLinkCache::bytes_per_link(kChunk) * 4 - 1);
  const std::vector<uint32_t> tokens = {1, 2, 3, 4};
  insert(cache, digest(1), tokens, digest(2));
  Digest out{};
  EXPECT_FALSE(cache.find(digest(1), tokens, out));
  EXPECT_EQ(cache.stats().capacity_links, 0u);
  EXPECT_EQ(cache.stats().links, 0u);
}

TEST(ChainLinkCacheTest, ChunkSizeZeroIsRejected) {
  EXPECT_THROW(ChainLinkCache(0, 1 << 20), std::invalid_argument);
}

std::vector<uint32_t> counting_tokens(size_t n, uint32_t start) {
  std::vector<uint32_t> tokens(n);
  for (size_t i = 0; i < n; ++i) tokens[i] = start + static_cast<uint32_t>(i) * 7919u;
  return tokens;
}

TEST(ChainLinkCacheTest, AHasherWithTheCacheGivesTheSameHashesAndReusesSharedPrefixes) {
  const TokenChainHasher plain(kChunk);
  const TokenChainHasher cached(kChunk, 1 << 20);
  const std::vector<uint32_t> first = counting_tokens(10 * kChunk, 1);
  std::vector<uint32_t> diverging = first;  // the same six chunks, then others
  for (size_t i = 6 * kChunk; i < diverging.size(); ++i) diverging[i] += 1;

  // First request: only the first link is kept. Second: it is found, the rest is kept.
  EXPECT_EQ(cached.chunk_hashes(first), plain.chunk_hashes(first));
  EXPECT_EQ(cached.link_cache_stats().inserted, 1u);
  EXPECT_EQ(cached.link_cache_stats().hits, 0u);
  EXPECT_EQ(cached.chunk_hashes(first), plain.chunk_hashes(first));
  EXPECT_EQ(cached.link_cache_stats().hits, 1u);
  EXPECT_EQ(cached.link_cache_stats().inserted, 10u);
  EXPECT_EQ(cached.chunk_hashes(first), plain.chunk_hashes(first));
  EXPECT_EQ(cached.link_cache_stats().hits, 11u);
  EXPECT_EQ(cached.link_cache_stats().inserted, 10u);
  // A continuation of a held prefix keeps its new links at once.
  EXPECT_EQ(cached.chunk_hashes(diverging), plain.chunk_hashes(diverging));
  EXPECT_EQ(cached.link_cache_stats().hits, 17u);
  EXPECT_EQ(cached.link_cache_stats().inserted, 14u);
  // After the first link it does not hold, the rest of a request is hashed without asking.
  EXPECT_EQ(cached.link_cache_stats().misses, 3u);

  // A chunk seen before after another prefix is another link: its hash differs, and is right.
  std::vector<uint32_t> moved = counting_tokens(2 * kChunk, 1);
  std::copy(first.begin() + kChunk, first.begin() + 2 * kChunk, moved.begin());
  std::copy(first.begin(), first.begin() + kChunk, moved.begin() + kChunk);
  EXPECT_EQ(cached.chunk_hashes(moved), plain.chunk_hashes(moved));
  EXPECT_EQ(plain.link_cache_stats().hits + plain.link_cache_stats().links, 0u);
}

TEST(ChainLinkCacheTest, ManyPromptsAndManyContinuationsOfOnePrefixAreAllHeld) {
  // Every chain starts from the same seed digest, and continuations of one prefix share their
  // previous digest: those links must not compete for one set.
  const TokenChainHasher cached(kChunk, 1 << 20);
  std::vector<std::vector<uint32_t>> prompts;
  prompts.reserve(64);
  for (uint32_t p = 0; p < 64; ++p) {
    std::vector<uint32_t> tokens = counting_tokens(3 * kChunk, 11);
    if (p % 2 == 0) {
      tokens[0] += p;  // a new prompt from its first chunk
    } else {
      tokens[2 * kChunk] += p;  // a continuation of the shared two chunks
    }
    prompts.push_back(std::move(tokens));
  }
  // Each prompt is held in full from its second request on: the third round only hits.
  for (int round = 0; round < 2; ++round) {
    for (const auto& tokens : prompts) cached.chunk_hashes(tokens);
  }
  const ChainLinkCache::Stats before = cached.link_cache_stats();
  for (const auto& tokens : prompts) cached.chunk_hashes(tokens);
  const ChainLinkCache::Stats after = cached.link_cache_stats();
  EXPECT_EQ(after.inserted, before.inserted);
  EXPECT_EQ(after.hits - before.hits, 64u * 3u);
  EXPECT_EQ(after.misses, before.misses);
}

TEST(ChainLinkCacheTest, ThreadsSharingTheCacheAllGetTheRightHashes) {
  const TokenChainHasher plain(kChunk);
  const TokenChainHasher cached(kChunk, ChainLinkCache::bytes_per_link(kChunk) * 4 * 16);
  // Four sequences with a common prefix, more links than the cache holds, hashed by four
  // threads at once: hits, misses, inserts and replacements race.
  std::vector<std::vector<uint32_t>> sequences;
  sequences.reserve(4);
  for (uint32_t s = 0; s < 4; ++s) {
    std::vector<uint32_t> tokens = counting_tokens(200 * kChunk, 3);
    for (size_t i = 50 * kChunk; i < tokens.size(); ++i) tokens[i] += s;
    sequences.push_back(std::move(tokens));
  }
  std::vector<std::vector<ChunkHash>> expected;
  expected.reserve(sequences.size());
  for (const auto& tokens : sequences) expected.push_back(plain.chunk_hashes(tokens));
  std::vector<int> wrong(sequences.size(), 0);
  std::vector<std::thread> threads;
  threads.reserve(sequences.size());
  for (size_t t = 0; t < sequences.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const size_t s = (t + static_cast<size_t>(round)) % sequences.size();
        if (cached.chunk_hashes(sequences[s]) != expected[s]) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(sequences.size(), 0));
  EXPECT_GT(cached.link_cache_stats().hits, 0u);
}

}  // namespace
}  // namespace lmcache::core
