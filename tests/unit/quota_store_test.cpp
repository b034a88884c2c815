#include "core/quota_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/gib.h"

namespace lmcache::core {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class QuotaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("quota_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name = "quotas.db") const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(QuotaStoreTest, SetGetRemove) {
  QuotaStore store(path());
  EXPECT_TRUE(store.durable());
  EXPECT_FALSE(store.get("a"));
  store.set("a", 100);
  store.set("", 7);  // the default salt is a valid key
  EXPECT_EQ(store.get("a"), 100u);
  EXPECT_EQ(store.get(""), 7u);
  store.set("a", 200);
  EXPECT_EQ(store.get("a"), 200u);
  EXPECT_EQ(store.all(), (QuotaMap{{"", 7}, {"a", 200}}));
  EXPECT_TRUE(store.remove("a"));
  EXPECT_FALSE(store.remove("a"));
  EXPECT_FALSE(store.get("a"));
  store.set("zero", 0);
  EXPECT_EQ(store.get("zero"), 0u);
}

TEST_F(QuotaStoreTest, QuotasSurviveReopen) {
  {
    QuotaStore store(path());
    store.set("a", 1);
    store.set("", 2);
    store.set("gone", 3);
    store.set("huge", kMaxLimitBytes);
    store.set("over", ~uint64_t{0});  // clamped
    store.remove("gone");
  }
  QuotaStore store(path());
  EXPECT_EQ(store.all(),
            (QuotaMap{{"", 2}, {"a", 1}, {"huge", kMaxLimitBytes}, {"over", kMaxLimitBytes}}));
}

TEST_F(QuotaStoreTest, DefaultLimitIsTheFallbackUntilSetThenPersisted) {
  {
    QuotaStore store(path(), std::nullopt);
    EXPECT_EQ(store.default_limit(), std::nullopt);  // the fallback: nothing stored yet
  }
  {
    // Nothing was stored, so another fallback decides.
    QuotaStore store(path(), 5);
    EXPECT_EQ(store.default_limit(), 5u);
    store.set("a", 1);
    store.set_default_limit(1024);
    EXPECT_EQ(store.default_limit(), 1024u);
    const QuotaLimits limits = store.limits();
    EXPECT_EQ(limits.explicit_limits, (QuotaMap{{"a", 1}}));
    EXPECT_EQ(limits.default_limit, 1024u);
    EXPECT_EQ(limits.effective_limit("a"), 1u);
    EXPECT_EQ(limits.effective_limit("b"), 1024u);
  }
  {
    // Stored now: it wins over the fallback.
    QuotaStore store(path(), std::nullopt);
    EXPECT_EQ(store.default_limit(), 1024u);
    store.set_default_limit(std::nullopt);  // exempt is stored too
  }
  {
    QuotaStore store(path(), 0);
    EXPECT_EQ(store.default_limit(), std::nullopt);
    EXPECT_EQ(store.limits().effective_limit("b"), std::nullopt);
    store.set_default_limit(0);
    store.set_default_limit(~uint64_t{0});  // clamped
  }
  QuotaStore store(path(), std::nullopt);
  EXPECT_EQ(store.default_limit(), kMaxLimitBytes);
  EXPECT_EQ(store.all(), (QuotaMap{{"a", 1}}));
}

TEST_F(QuotaStoreTest, FileOfTheSeedEraSchemaOpensWithTheFallbackDefault) {
  // A state file written before the default existed: quotas table and meta without the row.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE quotas (cache_salt TEXT PRIMARY KEY NOT NULL, limit_bytes "
                           "INTEGER NOT NULL CHECK (limit_bytes >= 0)) WITHOUT ROWID;"
                           "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT "
                           "NULL) WITHOUT ROWID;"
                           "INSERT INTO meta VALUES ('schema_version', '1');"
                           "INSERT INTO quotas VALUES ('old', 42);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  QuotaStore store(path(), std::nullopt);
  EXPECT_EQ(store.default_limit(), std::nullopt);
  EXPECT_EQ(store.get("old"), 42u);
}

TEST_F(QuotaStoreTest, UnparsableStoredDefaultIsCorruption) {
  { QuotaStore store(path()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO meta VALUES ('default_limit_bytes', '-3')", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(QuotaStore store(path()), QuotaStoreError);
}

TEST_F(QuotaStoreTest, InMemoryIsNotDurable) {
  {
    QuotaStore store(":memory:");
    EXPECT_FALSE(store.durable());
    store.set("a", 1);
    EXPECT_EQ(store.get("a"), 1u);
  }
  QuotaStore again(":memory:");
  EXPECT_FALSE(again.get("a"));
}

TEST_F(QuotaStoreTest, GarbageFileFailsToOpen) {
  {
    std::ofstream out(path());
    for (int i = 0; i < 1000; ++i) out << "this is not an SQLite database\n";
  }
  try {
    QuotaStore store(path());
    FAIL() << "opened a garbage file";
  } catch (const QuotaStoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path()), std::string::npos) << what;
    EXPECT_NE(what.find("not a"), std::string::npos) << what;
  }
}

TEST_F(QuotaStoreTest, CorruptDatabaseFailsToOpen) {
  {
    QuotaStore store(path());
    for (int i = 0; i < 2000; ++i) store.set("salt-" + std::to_string(i), i);
  }
  // Checkpointed into the main file on close; overwrite a page in the middle of it.
  fs::remove(path() + "-wal");
  fs::remove(path() + "-shm");
  const auto size = fs::file_size(path());
  ASSERT_GT(size, 3 * 4096u);
  {
    std::fstream f(path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff{2} * 4096);
    const std::string junk(4096, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  EXPECT_THROW(QuotaStore store(path()), QuotaStoreError);
}

TEST_F(QuotaStoreTest, UnwritablePathsFailToOpen) {
  // Tests may run as root, so file permissions prove nothing: use paths no one can create.
  EXPECT_THROW(QuotaStore store(path("missing-dir/quotas.db")), QuotaStoreError);
  EXPECT_THROW(QuotaStore store(""), QuotaStoreError);  // SQLite would make a temporary file
  try {
    QuotaStore store(dir_.string());  // a directory
    FAIL() << "opened a directory";
  } catch (const QuotaStoreError& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos);
  }
}

TEST_F(QuotaStoreTest, ConcurrentWritersAndReaders) {
  QuotaStore store(path());
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string salt = "t" + std::to_string(t) + "-" + std::to_string(i);
        store.set(salt, static_cast<uint64_t>(i));
        EXPECT_EQ(store.get(salt), static_cast<uint64_t>(i));
        store.all();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store.all().size(), 100u);
}

TEST(GibTest, Conversions) {
  EXPECT_EQ(gib_to_bytes(1.0), uint64_t{1} << 30);
  EXPECT_EQ(gib_to_bytes(0.0), 0u);
  EXPECT_EQ(gib_to_bytes(2.5), (uint64_t{5} << 30) / 2);
  EXPECT_EQ(gib_to_bytes(1e-10), 0u);  // floor
  EXPECT_EQ(gib_to_bytes(0.1), 107374182u);
  EXPECT_FALSE(gib_to_bytes(1e30));          // does not fit in 63 bits
  EXPECT_FALSE(gib_to_bytes(8589934592.0));  // exactly 2^63 bytes
  EXPECT_EQ(gib_to_bytes(8589934591.0), kMaxLimitBytes - ((uint64_t{1} << 30) - 1));
  EXPECT_FALSE(gib_to_bytes(-1.0));
  EXPECT_FALSE(gib_to_bytes(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(gib_to_bytes(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_DOUBLE_EQ(bytes_to_gib(uint64_t{3} << 29), 1.5);
  EXPECT_DOUBLE_EQ(bytes_to_gib(*gib_to_bytes(2.5)), 2.5);
}

}  // namespace
}  // namespace lmcache::core
