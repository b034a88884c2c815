#include "core/usage_ledger.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

using std::chrono::seconds;

// A 32-byte hash whose first bytes spell `n`.
ObjectKey key(uint32_t n, std::string salt = "", std::string model = "m", int32_t rank = 0,
              uint32_t group = 0) {
  std::string hash(32, '\x5a');
  for (int i = 0; i < 4; ++i) hash[i] = static_cast<char>(n >> (8 * i));
  return ObjectKey{hash, std::move(model), rank, group, std::move(salt)};
}

std::vector<ObjectKey> keys(std::initializer_list<uint32_t> ns, const std::string& salt = "") {
  std::vector<ObjectKey> out;
  for (uint32_t n : ns) out.push_back(key(n, salt));
  return out;
}

const SteadyTime kT0 = SteadyTime{} + seconds(1000);

TEST(UsageLedgerTest, StoreRecordsSizeAndTotals) {
  UsageLedger ledger;
  ledger.apply_store(key(1, "a"), 100, "i1");
  ledger.apply_store(key(2, "a"), 50, "i1");
  ledger.apply_store(key(3, "b"), 7, "i2");
  EXPECT_EQ(ledger.usage_bytes("a"), 150u);
  EXPECT_EQ(ledger.usage_bytes("b"), 7u);
  EXPECT_EQ(ledger.usage_bytes("c"), 0u);
  EXPECT_EQ(ledger.total_bytes(), 157u);
  EXPECT_EQ(ledger.key_count(), 3u);
  EXPECT_EQ(ledger.key_count("a"), 2u);
  EXPECT_EQ(ledger.size_of(key(1, "a")), 100u);
  EXPECT_FALSE(ledger.size_of(key(1, "b")));
}

TEST(UsageLedgerTest, ReStoreReplacesNeverDoubleCounts) {
  UsageLedger ledger;
  ledger.apply_store(key(1), 100, "i1");
  ledger.apply_store(key(1), 100, "i1");
  EXPECT_EQ(ledger.usage_bytes(""), 100u);
  EXPECT_EQ(ledger.key_count(), 1u);
  ledger.apply_store(key(1), 130, "i1");
  EXPECT_EQ(ledger.usage_bytes(""), 130u);
  ledger.apply_store(key(1), 30, "i1");
  EXPECT_EQ(ledger.usage_bytes(""), 30u);
  EXPECT_EQ(ledger.total_bytes(), 30u);
  EXPECT_EQ(ledger.key_count(""), 1u);
}

TEST(UsageLedgerTest, DeleteSubtractsRecordedSize) {
  UsageLedger ledger;
  ledger.apply_store(key(1), 100, "i1");
  ledger.apply_store(key(2), 40, "i1");
  EXPECT_TRUE(ledger.apply_delete(key(1)));
  EXPECT_EQ(ledger.usage_bytes(""), 40u);
  EXPECT_FALSE(ledger.contains(key(1)));
  EXPECT_FALSE(ledger.apply_delete(key(1)));  // unknown: no-op
  EXPECT_FALSE(ledger.apply_delete(key(99, "nobody")));
  EXPECT_EQ(ledger.usage_bytes(""), 40u);
  EXPECT_TRUE(ledger.apply_delete(key(2)));
  EXPECT_EQ(ledger.total_bytes(), 0u);
  EXPECT_EQ(ledger.key_count(), 0u);
  EXPECT_TRUE(ledger.salts_with_usage().empty());
}

TEST(UsageLedgerTest, KeysAreDistinctByEveryField) {
  UsageLedger ledger;
  ledger.apply_store(key(1, "s", "m", 0, 0), 1, "");
  ledger.apply_store(key(1, "s", "m", 1, 0), 2, "");
  ledger.apply_store(key(1, "s", "m", 0, 1), 4, "");
  ledger.apply_store(key(1, "s", "n", 0, 0), 8, "");
  ledger.apply_store(key(1, "t", "m", 0, 0), 16, "");
  EXPECT_EQ(ledger.key_count(), 5u);
  EXPECT_EQ(ledger.usage_bytes("s"), 15u);
  EXPECT_EQ(ledger.size_of(key(1, "s", "m", 0, 1)), 4u);
}

