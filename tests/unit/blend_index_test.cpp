#include "core/blend_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/snapshot_stream.h"

namespace lmcache::core {
namespace {

std::vector<uint64_t> random_tokens(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> dist(0, 150000);
  std::vector<uint64_t> v(n);
  for (auto& t : v) t = dist(rng);
  return v;
}

std::vector<uint64_t> concat(std::initializer_list<std::vector<uint64_t>> parts) {
  std::vector<uint64_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

BlendRange range(std::string scope, std::vector<uint64_t> tokens, std::vector<std::string> keys,
                 uint64_t base = 0) {
  return BlendRange{std::move(scope), std::move(tokens), std::move(keys), base};
}

BlendPublishResult publish_one(BlendIndex& index, BlendRange r) {
  return index.publish(std::span<const BlendRange>(&r, 1));
}

size_t remove_keys(BlendIndex& index, std::vector<std::string> keys) {
  return index.remove(std::span<const std::string>(keys));
}

std::vector<BlendMatch> match(const BlendIndex& index, std::string_view scope,
                              const std::vector<uint64_t>& tokens) {
  return index.match(scope, std::span<const uint64_t>(tokens));
}

// Joins the parts into one string. (Avoids "literal" + std::string, for which
// g++ 12 at -O3 emits a false -Wrestrict warning.)
template <typename... Parts>
std::string join(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}

constexpr size_t kChunk = 8;

TEST(BlendIndexTest, PublishedChunksFoundAtAnyOffset) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1), b = random_tokens(kChunk, 2);
  const auto r =
      publish_one(index, range("m", concat({a, b, random_tokens(3, 3)}), {"ka", "kb"}, 100));
  EXPECT_EQ(r.inserted, 2u);
  EXPECT_EQ(r.skipped_ranges, 0u);
  EXPECT_EQ(index.entry_count(), 2u);
  const auto request = concat({random_tokens(5, 4), b, random_tokens(7, 5), a});
  const std::vector<BlendMatch> expected = {{"kb", 108, 5}, {"ka", 100, 20}};
  EXPECT_EQ(match(index, "m", request), expected);
}

TEST(BlendIndexTest, TrailingPartialChunkIgnored) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1), tail = random_tokens(kChunk, 2);
  // 1.5 chunks: one whole chunk, one key.
  publish_one(index, range("m", concat({a, std::vector<uint64_t>(tail.begin(), tail.begin() + 4)}),
                           {"ka"}));
  EXPECT_EQ(index.entry_count(), 1u);
  EXPECT_TRUE(match(index, "m", tail).empty());
}

TEST(BlendIndexTest, ChunkCountMismatchSkipsWholeRange) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(2 * kChunk, 1);
  std::vector<BlendRange> ranges = {range("m", a, {"k1"}),              // 2 chunks, 1 key
                                    range("m", a, {"k1", "k2", "k3"}),  // 2 chunks, 3 keys
                                    range("m", random_tokens(kChunk, 9), {"ok"})};
  const auto r = index.publish(ranges);
  EXPECT_EQ(r.skipped_ranges, 2u);
  EXPECT_EQ(r.inserted, 1u);
  EXPECT_TRUE(match(index, "m", a).empty());
}

TEST(BlendIndexTest, OverlongKeySkipsRange) {
  BlendIndex index(kChunk, 1, 1);
  const auto r = publish_one(index, range("m", random_tokens(kChunk, 1),
                                          {std::string(BlendIndex::kMaxObjectKeyBytes + 1, 'x')}));
  EXPECT_EQ(r.skipped_ranges, 1u);
  EXPECT_EQ(index.entry_count(), 0u);
}

TEST(BlendIndexTest, RepublishInsertsNothing) {
  BlendIndex index(kChunk, 1, 1);
  const auto tokens = random_tokens(3 * kChunk, 1);
  EXPECT_EQ(publish_one(index, range("m", tokens, {"a", "b", "c"})).inserted, 3u);
  EXPECT_EQ(publish_one(index, range("m", tokens, {"a", "b", "c"})).inserted, 0u);
  EXPECT_EQ(index.entry_count(), 3u);
}

