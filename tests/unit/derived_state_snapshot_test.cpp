// The derived state written into a checkpoint and read back: core::EventIngest::save and load,
// covering the v2 cursors, the capacity declarations and the L2 accounting (sizes, owners, each
// salt's LRU order, the seed-era sequence cursors), and core::DerivedState with the blend index
// and feed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "capacity_declaration.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/derived_state.h"
#include "core/event_ingest.h"
#include "core/l2_accounting.h"
#include "core/object_key.h"
#include "core/snapshot_stream.h"
#include "core/token_chain_hasher.h"

namespace lmcache::core {
namespace {

const SteadyTime kNow{std::chrono::seconds(1000)};

std::string hash(char c) { return std::string(32, c); }

// Both halves of the state: the accounting and the ingest that feeds it.
struct State {
  L2Accounting l2{EvictionConfig{}};
  EventIngest events{l2};

  void post(std::string_view instance, uint64_t incarnation, uint64_t seq, CacheEventType type,
            const std::string& hashes, std::string_view salt = "t", uint64_t size = 100,
            CacheTier tier = CacheTier::kL2, bool shared = false, double ts = 0,
            std::span<const int64_t> tokens = {}) {
    std::vector<std::string> keys;
    keys.reserve(hashes.size());
    for (char c : hashes) keys.push_back(hash(c));
    std::vector<CacheEventEntry> entries;
    entries.reserve(keys.size());
    for (const auto& k : keys) {
      entries.push_back({ObjectKeyView(k, "m", 3, 1, salt), size, tokens, tokens.empty() ? -1 : 0});
    }
    CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = incarnation;
    batch.seq = seq;
    batch.type = type;
    batch.tier = tier;
    batch.backend = tier == CacheTier::kL2 ? "fs" : "cpu";
    batch.shared = shared;
    batch.ts = ts;
    batch.entries = entries;
    events.ingest(batch);
  }

  void declare(std::string_view instance, uint64_t incarnation, uint64_t seq, uint64_t bytes) {
    events.ingest(testing::capacity_declaration(instance, incarnation, seq, bytes, 2));
  }

  std::string saved() {
    std::string bytes;
    SnapshotWriter out([&bytes](std::string_view chunk) {
      bytes.append(chunk);
      return true;
    });
    events.freeze([] {});
    events.save(out);
    EXPECT_TRUE(out.finish());
    return bytes;
  }

  // Every key of `salt` with its owner, least recent first, as an allowlist sweep chooses them.
  std::vector<std::string> lru(const std::string& salt) {
    QuotaLimits limits;
    limits.explicit_limits[salt] = 0;
    limits.default_limit = std::nullopt;
    std::vector<std::string> out;
    const EvictionPlan plan = l2.plan_eviction(limits, kNow);
    for (const TrackedKey& victim : plan.victims) {
      out.push_back(std::string(1, victim.key.chunk_hash[0]) + "@" + victim.owner);
    }
    l2.release(plan.victims);
    return out;
  }
};

TEST(DerivedStateSnapshotTest, RoundTripKeepsSizesOwnersLruOrderAndCursors) {
  State before;
  before.post("a", 7, 1, CacheEventType::kStore, "xyz");
  before.post("b", 9, 1, CacheEventType::kStore, "w", "t", 500);
  before.post("a", 7, 2, CacheEventType::kAccess, "x");              // x becomes the most recent
  before.post("b", 9, 5, CacheEventType::kStore, "q", "other", 42);  // after a gap
  before.declare("b", 9, 6, 1 << 30);
  const std::string seed_hash = hash('s');
  const L2Event seed[] = {{L2EventType::kStore, ObjectKeyView(seed_hash, "m", 0, 0, "t"), 9}};
  before.l2.apply_batch("old", 4, seed);
  const std::string bytes = before.saved();

  State after;
  SnapshotReader in(bytes);
  ASSERT_TRUE(after.events.load(in));
  EXPECT_TRUE(in.at_end());

  EXPECT_EQ(after.l2.usage_bytes("t"), 100u * 3 + 500 + 9);
  EXPECT_EQ(after.l2.usage_bytes("other"), 42u);
  EXPECT_EQ(after.lru("t"), before.lru("t"));
  EXPECT_EQ(after.lru("t"), (std::vector<std::string>{"y@a", "z@a", "w@b", "x@a", "s@old"}));
  EXPECT_EQ(after.lru("other"), (std::vector<std::string>{"q@b"}));

  const auto cursor = after.events.gate().cursor("b");
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->incarnation, 9u);
  EXPECT_EQ(cursor->last_seq, 6u);
  EXPECT_TRUE(cursor->gap_detected);
  // A replay after the restart is still a replay, in both dialects.
  CacheEventBatch replay;
  replay.instance_id = "a";
  replay.incarnation = 7;
  replay.seq = 2;
  replay.type = CacheEventType::kAccess;
  EXPECT_EQ(after.events.ingest(replay).verdict, EventGate::Verdict::kDuplicate);
  EXPECT_TRUE(after.l2.apply_batch("old", 4, seed).duplicate);

