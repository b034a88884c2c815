#include "core/key_directory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

std::string hash(char c) { return std::string(32, c); }

class KeyDirectoryTest : public ::testing::Test {
 protected:
  // Applies one batch whose entries are one key per hash byte, each of `size` bytes.
  void apply(CacheEventType type, CacheTier tier, std::string_view backend,
             std::string_view instance, uint64_t incarnation, const std::string& hashes,
             uint64_t size = 100, bool shared = false, double ts = 0,
             std::vector<int64_t> tokens = {}) {
    std::vector<std::string> keys;
    for (char c : hashes) keys.push_back(hash(c));
    std::vector<CacheEventEntry> entries;
    entries.reserve(keys.size());
    for (const auto& key : keys) {
      entries.push_back({ObjectKeyView(key, "m", 0, 0, "salt"), size, tokens, 7});
    }
    CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = incarnation;
    batch.seq = 1;
    batch.type = type;
    batch.tier = tier;
    batch.backend = backend;
    batch.shared = shared;
    batch.ts = ts;
    batch.entries = entries;
    dir_.apply_batch(batch);
  }

  std::vector<Placement> placements(char c) {
    const std::string key = hash(c);
    return dir_.placements(ObjectKeyView(key, "m", 0, 0, "salt"));
  }

  KeyDirectory dir_;
};

constexpr CacheTier kL1 = CacheTier::kL1;
constexpr CacheTier kL2 = CacheTier::kL2;
constexpr CacheEventType kStore = CacheEventType::kStore;
constexpr CacheEventType kDelete = CacheEventType::kDelete;
constexpr CacheEventType kAccess = CacheEventType::kAccess;

TEST_F(KeyDirectoryTest, PrivatePlacementsAreOnePerInstanceAndSortedByInstanceTierBackend) {
  apply(kStore, kL2, "fs", "mp-b", 3, "a", 100);
  apply(kStore, kL1, "cpu", "mp-b", 3, "a", 10);
  apply(kStore, kL2, "fs", "mp-a", 1, "a", 200);
  apply(kStore, kL2, "fs", "mp-a", 2, "a", 300);  // same identity: replaces size and incarnation
  EXPECT_EQ(placements('a'), (std::vector<Placement>{{kL2, "fs", "mp-a", 2, 300, false},
                                                     {kL1, "cpu", "mp-b", 3, 10, false},
                                                     {kL2, "fs", "mp-b", 3, 100, false}}));
  // The ledger's size is the sum of the L2 placements; the owner is the last L2 storer.
  EXPECT_EQ(dir_.ledger().usage_bytes("salt"), 400u);
  EXPECT_EQ(dir_.ledger().owner_of(ObjectKeyView(hash('a'), "m", 0, 0, "salt")), "mp-a");
  const DirectoryCounts counts = dir_.counts();
  EXPECT_EQ(counts.keys, 1u);
  EXPECT_EQ(counts.placements, 3u);
  EXPECT_EQ(counts.keys_by_tier[0], 1u);
  EXPECT_EQ(counts.placements_by_tier[1], 2u);
}

TEST_F(KeyDirectoryTest, ManyKeysGetTheirPlacementsInOneListKeyAfterKey) {
  apply(kStore, kL2, "fs", "mp-b", 1, "ac");
  apply(kStore, kL2, "fs", "mp-a", 1, "a");
  apply(kStore, kL1, "cpu", "mp-a", 1, "d");
  const std::string keys[] = {hash('a'), hash('b'), hash('c'), hash('a'), hash('d'), hash('e')};
  std::vector<ObjectKeyView> views;
  for (const std::string& key : keys) views.emplace_back(key, "m", 0, 0, "salt");
  views.emplace_back(keys[2], "other-model", 0, 0, "salt");  // a model nobody stores
  std::vector<Placement> all = {Placement{}};                // replaced, not appended to
  std::vector<uint32_t> first = {7, 7};
  dir_.placements(views, all, first);
  ASSERT_EQ(first.size(), views.size() + 1);
  EXPECT_EQ(first.front(), 0u);
  EXPECT_EQ(first.back(), all.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const std::vector<Placement> got(all.begin() + first[i], all.begin() + first[i + 1]);
    EXPECT_EQ(got, dir_.placements(views[i])) << "key " << i;
  }
  EXPECT_EQ(first[2] - first[1], 0u);  // 'b' is unknown
  EXPECT_EQ(first[1] - first[0], 2u);  // 'a': mp-a then mp-b
  EXPECT_EQ(all[first[0]].instance_id, "mp-a");
  EXPECT_EQ(all.size(), 2u + 1u + 2u + 1u);
}