TEST(BlendIndexTest, SameChunkTwiceInRequestReportedOnce) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1);
  publish_one(index, range("m", a, {"ka"}, 40));
  const auto request = concat({a, random_tokens(3, 2), a});
  const std::vector<BlendMatch> expected = {{"ka", 40, 0}};
  EXPECT_EQ(match(index, "m", request), expected);
}

TEST(BlendIndexTest, KeyReportedOnceEvenForDifferentChunks) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1), b = random_tokens(kChunk, 2);
  publish_one(index, range("m", concat({a, b}), {"same", "same"}));
  EXPECT_EQ(index.entry_count(), 2u);
  const std::vector<BlendMatch> expected = {{"same", 8, 0}};
  EXPECT_EQ(match(index, "m", concat({b, a})), expected);
  EXPECT_EQ(remove_keys(index, {"same"}), 2u);
  EXPECT_TRUE(match(index, "m", concat({b, a})).empty());
}

TEST(BlendIndexTest, StrideFourMissesOffsetThreeFindsOffsetFour) {
  BlendIndex index(kChunk, 4, 1);
  const auto a = random_tokens(kChunk, 1);
  publish_one(index, range("m", a, {"ka"}));
  const auto at3 = concat({random_tokens(3, 2), a, random_tokens(5, 3)});
  EXPECT_TRUE(match(index, "m", at3).empty());
  const auto at4 = concat({random_tokens(4, 2), a, random_tokens(5, 3)});
  const std::vector<BlendMatch> expected = {{"ka", 0, 4}};
  EXPECT_EQ(match(index, "m", at4), expected);
}

TEST(BlendIndexTest, ShortRequestAndUnknownScopeMatchNothing) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1);
  publish_one(index, range("m", a, {"ka"}));
  EXPECT_TRUE(match(index, "m", std::vector<uint64_t>(a.begin(), a.end() - 1)).empty());
  EXPECT_TRUE(match(index, "other", a).empty());
  EXPECT_TRUE(match(index, "m", {}).empty());
}

TEST(BlendIndexTest, ScopesAreIsolated) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1), b = random_tokens(kChunk, 2);
  publish_one(index, range("m1", a, {"k1"}));
  publish_one(index, range("m2", b, {"k2"}));
  const auto request = concat({a, b});
  EXPECT_EQ(match(index, "m1", request), (std::vector<BlendMatch>{{"k1", 0, 0}}));
  EXPECT_EQ(match(index, "m2", request), (std::vector<BlendMatch>{{"k2", 0, 8}}));
  // The same (content, key) in another scope is a new pair.
  EXPECT_EQ(publish_one(index, range("m2", a, {"k1"})).inserted, 1u);
  EXPECT_EQ(remove_keys(index, {"k1"}), 2u);  // both scopes
  EXPECT_TRUE(match(index, "m1", request).empty());
  EXPECT_EQ(match(index, "m2", request), (std::vector<BlendMatch>{{"k2", 0, 8}}));
}

TEST(BlendIndexTest, PublishRemoveMatch) {
  BlendIndex index(kChunk, 1, 1);
  const auto tokens = random_tokens(3 * kChunk, 1);
  publish_one(index, range("m", tokens, {"a", "b", "c"}));
  EXPECT_EQ(remove_keys(index, {"b", "missing"}), 1u);
  EXPECT_EQ(index.entry_count(), 2u);
  const std::vector<BlendMatch> expected = {{"a", 0, 0}, {"c", 16, 16}};
  EXPECT_EQ(match(index, "m", tokens), expected);
  EXPECT_EQ(remove_keys(index, {"b"}), 0u);
  EXPECT_EQ(remove_keys(index, {"a", "c"}), 2u);
  EXPECT_TRUE(match(index, "m", tokens).empty());
  EXPECT_EQ(index.entry_count(), 0u);
  EXPECT_EQ(index.object_key_bytes(), 0u);
  // Published again after removal: findable again.
  EXPECT_EQ(publish_one(index, range("m", tokens, {"a", "b", "c"})).inserted, 3u);
  EXPECT_EQ(match(index, "m", tokens).size(), 3u);
}

