#include "core/event_ingest.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "capacity_declaration.h"

namespace lmcache::core {
namespace {

using Verdict = EventGate::Verdict;

std::string hash(char c) { return std::string(32, c); }

class EventIngestTest : public ::testing::Test {
 protected:
  // Offers one batch of `type` on `tier` whose entries are one key per hash byte, of 100 bytes.
  Verdict offer(std::string_view id, uint64_t incarnation, uint64_t seq, CacheEventType type,
                const std::string& hashes, CacheTier tier = CacheTier::kL2, bool shared = false) {
    keys_.clear();
    for (char c : hashes) keys_.push_back(hash(c));
    std::vector<CacheEventEntry> entries;
    for (const auto& key : keys_) {
      entries.push_back({ObjectKeyView(key, "m", 0, 0, "salt"), 100, {}, -1});
    }
    CacheEventBatch batch;
    batch.instance_id = id;
    batch.incarnation = incarnation;
    batch.seq = seq;
    batch.type = type;
    batch.tier = tier;
    batch.backend = "fs";
    batch.shared = shared;
    batch.entries = entries;
    return ingest_.ingest(batch).verdict;
  }

  Verdict declare(std::string_view id, uint64_t incarnation, uint64_t seq, uint64_t revision,
                  uint64_t bytes) {
    return ingest_.ingest(testing::capacity_declaration(id, incarnation, seq, bytes, revision))
        .verdict;
  }

  // Every tracked key of "salt" as (hash byte, owner), least recent first: without a quota the
  // planner takes them all.
  std::vector<std::pair<char, std::string>> lru() {
    std::vector<std::pair<char, std::string>> out;
    const EvictionPlan plan = l2_.plan_eviction({}, std::chrono::steady_clock::now());
    for (const auto& victim : plan.victims) {
      out.emplace_back(victim.key.chunk_hash[0], victim.owner);
    }
    l2_.release(plan.victims);
    return out;
  }

  L2Accounting l2_{EvictionConfig{}};
  EventIngest ingest_{l2_};
  std::vector<std::string> keys_;
};

TEST_F(EventIngestTest, StoreRecordsSizesAndDeleteSubtractsThem) {
  EXPECT_EQ(offer("mp-a", 1, 1, CacheEventType::kStore, "ab"), Verdict::kAdmitted);
  EXPECT_EQ(l2_.usage_bytes("salt"), 200u);
  EXPECT_EQ(offer("mp-a", 1, 2, CacheEventType::kDelete, "a"), Verdict::kAdmitted);
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);
  EXPECT_EQ(lru(), (std::vector<std::pair<char, std::string>>{{'b', "mp-a"}}));
}

TEST_F(EventIngestTest, StoreOfAKnownKeyReplacesItsSize) {
  offer("mp-a", 1, 1, CacheEventType::kStore, "a");
  offer("mp-a", 1, 2, CacheEventType::kStore, "a");
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);
  EXPECT_EQ(l2_.counters().tracked_keys, 1u);
}

TEST_F(EventIngestTest, AccessMakesATrackedKeyMostRecentAndIgnoresUnknownKeys) {
  offer("mp-a", 1, 1, CacheEventType::kStore, "ab");
  offer("mp-a", 1, 2, CacheEventType::kAccess, "az");
  EXPECT_EQ(lru(), (std::vector<std::pair<char, std::string>>{{'b', "mp-a"}, {'a', "mp-a"}}));
  EXPECT_EQ(l2_.usage_bytes("salt"), 200u);
}

TEST_F(EventIngestTest, SharedPlacementIsOneKeyOwnedByItsLastReporter) {
  offer("mp-a", 1, 1, CacheEventType::kStore, "a", CacheTier::kL2, true);
  offer("mp-b", 1, 1, CacheEventType::kStore, "a", CacheTier::kL2, true);
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);
  EXPECT_EQ(lru(), (std::vector<std::pair<char, std::string>>{{'a', "mp-b"}}));
}

