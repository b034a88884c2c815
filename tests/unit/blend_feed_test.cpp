#include "core/blend_feed.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_ingest.h"
#include "core/l2_accounting.h"
#include "core/token_chain_hasher.h"

namespace lmcache::core {
namespace {

constexpr size_t kChunk = 4;

// One store or delete entry and the strings it points at.
struct Entry {
  std::string hash;
  std::string model = "m";
  std::string salt;
  uint32_t world_size = 1;
  uint32_t worker = 0;
  std::vector<int64_t> tokens;
  int64_t offset = -1;
};

// An entry of world size 1, worker 0, without tokens.
Entry bare(const std::string& hash) {
  Entry e;
  e.hash = hash;
  return e;
}

class BlendFeedTest : public ::testing::Test {
 protected:
  // Applies one batch of `entries`.
  void apply(CacheEventType type, const std::vector<Entry>& entries,
             CacheTier tier = CacheTier::kL2, std::string_view instance = "mp-a",
             std::string_view backend = "fs", bool shared = false) {
    std::vector<CacheEventEntry> decoded;
    for (const Entry& e : entries) {
      CacheEventEntry entry;
      entry.key = ObjectKeyView(e.hash, e.model,
                                kv_rank_from_wire(pack_kv_rank(e.world_size, e.worker)), 0, e.salt);
      entry.token_ids = e.tokens;
      entry.token_offset = e.offset;
      decoded.push_back(entry);
    }
    CacheEventBatch batch;
    batch.instance_id = instance;
    batch.type = type;
    batch.tier = tier;
    batch.backend = backend;
    batch.shared = shared;
    batch.entries = decoded;
    feed_.apply(batch);
  }

  std::vector<BlendMatch> match(const std::vector<uint32_t>& tokens, std::string_view model = "m",
                                std::string_view salt = "", uint32_t world_size = 1) const {
    return index_.match(BlendFeed::scope(model, salt, world_size), std::span(tokens));
  }

  BlendIndex index_{kChunk, 1, 7};
  BlendFeed feed_{index_};
};

const std::string kHashA = std::string("\xab\x01", 2);
const std::string kHashB = std::string("\xcd\x02", 2);

TEST_F(BlendFeedTest, StoreWithOneChunkOfTokensIsMatchedByChunkHashAtItsOffset) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 512}});
  const auto matches = match({1, 5, 6, 7, 8, 9});
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(BlendFeed::chunk_hash_hex(matches[0].object_key), "ab01");
  EXPECT_EQ(matches[0].old_st, 512u);
  EXPECT_EQ(matches[0].cur_st, 1u);
  EXPECT_EQ(feed_.counters().indexed, 1u);
  EXPECT_EQ(feed_.chunk_count(), 1u);
}

TEST_F(BlendFeedTest, EveryRankOfAWorldIndexesTheChunkOnce) {
  apply(CacheEventType::kStore,
        {{kHashA, "m", "", 2, 0, {5, 6, 7, 8}, 0}, {kHashA, "m", "", 2, 1, {5, 6, 7, 8}, 0}});
  EXPECT_EQ(match({5, 6, 7, 8}, "m", "", 2).size(), 1u);
  EXPECT_EQ(feed_.chunk_count(), 1u);
  // One rank's placement going keeps the chunk: the other rank still holds it.
  apply(CacheEventType::kDelete, {{kHashA, "m", "", 2, 0, {}, -1}});
  EXPECT_EQ(match({5, 6, 7, 8}, "m", "", 2).size(), 1u);
  apply(CacheEventType::kDelete, {{kHashA, "m", "", 2, 1, {}, -1}});
  EXPECT_TRUE(match({5, 6, 7, 8}, "m", "", 2).empty());
  EXPECT_EQ(feed_.counters().removed, 1u);
}

TEST_F(BlendFeedTest, NamespacesAreModelSaltAndWorldSize) {
  apply(CacheEventType::kStore, {{kHashA, "m", "t1", 2, 0, {5, 6, 7, 8}, 0}});
  EXPECT_EQ(match({5, 6, 7, 8}, "m", "t1", 2).size(), 1u);
  EXPECT_TRUE(match({5, 6, 7, 8}, "other", "t1", 2).empty());
  EXPECT_TRUE(match({5, 6, 7, 8}, "m", "t2", 2).empty());
  EXPECT_TRUE(match({5, 6, 7, 8}, "m", "t1", 1).empty());
}