TEST(BlendIndexTest, SameContentUnderTwoKeysEarliestWinsAndSurvivesRemoval) {
  BlendIndex index(kChunk, 1, 1);
  const auto a = random_tokens(kChunk, 1);
  EXPECT_EQ(publish_one(index, range("m", a, {"first"}, 10)).inserted, 1u);
  EXPECT_EQ(publish_one(index, range("m", a, {"second"}, 20)).inserted, 1u);
  EXPECT_EQ(publish_one(index, range("m", a, {"third"}, 30)).inserted, 1u);
  EXPECT_EQ(publish_one(index, range("m", a, {"second"}, 20)).inserted, 0u);
  EXPECT_EQ(index.entry_count(), 3u);
  EXPECT_EQ(match(index, "m", a), (std::vector<BlendMatch>{{"first", 10, 0}}));
  EXPECT_EQ(remove_keys(index, {"first"}), 1u);
  EXPECT_EQ(match(index, "m", a), (std::vector<BlendMatch>{{"second", 20, 0}}));
  EXPECT_EQ(remove_keys(index, {"third"}), 1u);  // from the middle of the list... the tail
  EXPECT_EQ(match(index, "m", a), (std::vector<BlendMatch>{{"second", 20, 0}}));
  EXPECT_EQ(publish_one(index, range("m", a, {"first"}, 10)).inserted, 1u);  // now latest
  EXPECT_EQ(match(index, "m", a), (std::vector<BlendMatch>{{"second", 20, 0}}));
}

TEST(BlendIndexTest, ChunksSharingOneBucketAreAllKept) {
  BlendIndex index(kChunk, 1, 1);
  index.set_single_bucket_for_testing();
  constexpr size_t kChunks = 300;  // forces table growth with every chunk colliding
  const auto tokens = random_tokens(kChunks * kChunk, 1);
  std::vector<std::string> keys;
  for (size_t i = 0; i < kChunks; ++i) keys.push_back(join("key-", std::to_string(i)));
  EXPECT_EQ(publish_one(index, range("m", tokens, keys)).inserted, kChunks);
  auto found = match(index, "m", tokens);
  ASSERT_EQ(found.size(), kChunks);
  for (size_t i = 0; i < kChunks; ++i) {
    EXPECT_EQ(found[i], (BlendMatch{keys[i], i * kChunk, i * kChunk}));
  }
  // Removing every other key (backward shifts through one long run) keeps the rest.
  std::vector<std::string> odd;
  for (size_t i = 1; i < kChunks; i += 2) odd.push_back(keys[i]);
  EXPECT_EQ(index.remove(odd), kChunks / 2);
  found = match(index, "m", tokens);
  ASSERT_EQ(found.size(), kChunks / 2);
  for (size_t i = 0; i < found.size(); ++i) EXPECT_EQ(found[i].object_key, keys[2 * i]);
}