TEST_F(KeyDirectoryTest, SharedPlacementIsOverwrittenByItsLastReporter) {
  apply(kStore, kL2, "s3", "mp-a", 1, "a", 100, true);
  apply(kStore, kL2, "s3", "mp-b", 5, "a", 150, true);
  EXPECT_EQ(placements('a'), (std::vector<Placement>{{kL2, "s3", "mp-b", 5, 150, true}}));
  EXPECT_EQ(dir_.ledger().usage_bytes("salt"), 150u);
  const std::vector<ModuleUsage> used = dir_.used_bytes();
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(used[0].instance_id, "");
  EXPECT_TRUE(used[0].shared);
  EXPECT_EQ(used[0].used_bytes, 150u);
  // A delete of the shared placement by anyone removes it.
  apply(kDelete, kL2, "s3", "mp-c", 1, "a", 0, true);
  EXPECT_TRUE(placements('a').empty());
  EXPECT_EQ(dir_.ledger().key_count(), 0u);

  // A shared L1 placement belongs to its last reporter for fences.
  apply(kStore, kL1, "pool", "mp-a", 1, "b", 10, true);
  apply(kStore, kL1, "pool", "mp-b", 1, "b", 10, true);
  EXPECT_EQ(dir_.counts().l1_keys_by_instance,
            (std::vector<std::pair<std::string, uint64_t>>{{"mp-b", 1}}));
  dir_.fence_l1("mp-a");
  EXPECT_EQ(placements('b'), (std::vector<Placement>{{kL1, "pool", "mp-b", 1, 10, true}}));
  dir_.fence_l1("mp-b");
  EXPECT_TRUE(placements('b').empty());
}

TEST_F(KeyDirectoryTest, FenceRemovesOnlyTheInstancesL1PlacementsAndBytes) {
  apply(kStore, kL1, "cpu", "mp-a", 1, "ab", 10);
  apply(kStore, kL2, "fs", "mp-a", 1, "a", 100);
  apply(kStore, kL1, "cpu", "mp-b", 1, "b", 20);
  apply(kStore, kL1, "pool", "mp-a", 1, "c", 30, true);  // shared, reported last by mp-a
  apply(kStore, kL1, "pool", "mp-b", 1, "d", 40, true);  // shared, reported last by mp-b
  EXPECT_EQ(dir_.counts().l1_keys_by_instance,
            (std::vector<std::pair<std::string, uint64_t>>{{"mp-a", 3}, {"mp-b", 2}}));

  dir_.fence_l1("mp-a");
  EXPECT_EQ(placements('a'), (std::vector<Placement>{{kL2, "fs", "mp-a", 1, 100, false}}));
  EXPECT_EQ(placements('b'), (std::vector<Placement>{{kL1, "cpu", "mp-b", 1, 20, false}}));
  EXPECT_TRUE(placements('c').empty());
  EXPECT_EQ(placements('d').size(), 1u);
  EXPECT_EQ(dir_.counts().l1_keys_by_instance,
            (std::vector<std::pair<std::string, uint64_t>>{{"mp-b", 2}}));
  EXPECT_EQ(dir_.counts().keys, 3u);
  EXPECT_EQ(dir_.ledger().usage_bytes("salt"), 100u);
  for (const ModuleUsage& module : dir_.used_bytes()) {
    EXPECT_FALSE(module.instance_id == "mp-a" && module.tier == kL1) << module.backend;
  }
}

