// BlendIndex::save and load: a loaded index answers as the saved one did; a malformed snapshot
// fails the load without crashing.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/blend_index.h"
#include "core/snapshot_stream.h"

namespace lmcache::core {
namespace {

constexpr size_t kChunk = 4;

std::vector<uint64_t> random_tokens(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> dist(0, 150000);
  std::vector<uint64_t> v(n);
  for (auto& t : v) t = dist(rng);
  return v;
}

void publish(BlendIndex& index, std::string scope, std::vector<uint64_t> tokens,
             std::vector<std::string> keys, uint64_t base = 0) {
  const BlendRange r{std::move(scope), std::move(tokens), std::move(keys), base};
  index.publish(std::span<const BlendRange>(&r, 1));
}

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
    publish(index, "s1", a, {"a0", "a1", "a2"}, 100);
    publish(index, "s1", {a.begin(), a.begin() + kChunk}, {"dup"}, 7);  // a0's content again
    publish(index, "s2", b, {"b0", "b1"});
    publish(index, "s2", random_tokens(kChunk, 3), {"gone"});
    const std::string gone = "gone";
    index.remove(std::span(&gone, 1));
  }
};

TEST(BlendIndexSnapshotTest, LoadedIndexMatchesAsTheSavedOne) {
  Published before;
  BlendIndex after(kChunk, 1);  // another random seed: load adopts the saved one
  ASSERT_TRUE(load(after, saved(before.index)));

  const std::vector<uint64_t> request = {9,           9,           before.a[0], before.a[1],
                                         before.a[2], before.a[3], before.a[4], before.a[5],
                                         before.a[6], before.a[7]};
  EXPECT_EQ(after.match("s1", std::span<const uint64_t>(request)),
            before.index.match("s1", std::span<const uint64_t>(request)));
  const auto matches = after.match("s1", std::span<const uint64_t>(request));
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0], (BlendMatch{"a0", 100, 2}));  // the earliest key of that content
  EXPECT_EQ(matches[1], (BlendMatch{"a1", 104, 6}));
  EXPECT_EQ(after.match("s2", std::span<const uint64_t>(before.b)),
            before.index.match("s2", std::span<const uint64_t>(before.b)));
  EXPECT_EQ(after.match("s1", std::span<const uint64_t>(before.b)).size(), 0u);  // scopes apart

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
  EXPECT_EQ(after.match("s1", std::span<const uint64_t>(request))[0], (BlendMatch{"dup", 7, 2}));
}

TEST(BlendIndexSnapshotTest, EmptyIndexRoundTrips) {
  const BlendIndex before(kChunk, 2);
  BlendIndex after(kChunk, 2);
  ASSERT_TRUE(load(after, saved(before)));
  EXPECT_EQ(after.stats().scopes, 0u);
  publish(after, "s", random_tokens(kChunk, 4), {"k"});
  EXPECT_EQ(after.match("s", std::span<const uint64_t>(random_tokens(kChunk, 4))).size(), 1u);
}

TEST(BlendIndexSnapshotTest, AnotherChunkSizeOrANonEmptyIndexIsRefused) {
  Published before;
  const std::string bytes = saved(before.index);
  BlendIndex other_chunk(kChunk + 1, 1);
  EXPECT_FALSE(load(other_chunk, bytes));
  BlendIndex not_empty(kChunk, 1);
  publish(not_empty, "s", random_tokens(kChunk, 5), {"k"});
  EXPECT_FALSE(load(not_empty, bytes));
}

TEST(BlendIndexSnapshotTest, EveryTruncationFailsTheLoad) {
  Published before;
  const std::string bytes = saved(before.index);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    BlendIndex after(kChunk, 1);
    EXPECT_FALSE(load(after, std::string_view(bytes).substr(0, cut))) << "cut at " << cut;
  }
}

TEST(BlendIndexSnapshotTest, CorruptBytesNeverCrashTheLoad) {
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

TEST(BlendIndexSnapshotTest, ContentListedTwiceIsRefused) {
  BlendIndex before(kChunk, 1, 3);
  publish(before, "s", random_tokens(kChunk, 6), {"k"});
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

}  // namespace
}  // namespace lmcache::core