TEST(UsageLedgerTest, StoreAndLookupMakeMostRecent) {
  UsageLedger ledger;
  for (uint32_t n : {1, 2, 3, 4}) ledger.apply_store(key(n), 10, "i");
  EXPECT_EQ(ledger.lru_keys("", 10), keys({1, 2, 3, 4}));
  EXPECT_TRUE(ledger.apply_lookup(key(1)));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({2, 3, 4, 1}));
  ledger.apply_store(key(3), 10, "i");
  EXPECT_EQ(ledger.lru_keys("", 10), keys({2, 4, 1, 3}));
  EXPECT_FALSE(ledger.apply_lookup(key(77)));  // unknown: no-op
  EXPECT_FALSE(ledger.contains(key(77)));
  EXPECT_EQ(ledger.lru_keys("", 2), keys({2, 4}));
  ledger.apply_delete(key(4));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({2, 1, 3}));
}

TEST(UsageLedgerTest, LruIsPerSalt) {
  UsageLedger ledger;
  ledger.apply_store(key(1, "a"), 1, "");
  ledger.apply_store(key(2, "b"), 1, "");
  ledger.apply_store(key(3, "a"), 1, "");
  ledger.apply_lookup(key(1, "a"));
  EXPECT_EQ(ledger.lru_keys("a", 10), keys({3, 1}, "a"));
  EXPECT_EQ(ledger.lru_keys("b", 10), keys({2}, "b"));
}

TEST(UsageLedgerTest, OwnerIsTheInstanceOfTheLastStore) {
  UsageLedger ledger;
  ledger.apply_store(key(1), 10, "i1");
  EXPECT_EQ(ledger.owner_of(key(1)), "i1");
  ledger.apply_lookup(key(1));
  EXPECT_EQ(ledger.owner_of(key(1)), "i1");  // lookups do not change the owner
  ledger.apply_store(key(1), 10, "i2");
  EXPECT_EQ(ledger.owner_of(key(1)), "i2");
  ledger.apply_store(key(1), 10, "");  // no owner given: the known one stays
  EXPECT_EQ(ledger.owner_of(key(1)), "i2");
  ledger.apply_store(key(2), 10, "");
  EXPECT_EQ(ledger.owner_of(key(2)), "");
  EXPECT_FALSE(ledger.owner_of(key(3)));
}

TEST(UsageLedgerTest, SaltsWithUsage) {
  UsageLedger ledger;
  ledger.apply_store(key(1, "a"), 5, "");
  ledger.apply_store(key(2, "a"), 6, "");
  ledger.apply_store(key(3, "z"), 0, "");
  auto salts = ledger.salts_with_usage();
  ASSERT_EQ(salts.size(), 2u);
  std::sort(salts.begin(), salts.end(),
            [](const auto& x, const auto& y) { return x.cache_salt < y.cache_salt; });
  EXPECT_EQ(salts[0].cache_salt, "a");
  EXPECT_EQ(salts[0].bytes, 11u);
  EXPECT_EQ(salts[0].keys, 2u);
  EXPECT_EQ(salts[1].cache_salt, "z");
  EXPECT_EQ(salts[1].bytes, 0u);
  // A salt emptied and reused by another name does not leak state.
  ledger.apply_delete(key(3, "z"));
  ledger.apply_store(key(4, "y"), 9, "");
  EXPECT_EQ(ledger.usage_bytes("y"), 9u);
  EXPECT_EQ(ledger.usage_bytes("z"), 0u);
  EXPECT_EQ(ledger.lru_keys("y", 10), keys({4}, "y"));
}