TEST_F(KeyDirectoryTest, DeletingTheLastPlacementForgetsTheKeyAndItsBinding) {
  apply(kStore, kL1, "cpu", "mp-a", 1, "a", 10, false, 0, {5, 6});
  apply(kStore, kL2, "fs", "mp-a", 1, "a", 100);
  ASSERT_NE(dir_.binding(hash('a')), nullptr);
  EXPECT_EQ(dir_.binding(hash('a'))->token_ids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(dir_.binding(hash('a'))->token_offset, 7);

  apply(kDelete, kL2, "fs", "mp-a", 1, "a");
  EXPECT_EQ(dir_.ledger().key_count(), 0u);  // left L2
  EXPECT_NE(dir_.binding(hash('a')), nullptr);
  apply(kDelete, kL1, "cpu", "mp-b", 1, "a");  // another instance's placement: no match
  EXPECT_EQ(placements('a').size(), 1u);
  apply(kDelete, kL1, "cpu", "mp-a", 1, "a");
  EXPECT_TRUE(placements('a').empty());
  EXPECT_EQ(dir_.binding(hash('a')), nullptr);
  EXPECT_EQ(dir_.counts().keys, 0u);
  EXPECT_EQ(dir_.counts().placements, 0u);
  EXPECT_TRUE(dir_.used_bytes().empty());
}

TEST_F(KeyDirectoryTest, TokensOutsideUint32LeaveTheBindingUnchanged) {
  apply(kStore, kL1, "cpu", "mp-a", 1, "a", 10, false, 0, {1});
  apply(kStore, kL1, "cpu", "mp-a", 1, "a", 10, false, 0, {1, int64_t{1} << 32});
  EXPECT_EQ(dir_.binding(hash('a'))->token_ids, (std::vector<uint32_t>{1}));
}

TEST_F(KeyDirectoryTest, L1OnlyKeysCountNowhereInL2) {
  apply(kStore, kL1, "cpu", "mp-a", 1, "abc", 10);
  apply(kStore, kL2, "fs", "mp-a", 1, "b", 100);
  EXPECT_EQ(dir_.ledger().key_count(), 1u);
  EXPECT_EQ(dir_.ledger().key_count("salt"), 1u);
  EXPECT_EQ(dir_.ledger().usage_bytes("salt"), 100u);
  EXPECT_EQ(dir_.ledger().total_bytes(), 100u);
  EXPECT_FALSE(dir_.ledger().contains(ObjectKeyView(hash('a'), "m", 0, 0, "salt")));
  const auto lru = dir_.ledger().lru_keys("salt", 10);
  ASSERT_EQ(lru.size(), 1u);
  EXPECT_EQ(lru[0].chunk_hash, hash('b'));
  ASSERT_EQ(dir_.ledger().salts_with_usage().size(), 1u);
  EXPECT_EQ(dir_.ledger().salts_with_usage()[0].keys, 1u);
  // An L2 access of an L1-only key does not put it in L2.
  apply(kAccess, kL2, "", "mp-a", 1, "a", 0, false, 5);
  EXPECT_EQ(dir_.ledger().key_count(), 1u);
  EXPECT_EQ(dir_.last_access(ObjectKeyView(hash('a'), "m", 0, 0, "salt")), 5.0);
}

TEST_F(KeyDirectoryTest, LastAccessIsTheLatestEventTs) {
  apply(kStore, kL2, "fs", "mp-a", 1, "a", 100, false, 10);
  apply(kAccess, kL1, "", "mp-a", 1, "a", 0, false, 30);
  apply(kAccess, kL2, "fs", "mp-a", 1, "a", 0, false, 20);
  EXPECT_EQ(dir_.last_access(ObjectKeyView(hash('a'), "m", 0, 0, "salt")), 30.0);
}

TEST_F(KeyDirectoryTest, SeedEraKeysHaveOneL2PlacementThatAnyL2DeleteRemoves) {
  const std::string key = hash('a');
  dir_.apply_seed_store(ObjectKeyView(key, "m", 0, 0, "salt"), 100, "mp-old");
  dir_.apply_seed_store(ObjectKeyView(key, "m", 0, 0, "salt"), 120, "mp-other");
  EXPECT_EQ(placements('a'), (std::vector<Placement>{{kL2, "", "mp-other", 0, 120, false}}));
  EXPECT_EQ(dir_.ledger().usage_bytes("salt"), 120u);
  apply(kStore, kL1, "cpu", "mp-new", 1, "a", 10);
  apply(kDelete, kL2, "fs", "mp-new", 1, "a");
  EXPECT_EQ(placements('a'), (std::vector<Placement>{{kL1, "cpu", "mp-new", 1, 10, false}}));
  EXPECT_EQ(dir_.ledger().key_count(), 0u);

  // A seed-era delete removes every L2 placement and leaves L1 alone.
  apply(kStore, kL2, "fs", "mp-new", 1, "a", 100);
  apply(kStore, kL2, "s3", "mp-new", 1, "a", 100, true);
  dir_.apply_seed_delete(ObjectKeyView(key, "m", 0, 0, "salt"));
  EXPECT_EQ(placements('a').size(), 1u);
  EXPECT_EQ(dir_.ledger().total_bytes(), 0u);
}

TEST_F(KeyDirectoryTest, ListingFiltersPlacementsAndPages) {
  apply(kStore, kL2, "fs", "mp-a", 1, "ab", 100);
  apply(kStore, kL1, "cpu", "mp-b", 1, "bc", 10);
  auto [total, page] = dir_.list({kL1, "", ""}, 0, 10);
  EXPECT_EQ(total, 2u);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].key.chunk_hash, hash('b'));
  EXPECT_EQ(page[0].placements, (std::vector<Placement>{{kL1, "cpu", "mp-b", 1, 10, false}}));
  auto [all, second] = dir_.list({std::nullopt, "", ""}, 1, 1);
  EXPECT_EQ(all, 3u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key.chunk_hash, hash('b'));
  EXPECT_EQ(second[0].placements.size(), 2u);
  EXPECT_EQ(dir_.list({std::nullopt, "mp-a", "cpu"}, 0, 10).first, 0u);
  EXPECT_EQ(dir_.list({std::nullopt, "nobody", ""}, 0, 10).first, 0u);
}

