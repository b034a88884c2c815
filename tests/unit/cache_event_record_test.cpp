#include "core/cache_event_record.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

// A batch as the decoder sees it, with owned strings, for comparison.
struct OwnedEntry {
  std::string hash, model, salt;
  int32_t kv_rank = 0;
  uint32_t group = 0;
  uint64_t size = 0;
  std::vector<int64_t> tokens;
  int64_t offset = -1;
  bool operator==(const OwnedEntry&) const = default;
};
struct OwnedBatch {
  std::string instance, backend;
  uint64_t incarnation = 0, seq = 0, capacity_bytes = 0, capacity_revision = 0;
  CacheEventType type = CacheEventType::kStore;
  CacheTier tier = CacheTier::kL2;
  bool shared = false;
  double ts = 0;
  std::vector<OwnedEntry> entries;
  bool operator==(const OwnedBatch&) const = default;
};

OwnedBatch own(const CacheEventBatch& batch) {
  OwnedBatch out{std::string(batch.instance_id),
                 std::string(batch.backend),
                 batch.incarnation,
                 batch.seq,
                 batch.capacity_bytes,
                 batch.capacity_revision,
                 batch.type,
                 batch.tier,
                 batch.shared,
                 batch.ts,
                 {}};
  for (const CacheEventEntry& e : batch.entries) {
    out.entries.push_back(OwnedEntry{std::string(e.key.chunk_hash),
                                     std::string(e.key.model_name),
                                     std::string(e.key.cache_salt),
                                     e.key.kv_rank,
                                     e.key.object_group_id,
                                     e.size_bytes,
                                     {e.token_ids.begin(), e.token_ids.end()},
                                     e.token_offset});
  }
  return out;
}

std::optional<OwnedBatch> read(std::string_view bytes) {
  std::optional<OwnedBatch> out;
  if (!read_cache_event_record(bytes, [&](const CacheEventBatch& b) { out = own(b); })) {
    EXPECT_FALSE(out.has_value()) << "visited, then refused";
    return std::nullopt;
  }
  EXPECT_TRUE(out.has_value()) << "accepted without a visit";
  return out;
}

class CacheEventRecordTest : public ::testing::Test {
 protected:
  CacheEventRecordTest() {
    entries_ = {
        {ObjectKeyView(std::string_view("\x01\x02\x03", 3), "llama", -5, 7, "alice"), 2048,
         tokens_a_, 256},
        {ObjectKeyView(long_hash_, "llama", 1, 0, "alice"), 0, {}, -1},
        {ObjectKeyView(std::string_view("h", 1), "qwen", 2, 0, "alice"), 9, {}, -1},
        {ObjectKeyView(std::string_view(), "qwen", 3, 0, ""), 1, tokens_b_, 0},
    };
    batch_.instance_id = "mp-1";
    batch_.incarnation = 1788000000;
    batch_.seq = 42;
    batch_.type = CacheEventType::kStore;
    batch_.tier = CacheTier::kL1;
    batch_.backend = "cpu";
    batch_.shared = true;
    batch_.ts = 1788000000.25;
    batch_.entries = entries_;
  }

  std::string long_hash_ = std::string(32, '\xff');
  std::vector<int64_t> tokens_a_{1, 2, 3, -1, INT64_MAX};
  std::vector<int64_t> tokens_b_{7};
  std::vector<CacheEventEntry> entries_;
  CacheEventBatch batch_;
};

TEST_F(CacheEventRecordTest, ARecordReadsBackAsTheBatch) {
  std::string record;
  append_cache_event_record(record, batch_);
  EXPECT_EQ(read(record), own(batch_));
}

TEST_F(CacheEventRecordTest, ConfigAndEmptyBatchesReadBack) {
  batch_.type = CacheEventType::kConfig;
  batch_.capacity_bytes = 1 << 30;
  batch_.capacity_revision = 3;
  batch_.entries = {};
  std::string record;
  append_cache_event_record(record, batch_);
  EXPECT_EQ(read(record), own(batch_));
}

TEST_F(CacheEventRecordTest, RepeatedModelsAndSaltsAreWrittenOnce) {
  std::vector<CacheEventEntry> many(256, entries_[1]);
  batch_.entries = many;
  std::string record;
  append_cache_event_record(record, batch_);
  // Each entry: flags, the hash with its length, rank, group, size, offset, token count.
  EXPECT_LT(record.size(), 256 * (1 + 4 + 32 + 4 + 4 + 8 + 8 + 8) + 100);
  EXPECT_EQ(read(record), own(batch_));
}

TEST_F(CacheEventRecordTest, EveryTruncationAndTrailingByteIsRefused) {
  std::string record;
  append_cache_event_record(record, batch_);
  for (size_t n = 0; n < record.size(); ++n) {
    EXPECT_FALSE(read(std::string_view(record).substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(read(record + "x").has_value());
}

TEST_F(CacheEventRecordTest, ABatchNoIngestCouldTakeIsRefused) {
  for (const auto& spoil : std::vector<std::function<void(CacheEventBatch&)>>{
           [](CacheEventBatch& b) { b.instance_id = ""; },
           [](CacheEventBatch& b) { b.seq = 0; },
       }) {
    CacheEventBatch batch = batch_;
    spoil(batch);
    std::string record;
    append_cache_event_record(record, batch);
    EXPECT_FALSE(read(record).has_value());
  }
  std::string record;
  append_cache_event_record(record, batch_);
  std::string bad_type = record;
  bad_type[4 + 4 + 8 + 8] = 9;  // after the instance id and the two counters
  EXPECT_FALSE(read(bad_type).has_value());
}

}  // namespace
}  // namespace lmcache::core
