// Emptying the derived state: each part's clear() leaves it as a freshly constructed one (no
// lookups answer, save() writes what a fresh part writes, and it takes new state as a fresh one
// would), and core::DerivedState::rebuild replaces a live state with a snapshot's (an HA
// follower after a gap).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "capacity_declaration.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/capacity_declarations.h"
#include "core/derived_state.h"
#include "core/event_gate.h"
#include "core/event_ingest.h"
#include "core/key_directory.h"
#include "core/l2_accounting.h"
#include "core/mutex.h"
#include "core/object_key.h"
#include "core/sequence_tracker.h"
#include "core/snapshot_stream.h"
#include "core/token_chain_hasher.h"
#include "core/usage_ledger.h"

namespace lmcache::core {
namespace {

const SteadyTime kNow{std::chrono::seconds(1000)};

std::string hash(char c) { return std::string(32, c); }

// What `save(out)` writes.
std::string saved(const std::function<void(SnapshotWriter&)>& save) {
  std::string bytes;
  SnapshotWriter out([&bytes](std::string_view chunk) {
    bytes.append(chunk);
    return true;
  });
  save(out);
  EXPECT_TRUE(out.finish());
  return bytes;
}

// One batch of keys, one per hash byte, in namespace (model "m", salt "t", world size 1). With
// `tokens` each entry carries one blend chunk (chunk size 4) at offset 0.
struct Batch {
  std::vector<std::string> hashes;
  std::vector<std::vector<int64_t>> tokens;
  std::vector<CacheEventEntry> entries;
  CacheEventBatch batch;