TEST(UsageLedgerTest, HashesOfOtherLengths) {
  UsageLedger ledger;
  const std::string long_hash(64, '\x11');
  const ObjectKey long_key{long_hash, "m", 0, 0, ""};
  const ObjectKey long_key2{long_hash.substr(0, 63) + "\x12", "m", 0, 0, ""};
  const ObjectKey prefix_key{long_hash.substr(0, 32), "m", 0, 0, ""};
  const ObjectKey short_key{"\x01", "m", 0, 0, ""};
  ledger.apply_store(long_key, 1, "");
  ledger.apply_store(long_key2, 2, "");
  ledger.apply_store(prefix_key, 4, "");
  ledger.apply_store(short_key, 8, "");
  EXPECT_EQ(ledger.key_count(), 4u);
  EXPECT_EQ(ledger.size_of(long_key), 1u);
  EXPECT_EQ(ledger.size_of(long_key2), 2u);
  EXPECT_EQ(ledger.size_of(prefix_key), 4u);
  EXPECT_EQ(ledger.lru_keys("", 10)[0], long_key);
  EXPECT_TRUE(ledger.apply_delete(long_key));
  EXPECT_FALSE(ledger.contains(long_key));
  EXPECT_TRUE(ledger.contains(long_key2));
  EXPECT_EQ(ledger.usage_bytes(""), 14u);
}

TEST(UsageLedgerTest, RecordsAreReusedAfterDelete) {
  UsageLedger ledger;
  for (uint32_t n = 0; n < 1000; ++n) ledger.apply_store(key(n), 1, "i");
  const size_t memory = ledger.memory_bytes();
  for (int round = 0; round < 5; ++round) {
    for (uint32_t n = 0; n < 1000; ++n) ledger.apply_delete(key(n + round * 1000));
    for (uint32_t n = 0; n < 1000; ++n) ledger.apply_store(key(n + (round + 1) * 1000), 1, "i");
  }
  EXPECT_EQ(ledger.key_count(), 1000u);
  EXPECT_EQ(ledger.total_bytes(), 1000u);
  EXPECT_LE(ledger.memory_bytes(), memory + size_t{64} * 1024);
}

TEST(UsageLedgerTest, ModelAndSaltNamesSurviveTheReuseOfTheirIds) {
  // The interners remember their last hit; a freed id reused for another name must not be
  // mistaken for the old one.
  UsageLedger ledger;
  ledger.apply_store(key(1, "salt-a", "model-a"), 10, "i");
  EXPECT_TRUE(ledger.apply_delete(key(1, "salt-a", "model-a")));  // frees both names' ids
  ledger.apply_store(key(1, "salt-b", "model-b"), 20, "i");       // may reuse them
  EXPECT_FALSE(ledger.contains(key(1, "salt-a", "model-a")));
  EXPECT_FALSE(ledger.apply_lookup(key(1, "salt-a", "model-b")));
  EXPECT_FALSE(ledger.apply_delete(key(1, "salt-b", "model-a")));
  EXPECT_EQ(ledger.usage_bytes("salt-a"), 0u);
  EXPECT_EQ(ledger.size_of(key(1, "salt-b", "model-b")), 20u);
  // Alternating names, so the remembered hit keeps changing.
  for (uint32_t n = 0; n < 100; ++n) {
    ledger.apply_store(key(n, n % 2 ? "salt-a" : "salt-b", n % 3 ? "model-a" : "model-b"), 1, "i");
  }
  EXPECT_EQ(ledger.key_count("salt-a"), 50u);
  EXPECT_EQ(ledger.key_count("salt-b"), 51u);  // and key 1, stored before the loop
  for (uint32_t n = 0; n < 100; ++n) {
    EXPECT_TRUE(ledger.contains(key(n, n % 2 ? "salt-a" : "salt-b", n % 3 ? "model-a" : "model-b")))
        << n;
  }
}