TEST_F(EventIngestTest, SeedEraStoreIsDeletedThroughTheV2Stream) {
  const std::string key = hash('a');
  const L2Event store{L2EventType::kStore, ObjectKeyView(key, "m", 0, 0, "salt"), 100};
  l2_.apply_batch("mp-old", 1, std::span<const L2Event>(&store, 1));
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);
  offer("mp-new", 1, 1, CacheEventType::kDelete, "a");
  EXPECT_EQ(l2_.usage_bytes("salt"), 0u);
  EXPECT_EQ(l2_.counters().tracked_keys, 0u);
}

TEST_F(EventIngestTest, L1BatchAdvancesTheCursorAndFillsTheDirectoryButLeavesL2Alone) {
  EXPECT_EQ(offer("mp-a", 1, 1, CacheEventType::kStore, "a", CacheTier::kL1), Verdict::kAdmitted);
  EXPECT_EQ(l2_.counters().tracked_keys, 0u);
  EXPECT_EQ(l2_.directory_counts().keys_by_tier[0], 1u);
  EXPECT_EQ(ingest_.gate().cursor("mp-a")->last_seq, 1u);
  EXPECT_EQ(offer("mp-a", 1, 1, CacheEventType::kStore, "b"), Verdict::kDuplicate);
}

TEST_F(EventIngestTest, DuplicateAndStaleBatchesAreNotApplied) {
  offer("mp-a", 2, 1, CacheEventType::kStore, "a");
  EXPECT_EQ(offer("mp-a", 2, 1, CacheEventType::kStore, "b"), Verdict::kDuplicate);
  EXPECT_EQ(offer("mp-a", 1, 9, CacheEventType::kStore, "c"), Verdict::kStale);
  EXPECT_EQ(l2_.counters().tracked_keys, 1u);
  const auto counters = ingest_.counters();
  EXPECT_EQ(counters.batches.admitted, 1u);
  EXPECT_EQ(counters.batches.duplicates, 1u);
  EXPECT_EQ(counters.batches.stale, 1u);
}

TEST_F(EventIngestTest, RestartKeepsL2) {
  offer("mp-a", 1, 1, CacheEventType::kStore, "a");
  EXPECT_EQ(offer("mp-a", 2, 1, CacheEventType::kStore, "b"), Verdict::kAdmitted);
  EXPECT_EQ(l2_.usage_bytes("salt"), 200u);
  EXPECT_EQ(ingest_.counters().batches.fences, 1u);
}

TEST_F(EventIngestTest, RestartAndForgettingFenceTheInstancesL1PlacementsOnly) {
  offer("mp-a", 1, 1, CacheEventType::kStore, "ab", CacheTier::kL1);
  offer("mp-a", 1, 2, CacheEventType::kStore, "a");
  offer("mp-b", 1, 1, CacheEventType::kStore, "b", CacheTier::kL1);
  EXPECT_EQ(l2_.directory_counts().placements, 4u);

  offer("mp-a", 2, 1, CacheEventType::kStore, "c", CacheTier::kL1);  // restart: fence
  const std::string a = hash('a');
  const std::string b = hash('b');
  EXPECT_EQ(l2_.lookup(std::vector<ObjectKey>{{a, "m", 0, 0, "salt"}})[0].placements,
            (std::vector<Placement>{{CacheTier::kL2, "fs", "mp-a", 1, 100, false}}));
  EXPECT_EQ(l2_.lookup(std::vector<ObjectKey>{{b, "m", 0, 0, "salt"}})[0].placements,
            (std::vector<Placement>{{CacheTier::kL1, "fs", "mp-b", 1, 100, false}}));
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);

  ingest_.on_instance_timed_out("mp-b");
  EXPECT_TRUE(l2_.lookup(std::vector<ObjectKey>{{b, "m", 0, 0, "salt"}})[0].placements.empty());
  ingest_.on_instance_deregistered("mp-a");
  const DirectoryCounts counts = l2_.directory_counts();
  EXPECT_EQ(counts.keys, 1u);  // only a's L2 placement is left
  EXPECT_EQ(counts.placements, 1u);
  EXPECT_TRUE(counts.l1_keys_by_instance.empty());
}