TEST_F(KeyDirectoryTest, MemoryPerKeyWithOneL2PlacementStaysWithinBudget) {
  // Exactly 4 slab blocks of 65,536 records, so block granularity does not blur the figure.
  constexpr size_t kKeys = size_t{4} * 65'536;
  const size_t empty = dir_.memory_bytes();
  std::string key(32, '\0');
  for (size_t i = 0; i < kKeys; ++i) {
    std::memcpy(key.data(), &i, sizeof(i));
    const CacheEventEntry entry{ObjectKeyView(key, "m", 0, 0, "salt"), 4096, {}, -1};
    CacheEventBatch batch;
    batch.instance_id = "mp-a";
    batch.incarnation = 1;
    batch.type = kStore;
    batch.tier = kL2;
    batch.backend = "fs";
    batch.entries = std::span<const CacheEventEntry>(&entry, 1);
    dir_.apply_batch(batch);
  }
  const double per_key = static_cast<double>(dir_.memory_bytes() - empty) / kKeys;
  RecordProperty("bytes_per_key", std::to_string(per_key));
  EXPECT_LE(per_key, 120.0);  // the budget (protocol-v2.md Part A 3)
  EXPECT_GE(per_key, 104.0);  // the ledger's 80-byte record plus the 24-byte slot
}

}  // namespace
}  // namespace lmcache::core