TEST(BlendIndexTest, ManyChunksAllFound) {
  BlendIndex index(4, 4, 3);
  constexpr size_t kChunks = 20000;
  const auto tokens = random_tokens(kChunks * 4, 7);
  std::vector<std::string> keys;
  for (size_t i = 0; i < kChunks; ++i) keys.push_back(join("obj/", std::to_string(i)));
  EXPECT_EQ(publish_one(index, range("m", tokens, keys)).inserted, kChunks);
  const auto found = match(index, "m", tokens);
  ASSERT_EQ(found.size(), kChunks);
  for (size_t i = 0; i < kChunks; ++i) ASSERT_EQ(found[i].object_key, keys[i]);
  // Remove most, forcing key arena compaction, then check the survivors' names.
  std::vector<std::string> gone(keys.begin(), keys.begin() + kChunks - 100);
  EXPECT_EQ(index.remove(gone), kChunks - 100);
  const auto rest = match(index, "m", tokens);
  ASSERT_EQ(rest.size(), 100u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(rest[i].object_key, keys[kChunks - 100 + i]);
}

TEST(BlendIndexTest, Uint32AndUint64RequestsAgree) {
  BlendIndex index(kChunk, 2, 1);
  const auto tokens = random_tokens(6 * kChunk, 1);
  publish_one(index, range("m", tokens, {"a", "b", "c", "d", "e", "f"}));
  const auto request = concat({random_tokens(6, 2), tokens, random_tokens(9, 3), tokens});
  const std::vector<uint32_t> narrow(request.begin(), request.end());
  const auto wide = match(index, "m", request);
  EXPECT_EQ(wide.size(), 6u);
  EXPECT_EQ(index.match("m", std::span<const uint32_t>(narrow)), wide);
}

TEST(BlendIndexTest, ThueMorseComplementDoesNotMatch) {
  constexpr size_t kLen = 1024;  // every odd base collides modulo 2^64 at this length
  std::vector<uint64_t> t(kLen), u(kLen);
  for (size_t j = 0; j < kLen; ++j) {
    const bool odd = __builtin_popcountll(j) & 1;
    t[j] = odd ? 7 : 3;
    u[j] = odd ? 3 : 7;
  }
  BlendIndex index(kLen, 1);
  publish_one(index, range("m", t, {"tm"}));
  EXPECT_TRUE(match(index, "m", u).empty());
  EXPECT_EQ(match(index, "m", t).size(), 1u);
}

TEST(BlendIndexTest, InvalidParametersRejected) {
  EXPECT_THROW(BlendIndex(0, 1), std::invalid_argument);
  EXPECT_THROW(BlendIndex(8, 0), std::invalid_argument);
}

TEST(BlendIndexTest, MemoryAccountingGrowsAndCountsKeys) {
  BlendIndex index(kChunk, 1, 1);
  const size_t empty = index.memory_bytes();
  const auto tokens = random_tokens(100 * kChunk, 1);
  std::vector<std::string> keys;
  for (size_t i = 0; i < 100; ++i) keys.push_back(join("k", std::to_string(1000 + i)));
  publish_one(index, range("m", tokens, keys));
  EXPECT_EQ(index.object_key_bytes(), 500u);
  EXPECT_GT(index.memory_bytes(), empty + std::size_t{100} * 40);
}

// Each thread owns one scope: publishes rounds of chunks, removes the odd
// rounds' keys, and matches its own scope while the others write theirs.
TEST(BlendIndexTest, ConcurrentScopesReachExpectedState) {
  constexpr int kThreads = 4;
  constexpr size_t kRounds = 60;
  constexpr size_t kChunksPerRound = 16;
  BlendIndex index(kChunk, 1, 5);
  std::atomic<int> wrong{0};
  auto tokens_of = [](int thread, size_t round) {
    return random_tokens(kChunksPerRound * kChunk, 1000 * static_cast<uint64_t>(thread) + round);
  };
  auto keys_of = [](int thread, size_t round) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < kChunksPerRound; ++i) {
      keys.push_back(
          join("t", std::to_string(thread), "/r", std::to_string(round), "/", std::to_string(i)));
    }
    return keys;
  };
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      const std::string scope = join("scope-", std::to_string(th));
      for (size_t round = 0; round < kRounds; ++round) {
        const auto tokens = tokens_of(th, round);
        BlendRange r = range(scope, tokens, keys_of(th, round));
        if (index.publish(std::span<const BlendRange>(&r, 1)).inserted != kChunksPerRound) ++wrong;
        if (match(index, scope, tokens).size() != kChunksPerRound) ++wrong;
        if (round % 2 == 1) {
          const auto keys = keys_of(th, round);
          if (index.remove(keys) != kChunksPerRound) ++wrong;
          if (!match(index, scope, tokens).empty()) ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(index.entry_count(), kThreads * (kRounds / 2) * kChunksPerRound);
  for (int th = 0; th < kThreads; ++th) {
    const std::string scope = join("scope-", std::to_string(th));
    for (size_t round = 0; round < kRounds; ++round) {
      const auto found = match(index, scope, tokens_of(th, round));
      if (round % 2 == 1) {
        EXPECT_TRUE(found.empty());
      } else {
        ASSERT_EQ(found.size(), kChunksPerRound);
        EXPECT_EQ(found[3].object_key, keys_of(th, round)[3]);
      }
    }
  }
}

// --- save() and load(): a loaded index answers as the saved one did; a malformed snapshot fails
// the load without crashing.

// The index as save() writes it, taken inside freeze().
std::string saved(const BlendIndex& index) {
  std::string bytes;
  SnapshotWriter out([&bytes](std::string_view chunk) {
    bytes.append(chunk);
    return true;
  });
  index.freeze([&] { index.save(out); });
  EXPECT_TRUE(out.finish());
  return bytes;
}

// Whether load() takes all of `bytes`.
bool load(BlendIndex& index, std::string_view bytes) {
  SnapshotReader in(bytes);
  return index.load(in) && in.at_end();
}

// Two scopes; one content under two keys; a key removed again.
struct Published {
  std::vector<uint64_t> a = random_tokens(3 * kChunk, 1);
  std::vector<uint64_t> b = random_tokens(2 * kChunk, 2);
  BlendIndex index{kChunk, 1};  // a random seed, as in production

  Published() {
    publish_one(index, range("s1", a, {"a0", "a1", "a2"}, 100));
    publish_one(index,
                range("s1", {a.begin(), a.begin() + kChunk}, {"dup"}, 7));  // a0's content again
    publish_one(index, range("s2", b, {"b0", "b1"}));
    publish_one(index, range("s2", random_tokens(kChunk, 3), {"gone"}));
    const std::string gone = "gone";
    index.remove(std::span(&gone, 1));
  }
};

TEST(BlendIndexTest, SnapshotLoadedIndexMatchesAsTheSavedOne) {
  Published before;
  BlendIndex after(kChunk, 1);  // another random seed: load adopts the saved one
  ASSERT_TRUE(load(after, saved(before.index)));

  // Two tokens, then the first two chunks of a.
  std::vector<uint64_t> request = {9, 9};
  request.insert(request.end(), before.a.begin(), before.a.begin() + 2 * kChunk);
  EXPECT_EQ(match(after, "s1", request), match(before.index, "s1", request));
  const auto matches = match(after, "s1", request);
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0], (BlendMatch{"a0", 100, 2}));  // the earliest key of that content
  EXPECT_EQ(matches[1], (BlendMatch{"a1", 100 + kChunk, 2 + kChunk}));
  EXPECT_EQ(match(after, "s2", before.b), match(before.index, "s2", before.b));
  EXPECT_EQ(match(after, "s1", before.b).size(), 0u);  // scopes apart

  const BlendIndexStats s = after.stats();
  const BlendIndexStats t = before.index.stats();
  EXPECT_EQ(s.scopes, t.scopes);
  EXPECT_EQ(s.contents, t.contents);
  EXPECT_EQ(s.keys, t.keys);
  EXPECT_EQ(s.entries, t.entries);
  EXPECT_EQ(after.object_key_bytes(), before.index.object_key_bytes());
  EXPECT_TRUE(after.contains("s1", "dup"));
  EXPECT_FALSE(after.contains("s2", "gone"));

  // Same fingerprints after the load: a republish inserts nothing, and the second key of a
  // content takes over when the first goes.
  const BlendRange again{"s1", before.a, {"a0", "a1", "a2"}, 100};
  EXPECT_EQ(after.publish(std::span(&again, 1)).inserted, 0u);
  const std::string a0 = "a0";
  EXPECT_EQ(after.remove(std::span(&a0, 1)), 1u);
  EXPECT_EQ(match(after, "s1", request)[0], (BlendMatch{"dup", 7, 2}));
}