TEST_F(EventIngestTest, ConfigBatchDeclaresCapacityUnderTheGate) {
  EXPECT_EQ(declare("mp-a", 1, 1, 3, 1000), Verdict::kAdmitted);
  const auto declaration = ingest_.capacity().find("mp-a");
  ASSERT_TRUE(declaration.has_value());
  EXPECT_EQ(declaration->revision, 3u);
  EXPECT_EQ(declaration->compartments,
            (std::vector<CapacityCompartment>{{CacheTier::kL2, "fs", 1000}}));
  // A replayed config batch is a duplicate and does not reach the declarations.
  EXPECT_EQ(declare("mp-a", 1, 1, 4, 5), Verdict::kDuplicate);
  EXPECT_EQ(ingest_.capacity().find("mp-a")->revision, 3u);
}

TEST_F(EventIngestTest, DeregistrationForgetsTheCursorAndTheDeclaration) {
  declare("mp-a", 5, 1, 0, 1000);
  offer("mp-a", 5, 2, CacheEventType::kStore, "a");
  ingest_.on_instance_deregistered("mp-a");
  EXPECT_FALSE(ingest_.gate().cursor("mp-a").has_value());
  EXPECT_FALSE(ingest_.capacity().find("mp-a").has_value());
  EXPECT_EQ(l2_.usage_bytes("salt"), 100u);  // L2 survives
  EXPECT_EQ(offer("mp-a", 1, 1, CacheEventType::kStore, "b"), Verdict::kAdmitted);
}

TEST_F(EventIngestTest, TimeoutForgetsTheCursorButKeepsTheDeclaration) {
  declare("mp-a", 5, 1, 0, 1000);
  ingest_.on_instance_timed_out("mp-a");
  EXPECT_FALSE(ingest_.gate().cursor("mp-a").has_value());
  EXPECT_TRUE(ingest_.capacity().find("mp-a").has_value());
  EXPECT_EQ(offer("mp-a", 5, 1, CacheEventType::kStore, "b"), Verdict::kAdmitted);
}

// The dialect: an instance speaks v2 once any batch naming it reaches the gate, and forgets it
// with its cursor.
TEST_F(EventIngestTest, AnInstanceSpeaksV2OnceABatchNamingItReachesTheGate) {
  EXPECT_FALSE(ingest_.speaks_v2("mp-a"));
  EXPECT_EQ(offer("mp-a", 5, 1, CacheEventType::kStore, "a"), Verdict::kAdmitted);
  EXPECT_TRUE(ingest_.speaks_v2("mp-a"));
  EXPECT_FALSE(ingest_.speaks_v2("mp-b"));  // per instance

  ingest_.on_instance_deregistered("mp-a");
  EXPECT_FALSE(ingest_.speaks_v2("mp-a"));
  // A config batch counts too, and so does the cursor a stale or duplicate batch meets.
  EXPECT_EQ(declare("mp-a", 5, 1, 1, 100), Verdict::kAdmitted);
  EXPECT_TRUE(ingest_.speaks_v2("mp-a"));
  EXPECT_EQ(offer("mp-a", 5, 1, CacheEventType::kStore, "b"), Verdict::kDuplicate);
  EXPECT_EQ(offer("mp-a", 4, 9, CacheEventType::kStore, "b"), Verdict::kStale);
  EXPECT_TRUE(ingest_.speaks_v2("mp-a"));

  ingest_.on_instance_timed_out("mp-a");
  EXPECT_FALSE(ingest_.speaks_v2("mp-a"));
  EXPECT_EQ(offer("mp-a", 1, 7, CacheEventType::kAccess, "a"), Verdict::kAdmitted);
  EXPECT_TRUE(ingest_.speaks_v2("mp-a"));
}

}  // namespace
}  // namespace lmcache::core