  Batch(std::string_view instance, uint64_t incarnation, uint64_t seq, CacheEventType type,
        const std::string& keys, CacheTier tier = CacheTier::kL2, bool with_tokens = false) {
    for (char c : keys) {
      hashes.push_back(hash(c));
      const int64_t t = int64_t{static_cast<unsigned char>(c)} * 4;
      tokens.push_back(with_tokens ? std::vector<int64_t>{t, t + 1, t + 2, t + 3}
                                   : std::vector<int64_t>{});
    }
    for (size_t i = 0; i < hashes.size(); ++i) {
      entries.push_back(
          {ObjectKeyView(hashes[i], "m", kv_rank_from_wire(pack_kv_rank(1, 0)), 0, "t"), 100,
           tokens[i], with_tokens ? 0 : -1});
    }
    batch.instance_id = instance;
    batch.incarnation = incarnation;
    batch.seq = seq;
    batch.type = type;
    batch.tier = tier;
    batch.backend = tier == CacheTier::kL2 ? "fs" : "cpu";
    batch.entries = entries;
  }
};

ObjectKey key_of(char c) {
  return ObjectKey{hash(c), "m", kv_rank_from_wire(pack_kv_rank(1, 0)), 0, "t"};
}

// The blend tokens of key `c` (as Batch gives them).
std::vector<uint64_t> tokens_of(char c) {
  const uint64_t t = uint64_t{static_cast<unsigned char>(c)} * 4;
  return {t, t + 1, t + 2, t + 3};
}

TEST(DerivedStateClearTest, EventGateForgetsEveryCursorWithoutFencing) {
  int fences = 0;
  EventGate gate([&](std::string_view) { ++fences; });
  gate.admit("a", 1, 1, [] {});
  gate.admit("a", 1, 2, [] {});
  gate.admit("b", 3, 1, [] {});
  gate.clear();
  EXPECT_EQ(gate.cursor_count(), 0u);
  EXPECT_FALSE(gate.cursor("a").has_value());
  EXPECT_EQ(fences, 0);
  EventGate fresh;
  std::string cleared_bytes;
  std::string fresh_bytes;
  {
    MutexLock lock(gate.mutex());
    cleared_bytes = saved([&](SnapshotWriter& out) { gate.save(out); });
  }
  {
    MutexLock lock(fresh.mutex());
    fresh_bytes = saved([&](SnapshotWriter& out) { fresh.save(out); });
  }
  EXPECT_EQ(cleared_bytes, fresh_bytes);
  // A replay of seq 1 starts a fresh cursor rather than being a duplicate.
  EXPECT_EQ(gate.admit("a", 1, 1, [] {}).verdict, EventGate::Verdict::kAdmitted);
}

TEST(DerivedStateClearTest, CapacityDeclarationsForgetEveryDeclaration) {
  CapacityDeclarations declarations;
  declarations.declare("a", 2, 5, CacheTier::kL2, "fs", 1000);
  declarations.declare("b", 1, 1, CacheTier::kL1, "cpu", 10);
  declarations.clear();
  EXPECT_TRUE(declarations.all().empty());
  EXPECT_FALSE(declarations.find("a").has_value());
  CapacityDeclarations fresh;
  std::string cleared_bytes;
  std::string fresh_bytes;
  {
    MutexLock lock(declarations.mutex());
    cleared_bytes = saved([&](SnapshotWriter& out) { declarations.save(out); });
  }
  {
    MutexLock lock(fresh.mutex());
    fresh_bytes = saved([&](SnapshotWriter& out) { fresh.save(out); });
  }
  EXPECT_EQ(cleared_bytes, fresh_bytes);
  // An older stamp than the forgotten one is a first declaration again.
  EXPECT_EQ(declarations.declare("a", 1, 1, CacheTier::kL2, "fs", 7),
            CapacityDeclarations::Outcome::kReplaced);
}

TEST(DerivedStateClearTest, SequenceTrackerForgetsEveryCursor) {
  SequenceTracker tracker;
  tracker.check("a", 1);
  tracker.check("a", 2);
  tracker.check("b", 9);
  tracker.clear();
  EXPECT_EQ(tracker.instances(), 0u);
  EXPECT_FALSE(tracker.last_seq("a").has_value());
  EXPECT_EQ(saved([&](SnapshotWriter& out) { tracker.save(out); }),
            saved([](SnapshotWriter& out) { SequenceTracker().save(out); }));
  EXPECT_EQ(tracker.check("a", 1), SequenceTracker::Verdict::kApply);
}

TEST(DerivedStateClearTest, UsageLedgerForgetsEveryRecordAndStartsAgain) {
  UsageLedger ledger;
  for (char c : std::string("abcdef")) ledger.apply_store(key_of(c), 100, "mp-a");
  ledger.apply_store(ObjectKey{std::string(40, 'l'), "m2", 0, 0, "u"}, 5, "mp-b");  // long hash
  std::vector<TrackedKey> victims;
  ledger.take_victims("t", 2, kNow, victims);  // two in flight
  ASSERT_EQ(victims.size(), 2u);
  ledger.acquire_record(key_of('z'));  // a detached record
  ledger.clear();
  EXPECT_EQ(ledger.key_count(), 0u);
  EXPECT_EQ(ledger.total_bytes(), 0u);
  EXPECT_EQ(ledger.usage_bytes("t"), 0u);
  EXPECT_TRUE(ledger.salts_with_usage().empty());
  EXPECT_FALSE(ledger.contains(key_of('c')));
  EXPECT_FALSE(ledger.in_flight(key_of('a')));
  EXPECT_EQ(ledger.find_record(key_of('z')), UsageLedger::kNoRecord);
  EXPECT_TRUE(ledger.lru_keys("t", 10).empty());
  EXPECT_EQ(ledger.record_id_end(), 0u);
  // New stores land in the reused slab as in a fresh ledger.
  ledger.apply_store(key_of('y'), 30, "mp-c");
  ledger.apply_store(key_of('x'), 20, "");
  EXPECT_EQ(ledger.key_count(), 2u);
  EXPECT_EQ(ledger.usage_bytes("t"), 50u);
  EXPECT_EQ(ledger.owner_of(key_of('y')), "mp-c");
  EXPECT_EQ(ledger.lru_keys("t", 10), (std::vector<ObjectKey>{key_of('y'), key_of('x')}));
  EXPECT_FALSE(ledger.in_flight(key_of('y')));
}

TEST(DerivedStateClearTest, KeyDirectoryForgetsEveryKeyPlacementAndBinding) {
  KeyDirectory dir;
  dir.apply_batch(Batch("a", 1, 1, CacheEventType::kStore, "pq", CacheTier::kL2, true).batch);
  dir.apply_batch(Batch("b", 1, 1, CacheEventType::kStore, "pq", CacheTier::kL2).batch);
  dir.apply_batch(Batch("b", 1, 2, CacheEventType::kStore, "r", CacheTier::kL1).batch);
  ASSERT_EQ(dir.placements(key_of('p')).size(), 2u);  // one spilled
  dir.clear();
  const DirectoryCounts counts = dir.counts();
  EXPECT_EQ(counts.keys, 0u);
  EXPECT_EQ(counts.placements, 0u);
  EXPECT_TRUE(counts.l1_keys_by_instance.empty());
  EXPECT_TRUE(dir.used_bytes().empty());
  EXPECT_TRUE(dir.placements(key_of('p')).empty());
  EXPECT_EQ(dir.binding(hash('p')), nullptr);
  EXPECT_EQ(dir.list(PlacementFilter{}, 0, 10).first, 0u);
  EXPECT_EQ(dir.ledger().key_count(), 0u);
  EXPECT_EQ(saved([&](SnapshotWriter& out) { dir.save(out); }),
            saved([](SnapshotWriter& out) { KeyDirectory().save(out); }));
  // A key stored afterwards reuses the first record and slot, and has only its own placement.
  dir.apply_batch(Batch("c", 4, 1, CacheEventType::kStore, "s", CacheTier::kL2).batch);
  const std::vector<Placement> placements = dir.placements(key_of('s'));
  ASSERT_EQ(placements.size(), 1u);
  EXPECT_EQ(placements[0].instance_id, "c");
  EXPECT_EQ(placements[0].incarnation, 4u);
  EXPECT_EQ(dir.counts().keys, 1u);
  EXPECT_EQ(dir.ledger().total_bytes(), 100u);
}

TEST(DerivedStateClearTest, L2AccountingForgetsKeysAndSeedEraCursors) {
  L2Accounting l2{EvictionConfig{}};
  const std::string h = hash('k');
  const L2Event store{L2EventType::kStore, ObjectKeyView(h, "m", 0, 0, "s"), 40};
  l2.apply_batch("n1", 1, std::span(&store, 1));
  l2.apply_cache_batch(Batch("a", 1, 1, CacheEventType::kStore, "xy").batch);
  l2.clear();
  EXPECT_EQ(l2.counters().tracked_keys, 0u);
  EXPECT_EQ(l2.total_bytes(), 0u);
  EXPECT_TRUE(l2.salts().empty());
  EXPECT_EQ(l2.directory_counts().keys, 0u);
  const std::vector<ObjectKey> keys = {key_of('x')};
  EXPECT_TRUE(l2.lookup(std::span<const ObjectKey>(keys))[0].placements.empty());
  L2Accounting fresh{EvictionConfig{}};
  std::string cleared_bytes;
  std::string fresh_bytes;
  {
    MutexLock lock(l2.mutex());
    cleared_bytes = saved([&](SnapshotWriter& out) { l2.save(out); });
  }
  {
    MutexLock lock(fresh.mutex());
    fresh_bytes = saved([&](SnapshotWriter& out) { fresh.save(out); });
  }
  EXPECT_EQ(cleared_bytes, fresh_bytes);
  // The seed-era cursor went too: seq 1 again is applied, not a replay.
  EXPECT_FALSE(l2.apply_batch("n1", 1, std::span(&store, 1)).duplicate);
  EXPECT_EQ(l2.usage_bytes("s"), 40u);
}

BlendRange range(std::string scope, const std::vector<uint64_t>& tokens,
                 std::vector<std::string> keys) {
  return BlendRange{std::move(scope), tokens, std::move(keys), 0};
}

TEST(DerivedStateClearTest, BlendIndexEmptiesEveryScopeAndTakesNewContent) {
  BlendIndex index(4, 1, 11);
  const std::vector<BlendRange> ranges = {range("s1", {1, 2, 3, 4, 5, 6, 7, 8}, {"k1", "k2"}),
                                          range("s2", {1, 2, 3, 4}, {"k3"})};
  ASSERT_EQ(index.publish(ranges).inserted, 3u);
  index.clear();
  EXPECT_EQ(index.entry_count(), 0u);
  EXPECT_EQ(index.stats().entries, 0u);
  EXPECT_EQ(index.stats().keys, 0u);
  EXPECT_EQ(index.stats().scopes, 0u);
  EXPECT_EQ(index.object_key_bytes(), 0u);
  EXPECT_FALSE(index.contains("s1", "k1"));
  const std::vector<uint64_t> request = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(index.match("s1", std::span(request)).empty());
  BlendIndex fresh(4, 1, 11);
  EXPECT_EQ(saved([&](SnapshotWriter& out) { index.save(out); }),
            saved([&](SnapshotWriter& out) { fresh.save(out); }));
  // Published again, the content is found as in a fresh index, and removes still work.
  ASSERT_EQ(index.publish(ranges).inserted, 3u);
  EXPECT_EQ(index.match("s1", std::span(request)).size(), 2u);
  EXPECT_EQ(index.remove(std::vector<std::string>{"k3"}), 1u);
  EXPECT_FALSE(index.contains("s2", "k3"));
}

TEST(DerivedStateClearTest, BlendIndexLoadsOverAClearedIndexWithTheSavedSeed) {
  BlendIndex leader(4, 1, 22);
  ASSERT_EQ(leader
                .publish(std::vector{range("s2", {9, 9, 9, 9}, {"k9"}),
                                     range("s3", {7, 7, 7, 7}, {"k7"})})
                .inserted,
            2u);
  const std::string bytes = saved([&](SnapshotWriter& out) { leader.save(out); });

  BlendIndex follower(4, 1, 33);
  ASSERT_EQ(follower
                .publish(std::vector{range("s1", {1, 2, 3, 4}, {"k1"}),
                                     range("s2", {5, 6, 7, 8}, {"k5"})})
                .inserted,
            2u);
  SnapshotReader refused(bytes);
  EXPECT_FALSE(follower.load(refused));  // not empty
  follower.clear();
  SnapshotReader in(bytes);
  ASSERT_TRUE(follower.load(in));
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(saved([&](SnapshotWriter& out) { follower.save(out); }), bytes);
  const std::vector<uint64_t> request = {9, 9, 9, 9};
  EXPECT_EQ(follower.match("s2", std::span(request)), leader.match("s2", std::span(request)));
  EXPECT_FALSE(follower.contains("s1", "k1"));
  EXPECT_FALSE(follower.contains("s2", "k5"));
  // The emptied scopes hash keys with the adopted seed, as the scope the load created does: a
  // remove finds the keys in both.
  EXPECT_EQ(follower.remove(std::vector<std::string>{"k9", "k7"}), 2u);
}

TEST(DerivedStateClearTest, BlendFeedForgetsItsPlacementsAndLeavesTheIndexAlone) {
  BlendIndex index(4, 1, 7);
  BlendFeed feed{index};
  feed.apply(Batch("a", 1, 1, CacheEventType::kStore, "pq", CacheTier::kL2, true).batch);
  ASSERT_EQ(feed.chunk_count(), 2u);
  feed.clear();
  EXPECT_EQ(feed.chunk_count(), 0u);
  BlendIndex other(4, 1, 7);
  BlendFeed fresh{other};
  EXPECT_EQ(saved([&](SnapshotWriter& out) { feed.save(out); }),
            saved([&](SnapshotWriter& out) { fresh.save(out); }));
  EXPECT_EQ(index.entry_count(), 2u);  // BlendIndex::clear empties the index
  // A chunk stored again is counted afresh: its one placement's delete takes it out.
  index.clear();
  feed.apply(Batch("a", 1, 2, CacheEventType::kStore, "p", CacheTier::kL2, true).batch);
  feed.apply(Batch("a", 1, 3, CacheEventType::kDelete, "p").batch);
  EXPECT_EQ(feed.chunk_count(), 0u);
  EXPECT_EQ(index.entry_count(), 0u);
}

// The whole derived state of one node.
struct Node {
  L2Accounting l2{EvictionConfig{}};
  EventIngest events{l2};
  BlendIndex blend;
  BlendFeed feed{blend};
  DerivedState derived{events, blend, feed};