TEST(UsageLedgerTest, TakeVictimsMovesKeysInFlight) {
  UsageLedger ledger;
  for (uint32_t n : {1, 2, 3, 4, 5}) ledger.apply_store(key(n), 10, n % 2 ? "odd" : "even");
  std::vector<TrackedKey> out;
  EXPECT_EQ(ledger.take_victims("", 2, kT0, out), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, key(1));
  EXPECT_EQ(out[0].owner, "odd");
  EXPECT_EQ(out[1].key, key(2));
  EXPECT_EQ(out[1].owner, "even");
  EXPECT_TRUE(ledger.in_flight(key(1)));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({3, 4, 5}));
  // In-flight keys are still tracked and counted.
  EXPECT_EQ(ledger.usage_bytes(""), 50u);
  EXPECT_EQ(ledger.key_count(""), 5u);
  EXPECT_EQ(ledger.salts_with_usage()[0].in_flight, 2u);

  // Release puts them back at the LRU end in the given order.
  EXPECT_EQ(ledger.release_in_flight(keys({1, 2, 3})), 2u);  // 3 was not in flight
  EXPECT_FALSE(ledger.in_flight(key(1)));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({1, 2, 3, 4, 5}));
}

TEST(UsageLedgerTest, ExpiryReturnsKeysToTheLruEnd) {
  UsageLedger ledger;
  for (uint32_t n : {1, 2, 3, 4, 5}) ledger.apply_store(key(n), 10, "");
  std::vector<TrackedKey> out;
  ledger.take_victims("", 2, kT0 + seconds(30), out);
  ledger.take_victims("", 1, kT0 + seconds(60), out);
  EXPECT_EQ(ledger.lru_keys("", 10), keys({4, 5}));
  EXPECT_EQ(ledger.expire_in_flight("", kT0 + seconds(29)), 0u);
  EXPECT_EQ(ledger.expire_in_flight("", kT0 + seconds(30)), 2u);
  EXPECT_EQ(ledger.lru_keys("", 10), keys({1, 2, 4, 5}));
  EXPECT_TRUE(ledger.in_flight(key(3)));
  EXPECT_EQ(ledger.expire_in_flight("", kT0 + seconds(100)), 1u);
  EXPECT_EQ(ledger.lru_keys("", 10), keys({3, 1, 2, 4, 5}));
}

TEST(UsageLedgerTest, UseOfAnInFlightKeyTakesItOutOfFlight) {
  UsageLedger ledger;
  for (uint32_t n : {1, 2, 3}) ledger.apply_store(key(n), 10, "");
  std::vector<TrackedKey> out;
  ledger.take_victims("", 2, kT0, out);
  ledger.apply_lookup(key(1));
  EXPECT_FALSE(ledger.in_flight(key(1)));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({3, 1}));
  ledger.apply_store(key(2), 20, "");
  EXPECT_FALSE(ledger.in_flight(key(2)));
  EXPECT_EQ(ledger.lru_keys("", 10), keys({3, 1, 2}));
  EXPECT_EQ(ledger.salts_with_usage()[0].in_flight, 0u);
  // Deleting an in-flight key forgets it like any other.
  ledger.take_victims("", 1, kT0, out);
  EXPECT_TRUE(ledger.apply_delete(key(3)));
  EXPECT_EQ(ledger.usage_bytes(""), 30u);
  EXPECT_EQ(ledger.salts_with_usage()[0].in_flight, 0u);
  EXPECT_EQ(ledger.expire_in_flight("", kT0 + seconds(1000)), 0u);
}

TEST(UsageLedgerTest, MemoryIsReportedAndBounded) {
  UsageLedger ledger;
  EXPECT_LT(ledger.memory_bytes(), 4096u);
  // A whole number of slab blocks, so block granularity does not blur the per-key figure.
  constexpr uint32_t kKeys = 4 * 65536;
  for (uint32_t n = 0; n < kKeys; ++n) ledger.apply_store(key(n, n % 3 ? "a" : "b"), 1, "i");
  const double per_key = static_cast<double>(ledger.memory_bytes()) / kKeys;
  EXPECT_GT(per_key, 80.0);
  EXPECT_LT(per_key, 100.0);
}

}  // namespace
}  // namespace lmcache::core