TEST_F(BlendFeedTest, DeletingInOneNamespaceLeavesTheSameChunkInAnother) {
  apply(CacheEventType::kStore,
        {{kHashA, "m", "t1", 1, 0, {5, 6, 7, 8}, 0}, {kHashA, "m", "t2", 1, 0, {5, 6, 7, 8}, 0}});
  apply(CacheEventType::kDelete, {{kHashA, "m", "t1", 1, 0, {}, -1}});
  EXPECT_TRUE(match({5, 6, 7, 8}, "m", "t1").empty());
  EXPECT_EQ(match({5, 6, 7, 8}, "m", "t2").size(), 1u);
}

TEST_F(BlendFeedTest, EntriesThatAreNotOneChunkAtAKnownOffsetAreIgnored) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, -1},           // no offset
                                 {kHashA, "m", "", 1, 0, {5, 6, 7}, 0},               // short
                                 {kHashA, "m", "", 1, 0, {5, 6, 7, 8, 9}, 0},         // long
                                 {kHashA, "m", "", 1, 0, {5, 6, 7, -8}, 0},           // negative
                                 {kHashA, "m", "", 1, 0, {5, 6, 7, 1LL << 32}, 0}});  // > u32
  EXPECT_EQ(feed_.chunk_count(), 0u);
  EXPECT_EQ(feed_.counters().ignored, 5u);
  EXPECT_TRUE(match({5, 6, 7, 8}).empty());
}

TEST_F(BlendFeedTest, KvRankWithoutAWorldSizeIsIgnored) {
  std::vector<CacheEventEntry> entries(1);
  const std::vector<int64_t> tokens = {5, 6, 7, 8};
  entries[0].key = ObjectKeyView(kHashA, "m", 0, 0, "");  // 0 is no upstream packing
  entries[0].token_ids = tokens;
  entries[0].token_offset = 0;
  CacheEventBatch batch;
  batch.instance_id = "mp-a";
  batch.backend = "fs";
  batch.entries = entries;
  feed_.apply(batch);
  EXPECT_EQ(feed_.chunk_count(), 0u);
  EXPECT_EQ(feed_.counters().ignored, 1u);
}

TEST_F(BlendFeedTest, ChunkLeavesWithItsLastPlacementAcrossTiersAndInstances) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}}, CacheTier::kL1, "mp-a",
        "cpu");
  // The same key stored in L2 by another instance, without tokens: another placement.
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {}, -1}}, CacheTier::kL2, "mp-b", "fs");
  apply(CacheEventType::kDelete, {bare(kHashA)}, CacheTier::kL1, "mp-a", "cpu");
  EXPECT_EQ(match({5, 6, 7, 8}).size(), 1u);
  // A delete naming a placement nobody reported changes nothing.
  apply(CacheEventType::kDelete, {bare(kHashA)}, CacheTier::kL2, "mp-c", "fs");
  EXPECT_EQ(match({5, 6, 7, 8}).size(), 1u);
  apply(CacheEventType::kDelete, {bare(kHashA)}, CacheTier::kL2, "mp-b", "fs");
  EXPECT_TRUE(match({5, 6, 7, 8}).empty());
  EXPECT_EQ(feed_.chunk_count(), 0u);
}

TEST_F(BlendFeedTest, SharedPlacementIsOneWhoeverReportsIt) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}}, CacheTier::kL2, "mp-a",
        "s3", true);
  apply(CacheEventType::kStore, {bare(kHashA)}, CacheTier::kL2, "mp-b", "s3", true);
  // Deleted by a third reporter: the one shared placement is gone.
  apply(CacheEventType::kDelete, {bare(kHashA)}, CacheTier::kL2, "mp-c", "s3", true);
  EXPECT_TRUE(match({5, 6, 7, 8}).empty());
}