  explicit Node(uint64_t seed) : blend(4, 1, seed) { events.set_blend_feed(&feed); }

  void ingest(const Batch& b) { events.ingest(b.batch); }
  void declare(std::string_view instance, uint64_t incarnation, uint64_t seq, uint64_t bytes) {
    events.ingest(testing::capacity_declaration(instance, incarnation, seq, bytes, 1));
  }

  bool holds(char c) {
    const std::vector<ObjectKey> keys = {key_of(c)};
    return !l2.lookup(std::span<const ObjectKey>(keys))[0].placements.empty();
  }
  size_t blend_matches(char c) {
    const std::vector<uint64_t> tokens = tokens_of(c);
    return blend.match(BlendFeed::scope("m", "t", 1), std::span(tokens)).size();
  }
  std::string saved_state() {
    std::string bytes;
    derived.freeze([&] { bytes = saved([&](SnapshotWriter& out) { derived.save(out); }); });
    return bytes;
  }
};

TEST(DerivedStateClearTest, RebuildReplacesTheStateWithTheSnapshots) {
  // A: keys X and Y (blend chunks), cursors of mp-a and mp-old, declarations of both.
  Node a(1);
  a.ingest(Batch("mp-a", 1, 1, CacheEventType::kStore, "XY", CacheTier::kL2, true));
  a.ingest(Batch("mp-a", 1, 2, CacheEventType::kStore, "W", CacheTier::kL1));
  a.ingest(Batch("mp-old", 1, 1, CacheEventType::kStore, "V"));
  a.declare("mp-a", 1, 3, 5000);
  a.declare("mp-old", 1, 2, 9000);
  // B: the leader's state: Y and Z (blend chunks), X deleted, mp-a restarted, mp-b new.
  Node b(2);
  b.ingest(Batch("mp-a", 1, 1, CacheEventType::kStore, "XY", CacheTier::kL2, true));
  b.ingest(Batch("mp-a", 1, 2, CacheEventType::kDelete, "X"));
  b.ingest(Batch("mp-a", 2, 1, CacheEventType::kStore, "Z", CacheTier::kL2, true));
  b.ingest(Batch("mp-b", 4, 6, CacheEventType::kStore, "U"));
  b.declare("mp-a", 2, 2, 6000);
  const std::string snapshot = b.saved_state();

  SnapshotReader in(snapshot);
  ASSERT_TRUE(a.derived.rebuild(in));
  EXPECT_TRUE(in.at_end());

  EXPECT_FALSE(a.holds('X'));
  EXPECT_TRUE(a.holds('Y'));
  EXPECT_TRUE(a.holds('Z'));
  EXPECT_TRUE(a.holds('U'));
  EXPECT_FALSE(a.holds('W'));
  EXPECT_FALSE(a.holds('V'));
  EXPECT_EQ(a.blend_matches('X'), 0u);
  EXPECT_EQ(a.blend_matches('Y'), 1u);
  EXPECT_EQ(a.blend_matches('Z'), 1u);
  EXPECT_EQ(a.feed.chunk_count(), b.feed.chunk_count());
  EXPECT_EQ(a.blend.entry_count(), b.blend.entry_count());

  const std::optional<EventGate::Cursor> cursor = a.events.gate().cursor("mp-a");
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->incarnation, 2u);
  EXPECT_EQ(cursor->last_seq, 2u);
  EXPECT_FALSE(a.events.gate().cursor("mp-old").has_value());
  ASSERT_TRUE(a.events.gate().cursor("mp-b").has_value());
  EXPECT_EQ(a.events.gate().cursor("mp-b")->last_seq, 6u);
  EXPECT_EQ(a.events.gate().cursor_count(), b.events.gate().cursor_count());
  ASSERT_TRUE(a.events.capacity().find("mp-a").has_value());
  EXPECT_EQ(a.events.capacity().find("mp-a")->compartments.at(0).capacity_bytes, 6000u);
  EXPECT_FALSE(a.events.capacity().find("mp-old").has_value());