TEST(BlendIndexTest, SnapshotEmptyIndexRoundTrips) {
  const BlendIndex before(kChunk, 2);
  BlendIndex after(kChunk, 2);
  ASSERT_TRUE(load(after, saved(before)));
  EXPECT_EQ(after.stats().scopes, 0u);
  publish_one(after, range("s", random_tokens(kChunk, 4), {"k"}));
  EXPECT_EQ(match(after, "s", random_tokens(kChunk, 4)).size(), 1u);
}

TEST(BlendIndexTest, SnapshotAnotherChunkSizeOrANonEmptyIndexIsRefused) {
  Published before;
  const std::string bytes = saved(before.index);
  BlendIndex other_chunk(kChunk + 1, 1);
  EXPECT_FALSE(load(other_chunk, bytes));
  BlendIndex not_empty(kChunk, 1);
  publish_one(not_empty, range("s", random_tokens(kChunk, 5), {"k"}));
  EXPECT_FALSE(load(not_empty, bytes));
}

TEST(BlendIndexTest, SnapshotEveryTruncationFailsTheLoad) {
  Published before;
  const std::string bytes = saved(before.index);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    BlendIndex after(kChunk, 1);
    EXPECT_FALSE(load(after, std::string_view(bytes).substr(0, cut))) << "cut at " << cut;
  }
}