  const auto declaration = after.events.capacity().find("b");
  ASSERT_TRUE(declaration.has_value());
  EXPECT_EQ(declaration->incarnation, 9u);
  EXPECT_EQ(declaration->revision, 2u);
  ASSERT_EQ(declaration->compartments.size(), 1u);
  EXPECT_EQ(declaration->compartments[0].capacity_bytes, 1u << 30);
}

TEST(DerivedStateSnapshotTest, KeysInFlightComeBackAsTheLeastRecent) {
  State before;
  before.post("a", 1, 1, CacheEventType::kStore, "abcd");
  QuotaLimits limits;
  limits.explicit_limits["t"] = 250;  // 400 bytes stored: over, 20 % of 4 keys -> 1 victim
  ASSERT_EQ(before.l2.plan_eviction(limits, kNow).victims.size(), 1u);
  const std::string bytes = before.saved();
  State after;
  SnapshotReader in(bytes);
  ASSERT_TRUE(after.events.load(in));
  EXPECT_EQ(after.lru("t"), (std::vector<std::string>{"a@a", "b@a", "c@a", "d@a"}));
}

TEST(DerivedStateSnapshotTest, EveryTruncationFailsTheLoad) {
  State before;
  before.post("a", 7, 1, CacheEventType::kStore, "xy");
  before.declare("a", 7, 2, 100);
  const std::string bytes = before.saved();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    State after;
    SnapshotReader in(std::string_view(bytes).substr(0, cut));
    EXPECT_FALSE(after.events.load(in) && in.at_end()) << "cut at " << cut;
  }
}