  EXPECT_EQ(a.l2.counters().tracked_keys, b.l2.counters().tracked_keys);
  EXPECT_EQ(a.l2.total_bytes(), b.l2.total_bytes());
  EXPECT_EQ(a.l2.directory_counts().keys, b.l2.directory_counts().keys);
  EXPECT_EQ(a.l2.directory_counts().placements, b.l2.directory_counts().placements);

  // The rebuilt state goes on like the leader's: Z's one placement deleted takes its chunk out.
  a.ingest(Batch("mp-a", 2, 3, CacheEventType::kDelete, "Z"));
  EXPECT_FALSE(a.holds('Z'));
  EXPECT_EQ(a.blend_matches('Z'), 0u);
  // And it saves as the leader's state would after the same delete.
  b.ingest(Batch("mp-a", 2, 3, CacheEventType::kDelete, "Z"));
  Node c(3);
  const std::string rebuilt = a.saved_state();
  SnapshotReader from_a(rebuilt);
  ASSERT_TRUE(c.derived.load(from_a));
  EXPECT_EQ(c.l2.salts().size(), b.l2.salts().size());
  EXPECT_EQ(c.l2.usage_bytes("t"), b.l2.usage_bytes("t"));
}

// Stores `count` seed-era keys named `prefix` + i into the node (as a resync would).
void resync(Node& node, char prefix, int count) {
  std::vector<std::pair<ObjectKey, uint64_t>> entries;
  for (int i = 0; i < count; ++i) {
    std::string h = hash(prefix);
    h.replace(1, 8, std::to_string(10000000 + i));
    entries.emplace_back(ObjectKey{h, "m", 0, 0, "r"}, 10);
  }
  node.l2.apply_resync(entries, "mp-r");
}

TEST(DerivedStateClearTest, AFreezeThroughACopyNeverSeesHalfARebuild) {
  Node a(1);
  resync(a, 'a', 20000);
  Node b(2);
  resync(b, 'b', 10000);
  b.ingest(Batch("mp-a", 1, 1, CacheEventType::kStore, "XY", CacheTier::kL2, true));
  const std::string before = a.saved_state();
  const std::string snapshot = b.saved_state();
  ASSERT_NE(before.size(), snapshot.size());

  // A checkpoint's copy of the derived state freezes and saves while the rebuild runs.
  DerivedState copy = a.derived;
  std::atomic<bool> rebuilt{false};
  std::vector<size_t> sizes;
  std::thread checkpoints([&] {
    do {
      std::string bytes;
      copy.freeze([&] { bytes = saved([&](SnapshotWriter& out) { copy.save(out); }); });
      sizes.push_back(bytes.size());
    } while (!rebuilt.load());
  });
  SnapshotReader in(snapshot);
  EXPECT_TRUE(a.derived.rebuild(in));
  rebuilt.store(true);
  checkpoints.join();
  for (size_t size : sizes) {
    EXPECT_TRUE(size == before.size() || size == snapshot.size()) << size;
  }
  EXPECT_EQ(a.saved_state().size(), snapshot.size());
}

TEST(DerivedStateClearTest, RebuildFromAMalformedSnapshotFails) {
  Node b(2);
  b.ingest(Batch("mp-a", 1, 1, CacheEventType::kStore, "XY", CacheTier::kL2, true));
  const std::string snapshot = b.saved_state();
  Node a(1);
  SnapshotReader in(std::string_view(snapshot).substr(0, snapshot.size() - 3));
  EXPECT_FALSE(a.derived.rebuild(in) && in.at_end());
}

}  // namespace
}  // namespace lmcache::core