TEST(BlendIndexTest, SnapshotCorruptBytesNeverCrashTheLoad) {
  Published before;
  const std::string bytes = saved(before.index);
  size_t refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (const char flip : {'\x01', '\x80', '\xff'}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      BlendIndex after(kChunk, 1);
      refused += load(after, corrupt) ? 0 : 1;
    }
  }
  // Lengths, counts, the format and the chunk size are checked; most flips are refused.
  EXPECT_GT(refused, bytes.size());
}

TEST(BlendIndexTest, SnapshotContentListedTwiceIsRefused) {
  BlendIndex before(kChunk, 1, 3);
  publish_one(before, range("s", random_tokens(kChunk, 6), {"k"}));
  std::string bytes = saved(before);
  // Header (4 + 8 + 8), scope count (8), scope "s" (4 + 1): then the content count and its one
  // content. Listing that content twice makes a malformed snapshot.
  const size_t contents_at = 4 + 8 + 8 + 8 + 4 + 1;
  const std::string content = bytes.substr(contents_at + 8);
  bytes[contents_at] = 2;
  bytes += content;
  BlendIndex after(kChunk, 1);
  EXPECT_FALSE(load(after, bytes));
}

TEST(BlendIndexTest, AScopeEmptiedByRemoveIsNeitherCountedNorSaved) {
  BlendIndex index(kChunk, 1, 5);
  publish_one(index, range("kept", random_tokens(kChunk, 1), {"k"}));
  publish_one(index, range("emptied", random_tokens(kChunk, 2), {"e"}));
  ASSERT_EQ(index.stats().scopes, 2u);
  ASSERT_EQ(remove_keys(index, {"e"}), 1u);
  EXPECT_EQ(index.stats().scopes, 1u);
  // Saved, it is the index that never had the scope.
  BlendIndex never(kChunk, 1, 5);
  publish_one(never, range("kept", random_tokens(kChunk, 1), {"k"}));
  EXPECT_EQ(saved(index), saved(never));
}

}  // namespace
}  // namespace lmcache::core