TEST_F(BlendFeedTest, FenceDropsOnlyTheInstancesL1Placements) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}}, CacheTier::kL1, "mp-a",
        "cpu");
  apply(CacheEventType::kStore, {{kHashB, "m", "", 1, 0, {1, 2, 3, 4}, 0}}, CacheTier::kL2, "mp-a",
        "fs");
  apply(CacheEventType::kStore, {bare(kHashB)}, CacheTier::kL1, "mp-a", "cpu");
  feed_.fence("mp-b");
  EXPECT_EQ(feed_.chunk_count(), 2u);
  feed_.fence("mp-a");
  EXPECT_TRUE(match({5, 6, 7, 8}).empty());   // only in mp-a's L1
  EXPECT_EQ(match({1, 2, 3, 4}).size(), 1u);  // its L2 copy survives the fence
  EXPECT_EQ(feed_.chunk_count(), 1u);
}

TEST_F(BlendFeedTest, RestoredChunkIsIndexedAgain) {
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}});
  apply(CacheEventType::kDelete, {bare(kHashA)});
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}});
  EXPECT_EQ(match({5, 6, 7, 8}).size(), 1u);
  EXPECT_EQ(feed_.counters().indexed, 2u);
}

TEST_F(BlendFeedTest, AccessAndConfigChangeNothing) {
  apply(CacheEventType::kAccess, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}});
  EXPECT_EQ(feed_.chunk_count(), 0u);
  apply(CacheEventType::kStore, {{kHashA, "m", "", 1, 0, {5, 6, 7, 8}, 0}});
  apply(CacheEventType::kAccess, {bare(kHashA)});
  EXPECT_EQ(feed_.chunk_count(), 1u);
}

TEST(BlendFeedNames, ScopesDifferPerNamespaceAndHashComesBack) {
  EXPECT_NE(BlendFeed::scope("m", "", 1), BlendFeed::scope("m", "", 2));
  EXPECT_NE(BlendFeed::scope("m", "a", 1), BlendFeed::scope("m", "", 1));
  const std::string key =
      BlendFeed::object_key(BlendFeed::scope("m", "s", 8), std::string("\x00\xff", 2));
  EXPECT_EQ(BlendFeed::chunk_hash_hex(key), "00ff");
}

// The hook in EventIngest: admitted batches and fences reach the feed, duplicates do not.
TEST(BlendFeedThroughEventIngest, AdmittedBatchesFeedAndARestartFencesL1) {
  BlendIndex index(kChunk, 1, 7);
  BlendFeed feed(index);
  L2Accounting l2{EvictionConfig{}};
  EventIngest ingest(l2);
  ingest.set_blend_feed(&feed);

  const std::string hash = "\x01\x02";
  const std::vector<int64_t> tokens = {5, 6, 7, 8};
  std::vector<CacheEventEntry> entries(1);
  entries[0].key = ObjectKeyView(hash, "m", kv_rank_from_wire(pack_kv_rank(1, 0)), 0, "");
  entries[0].token_ids = tokens;
  entries[0].token_offset = 0;
  CacheEventBatch batch;
  batch.instance_id = "mp-a";
  batch.incarnation = 1;
  batch.seq = 1;
  batch.type = CacheEventType::kStore;
  batch.tier = CacheTier::kL1;
  batch.backend = "cpu";
  batch.entries = entries;
  ingest.ingest(batch);
  const std::vector<uint32_t> request = {5, 6, 7, 8};
  const std::string scope = BlendFeed::scope("m", "", 1);
  EXPECT_EQ(index.match(scope, std::span(request)).size(), 1u);

  // A duplicate delete is dropped by the gate: the chunk stays.
  batch.type = CacheEventType::kDelete;
  ingest.ingest(batch);
  EXPECT_EQ(index.match(scope, std::span(request)).size(), 1u);

  // The instance restarts (a higher incarnation): its L1 placements are void.
  CacheEventBatch config;
  config.instance_id = "mp-a";
  config.incarnation = 2;
  config.seq = 1;
  config.type = CacheEventType::kConfig;
  config.tier = CacheTier::kL1;
  config.backend = "cpu";
  ingest.ingest(config);
  EXPECT_TRUE(index.match(scope, std::span(request)).empty());
}

}  // namespace
}  // namespace lmcache::core