TEST(DerivedStateSnapshotTest, DirectoryPlacementsBindingsAndLastAccessComeBack) {
  State before;
  const int64_t tokens[] = {5, 6, 7};
  before.post("a", 1, 1, CacheEventType::kStore, "p", "t", 100, CacheTier::kL2, false, 10.5,
              tokens);
  before.post("b", 2, 1, CacheEventType::kStore, "p", "t", 300, CacheTier::kL2, false, 12);
  before.post("a", 1, 2, CacheEventType::kStore, "pq", "t", 7, CacheTier::kL1, false, 11);
  before.post("a", 1, 3, CacheEventType::kStore, "r", "t", 9, CacheTier::kL2, true, 3);
  before.post("b", 2, 2, CacheEventType::kStore, "r", "t", 11, CacheTier::kL2, true, 4);
  const std::string bytes = before.saved();

  State after;
  SnapshotReader in(bytes);
  ASSERT_TRUE(after.events.load(in));
  EXPECT_TRUE(in.at_end());
  // Every key with its placements and last_access, in key order.
  auto listing = [](const State& state) {
    auto [total, entries] = state.l2.list_keys(PlacementFilter{}, 0, 100);
    std::vector<std::tuple<std::string, std::vector<Placement>, double>> out;
    for (const DirectoryEntry& entry : entries) {
      out.emplace_back(entry.key.chunk_hash, entry.placements, entry.last_access);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    return out;
  };
  EXPECT_EQ(listing(after), listing(before));
  EXPECT_EQ(listing(after).size(), 3u);
  EXPECT_EQ(after.l2.usage_bytes("t"), 100u + 300 + 11);  // q is held in L1 only
  EXPECT_EQ(after.l2.directory_counts().placements, before.l2.directory_counts().placements);
  const std::string p = hash('p');
  const ObjectKey key_p = ObjectKeyView(p, "m", 3, 1, "t").to_key();
  const auto found = after.l2.lookup(std::span<const ObjectKey>(&key_p, 1));
  ASSERT_NE(found[0].binding, nullptr);
  EXPECT_EQ(found[0].binding->token_ids, (std::vector<uint32_t>{5, 6, 7}));
  EXPECT_EQ(found[0].binding->token_offset, 0);
  // The L1 placements are fenced as before the restart.
  after.events.on_instance_deregistered("a");
  EXPECT_EQ(listing(after).size(), 2u);
}

// Regression: a token binding without tokens (the UBSan nonnull failure in
// fuzz_checkpoint_load: memcpy from an empty vector's null data()).
TEST(DerivedStateSnapshotTest, BindingWithoutTokensLoads) {
  State empty;
  std::string bytes = empty.saved();
  // The body ends with the directory's binding count: 0. Make it one binding of no tokens.
  ASSERT_GE(bytes.size(), 8u);
  ASSERT_EQ(bytes.substr(bytes.size() - 8), std::string(8, '\0'));
  bytes.resize(bytes.size() - 8);
  SnapshotWriter out([&bytes](std::string_view chunk) {
    bytes.append(chunk);
    return true;
  });
  out.u64(1);          // bindings
  out.str(hash('h'));  // its chunk hash
  out.i64(0);          // token_offset
  out.u64(0);          // no tokens
  ASSERT_TRUE(out.finish());

  State after;
  SnapshotReader in(bytes);
  ASSERT_TRUE(after.events.load(in));
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(after.saved(), bytes);
}

// The whole checkpoint body: the ingest, then the blend index and the feed's placements.
struct BlendState {
  static constexpr size_t kChunk = 4;
  State core;
  BlendIndex blend{kChunk, 1};
  BlendFeed feed{blend};
  DerivedState derived{core.events, blend, feed};

  BlendState() { core.events.set_blend_feed(&feed); }

  // A store (or delete) of chunk `c` of world size 1 at offset 64, on tier L2 of instance "a".
  void post(uint64_t seq, CacheEventType type, char c, std::vector<int64_t> tokens) {
    const std::string h = hash(c);
    const CacheEventEntry entries[] = {
        {ObjectKeyView(h, "m", kv_rank_from_wire(pack_kv_rank(1, 0)), 0, "t"), 100, tokens,
         tokens.empty() ? -1 : 64}};
    CacheEventBatch batch;
    batch.instance_id = "a";
    batch.incarnation = 1;
    batch.seq = seq;
    batch.type = type;
    batch.tier = CacheTier::kL2;
    batch.backend = "fs";
    batch.entries = entries;
    core.events.ingest(batch);
  }

  std::vector<BlendMatch> match(const std::vector<uint64_t>& tokens) const {
    return blend.match(BlendFeed::scope("m", "t", 1), std::span(tokens));
  }

  std::string saved() {
    std::string bytes;
    SnapshotWriter out([&bytes](std::string_view chunk) {
      bytes.append(chunk);
      return true;
    });
    derived.freeze([&] { derived.save(out); });
    EXPECT_TRUE(out.finish());
    return bytes;
  }
};

TEST(DerivedStateSnapshotTest, BlendChunksAndTheirPlacementsComeBack) {
  BlendState before;
  before.post(1, CacheEventType::kStore, 'a', {1, 2, 3, 4});
  before.post(2, CacheEventType::kStore, 'b', {5, 6, 7, 8});
  const std::string bytes = before.saved();

  BlendState after;
  SnapshotReader in(bytes);
  ASSERT_TRUE(after.derived.load(in));
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(after.feed.chunk_count(), 2u);
  const std::vector<uint64_t> request = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(after.match(request), before.match(request));
  ASSERT_EQ(after.match(request).size(), 2u);
  EXPECT_EQ(after.match(request)[0].old_st, 64u);
  // The placements came back too: deleting the only one takes the chunk out of the index.
  after.post(3, CacheEventType::kDelete, 'a', {});
  ASSERT_EQ(after.match(request).size(), 1u);
  EXPECT_EQ(after.match(request)[0].cur_st, 5u);
  EXPECT_EQ(after.feed.chunk_count(), 1u);
}

TEST(DerivedStateSnapshotTest, EveryTruncationOfTheBlendPartsFailsTheLoad) {
  BlendState before;
  before.post(1, CacheEventType::kStore, 'a', {1, 2, 3, 4});
  const std::string bytes = before.saved();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    BlendState after;
    SnapshotReader in(std::string_view(bytes).substr(0, cut));
    EXPECT_FALSE(after.derived.load(in) && in.at_end()) << "cut at " << cut;
  }
}

TEST(DerivedStateSnapshotTest, FeedChunkMissingFromTheIndexIsRefused) {
  BlendState before;
  before.post(1, CacheEventType::kStore, 'a', {1, 2, 3, 4});
  // The same placements over an empty index: the feed names a chunk the index does not hold.
  std::string bytes;
  SnapshotWriter out([&bytes](std::string_view chunk) {
    bytes.append(chunk);
    return true;
  });
  const BlendIndex empty{BlendState::kChunk, 1};
  before.core.events.save(out);
  empty.save(out);
  before.feed.save(out);
  ASSERT_TRUE(out.finish());
  BlendState after;
  SnapshotReader in(bytes);
  EXPECT_FALSE(after.derived.load(in));
}

}  // namespace
}  // namespace lmcache::core
