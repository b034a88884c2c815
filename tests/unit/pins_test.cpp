#include "core/pins.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/quota_store.h"

namespace lmcache::core {
namespace {

namespace fs = std::filesystem;

ObjectKey key(char c, int32_t rank = 0, std::string salt = "") {
  return ObjectKey{std::string(32, c), "m", rank, 0, std::move(salt)};
}

// A fresh state file per test, removed afterwards.
class PinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pins_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "state.db").string(); }

  fs::path dir_;
};

TEST_F(PinsTest, CountsAreReferenceCountedAndUnpinFloorsAtZero) {
  QuotaStore store(path());
  Pins pins(store);
  const std::vector<ObjectKey> ab = {key('a'), key('b')};
  EXPECT_EQ(pins.pin(ab).affected, 2u);
  EXPECT_EQ(pins.pin({&ab[0], 1}).affected, 1u);
  EXPECT_EQ(pins.keys().count(key('a')), 2u);
  EXPECT_EQ(pins.keys().count(key('b')), 1u);
  EXPECT_EQ(pins.keys().size(), 2u);

  EXPECT_EQ(pins.unpin(ab).affected, 2u);  // a: 2 -> 1, b: 1 -> 0 (removed)
  EXPECT_TRUE(pins.keys().contains(key('a')));
  EXPECT_FALSE(pins.keys().contains(key('b')));
  EXPECT_EQ(pins.keys().size(), 1u);

  EXPECT_EQ(pins.unpin(ab).affected, 1u);  // only a changed; b stays at 0
  EXPECT_EQ(pins.unpin(ab).affected, 0u);
  EXPECT_TRUE(pins.keys().empty());
}

TEST_F(PinsTest, AKeyListedTwiceCountsTwice) {
  QuotaStore store(path());
  Pins pins(store);
  const std::vector<ObjectKey> twice = {key('a'), key('a')};
  EXPECT_EQ(pins.pin(twice).affected, 1u);
  EXPECT_EQ(pins.keys().count(key('a')), 2u);
  EXPECT_EQ(pins.unpin(twice).affected, 1u);
  EXPECT_FALSE(pins.keys().contains(key('a')));
}

TEST_F(PinsTest, CountsSurviveReopeningTheStateFile) {
  const int32_t high_rank = kv_rank_from_wire(2147516416);  // world size 128, worker 0
  {
    QuotaStore store(path());
    store.set("t", 1000);
    Pins pins(store);
    const std::vector<ObjectKey> keys = {key('a'), key('a'), key('b', high_rank, "t"), key('c')};
    pins.pin(keys);
    const std::vector<ObjectKey> c = {key('c')};
    pins.unpin(c);
  }
  QuotaStore store(path());
  Pins pins(store);
  EXPECT_EQ(store.get("t"), 1000u);  // quotas share the file
  const std::vector<PinCount> expected = {{key('a'), 2}, {key('b', high_rank, "t"), 1}};
  EXPECT_EQ(pins.keys().sorted(), expected);
}

TEST_F(PinsTest, DropUnpinsWhateverTheCountAndIsDurable) {
  {
    QuotaStore store(path());
    Pins pins(store);
    const std::vector<ObjectKey> pinned = {key('a'), key('a'), key('a'), key('b')};
    pins.pin(pinned);
    // a listed twice (pinned 3 times) and c (never pinned): one key unpinned.
    const std::vector<ObjectKey> drop = {key('a'), key('a'), key('c')};
    EXPECT_EQ(pins.drop(drop).affected, 1u);
    EXPECT_FALSE(pins.keys().contains(key('a')));
    EXPECT_EQ(pins.keys().count(key('b')), 1u);
    EXPECT_EQ(pins.drop(drop).affected, 0u);
  }
  QuotaStore store(path());
  Pins pins(store);
  const std::vector<PinCount> expected = {{key('b'), 1}};
  EXPECT_EQ(pins.keys().sorted(), expected);
}

TEST_F(PinsTest, ReplaceAllMakesTheGivenCountsTheWholeTableInMemoryAndOnDisk) {
  {
    QuotaStore store(path());
    Pins pins(store);
    const std::vector<ObjectKey> abc = {key('a'), key('b'), key('c')};
    pins.pin(abc);
    const std::vector<PinCount> wanted = {{key('b'), 3}, {key('d'), 1}};
    pins.replace_all(wanted);
    const std::vector<PinCount> expected = {{key('b'), 3}, {key('d'), 1}};
    EXPECT_EQ(pins.keys().sorted(), expected);
    EXPECT_FALSE(pins.keys().contains(key('a')));
  }
  QuotaStore store(path());
  Pins pins(store);
  const std::vector<PinCount> expected = {{key('b'), 3}, {key('d'), 1}};
  EXPECT_EQ(pins.keys().sorted(), expected);
  pins.replace_all({});
  EXPECT_TRUE(pins.keys().empty());
}

TEST_F(PinsTest, AStateFileWithoutThePinsTableOpens) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE quotas (cache_salt TEXT PRIMARY KEY NOT NULL,"
                         " limit_bytes INTEGER NOT NULL) WITHOUT ROWID;"
                         "INSERT INTO quotas VALUES ('t', 5)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  QuotaStore store(path());
  EXPECT_EQ(store.get("t"), 5u);
  Pins pins(store);
  EXPECT_TRUE(pins.keys().empty());
  const std::vector<ObjectKey> a = {key('a')};
  EXPECT_EQ(pins.pin(a).affected, 1u);
}

TEST_F(PinsTest, ListingIsSortedByModelSaltHashRankGroup) {
  QuotaStore store{std::string(QuotaStore::kInMemory)};
  Pins pins(store);
  const ObjectKey other_model{std::string(32, 'a'), "l", 0, 0, ""};
  const std::vector<ObjectKey> keys = {key('b'), key('a', kv_rank_from_wire(0x80018001)),
                                       key('a', 0x01000100), key('a', 0, "s"), other_model};
  pins.pin(keys);
  const std::vector<PinCount> expected = {{other_model, 1},
                                          {key('a', 0x01000100), 1},
                                          {key('a', kv_rank_from_wire(0x80018001)), 1},
                                          {key('b'), 1},
                                          {key('a', 0, "s"), 1}};
  EXPECT_EQ(pins.keys().sorted(), expected);
}

TEST_F(PinsTest, AFailedWriteChangesNothing) {
  QuotaStore store(path());
  Pins pins(store);
  const std::vector<ObjectKey> a = {key('a')};
  pins.pin(a);
  // Another connection holds the write lock: the pin's transaction cannot start.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const std::vector<ObjectKey> ab = {key('a'), key('b')};
  EXPECT_THROW(pins.pin(ab), QuotaStoreError);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(pins.keys().count(key('a')), 1u);
  EXPECT_FALSE(pins.keys().contains(key('b')));
}

}  // namespace
}  // namespace lmcache::core
