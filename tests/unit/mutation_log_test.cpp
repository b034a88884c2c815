#include "core/mutation_log.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace lmcache::core {
namespace {

using Status = MutationLog::Read::Status;

std::vector<uint64_t> seqs(const MutationLog::Read& read) {
  std::vector<uint64_t> out;
  for (const auto& entry : read.entries) out.push_back(entry->seq);
  return out;
}

TEST(MutationLogTest, RecordsNothingUntilAnEpochOpens) {
  MutationLog log(1024);
  EXPECT_FALSE(log.active());
  EXPECT_EQ(log.append(MutationKind::kCacheEventRecord, "{}"), 0U);
  EXPECT_EQ(log.last_seq(), 0U);
  EXPECT_EQ(log.read(0, 0, 1024).status, Status::kWrongEpoch);
}

TEST(MutationLogTest, NumbersEntriesFromOneAndReadsThoseAfterAPosition) {
  MutationLog log(1024);
  log.begin_epoch(7);
  EXPECT_EQ(log.append(MutationKind::kCacheEventRecord, "a"), 1U);
  EXPECT_EQ(log.append(MutationKind::kL2Events, "b"), 2U);
  EXPECT_EQ(log.append(MutationKind::kBlendPublish, "c"), 3U);
  EXPECT_EQ(log.last_seq(), 3U);

  const MutationLog::Read all = log.read(7, 0, 1024);
  ASSERT_EQ(all.status, Status::kOk);
  EXPECT_EQ(seqs(all), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(all.entries[1]->kind, MutationKind::kL2Events);
  EXPECT_EQ(all.entries[1]->payload, "b");
  EXPECT_EQ(all.first, 1U);
  EXPECT_EQ(all.last, 3U);
  EXPECT_EQ(all.epoch, 7);

  EXPECT_EQ(seqs(log.read(7, 2, 1024)), (std::vector<uint64_t>{3}));
  const MutationLog::Read none = log.read(7, 3, 1024);
  EXPECT_EQ(none.status, Status::kOk);
  EXPECT_TRUE(none.entries.empty());
}

TEST(MutationLogTest, RefusesAnotherEpochAndAPositionPastTheNewest) {
  MutationLog log(1024);
  log.begin_epoch(7);
  log.append(MutationKind::kCacheEventRecord, "a");
  EXPECT_EQ(log.read(6, 0, 1024).status, Status::kWrongEpoch);
  EXPECT_EQ(log.read(8, 0, 1024).status, Status::kWrongEpoch);
  EXPECT_EQ(log.read(7, 2, 1024).status, Status::kAhead);
}

TEST(MutationLogTest, DropsTheOldestBeyondItsBytesAndTellsAReaderItFellBehind) {
  MutationLog log(10);
  log.begin_epoch(1);
  for (int i = 0; i < 5; ++i) log.append(MutationKind::kCacheEventRecord, "1234");  // 4 bytes each
  // 10 bytes hold two entries: 4 and 5.
  const MutationLog::Counters counters = log.counters();
  EXPECT_EQ(counters.entries, 2U);
  EXPECT_EQ(counters.bytes, 8U);
  EXPECT_EQ(counters.dropped, 3U);
  EXPECT_EQ(log.read(1, 0, 1024).status, Status::kBehind);
  EXPECT_EQ(log.read(1, 2, 1024).status, Status::kBehind);
  const MutationLog::Read from_three = log.read(1, 3, 1024);
  ASSERT_EQ(from_three.status, Status::kOk);
  EXPECT_EQ(from_three.first, 4U);
  EXPECT_EQ(seqs(from_three), (std::vector<uint64_t>{4, 5}));
}

TEST(MutationLogTest, KeepsTheNewestEntryEvenWhenItAloneIsTooBig) {
  MutationLog log(2);
  log.begin_epoch(1);
  log.append(MutationKind::kCacheEventRecord, "12345");
  EXPECT_EQ(seqs(log.read(1, 0, 1024)), (std::vector<uint64_t>{1}));
}

TEST(MutationLogTest, AReadStopsOnceItsBytesAreReachedButHoldsAtLeastOneEntry) {
  MutationLog log(1024);
  log.begin_epoch(1);
  for (int i = 0; i < 4; ++i) log.append(MutationKind::kCacheEventRecord, "123456");
  EXPECT_EQ(seqs(log.read(1, 0, 1)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(seqs(log.read(1, 0, 12)), (std::vector<uint64_t>{1, 2}));
}

TEST(MutationLogTest, ANewEpochStartsAgainAtOneAndEndingOneEmptiesIt) {
  MutationLog log(1024);
  log.begin_epoch(1);
  log.append(MutationKind::kCacheEventRecord, "a");
  log.append(MutationKind::kCacheEventRecord, "b");
  log.begin_epoch(9);
  EXPECT_EQ(log.last_seq(), 0U);
  EXPECT_EQ(log.read(1, 0, 1024).status, Status::kWrongEpoch);
  EXPECT_EQ(log.append(MutationKind::kCacheEventRecord, "c"), 1U);
  log.end_epoch();
  EXPECT_FALSE(log.active());
  EXPECT_EQ(log.append(MutationKind::kCacheEventRecord, "d"), 0U);
  EXPECT_EQ(log.read(9, 0, 1024).status, Status::kWrongEpoch);
  EXPECT_EQ(log.counters().entries, 0U);
}

TEST(MutationLogTest, ConcurrentAppendsGetDistinctConsecutiveSeqs) {
  MutationLog log(size_t{1} << 20);
  log.begin_epoch(1);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log] {
      for (int i = 0; i < 1000; ++i) log.append(MutationKind::kCacheEventRecord, "x");
    });
  }
  for (auto& thread : threads) thread.join();
  const MutationLog::Read read = log.read(1, 0, size_t{1} << 20);
  ASSERT_EQ(read.entries.size(), 4000U);
  for (size_t i = 0; i < read.entries.size(); ++i) EXPECT_EQ(read.entries[i]->seq, i + 1);
}

TEST(MutationFramesTest, RoundTripInOrder) {
  std::string bytes;
  append_mutation_frame(bytes, Mutation{1, MutationKind::kCacheEventRecord, "{\"a\":1}"});
  append_mutation_frame(bytes, Mutation{2, MutationKind::kInstanceRegistered, "mp-1"});
  append_mutation_frame(bytes, Mutation{300000000000, MutationKind::kBlendRemove, ""});
  const auto decoded = decode_mutation_frames(bytes);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 3U);
  EXPECT_EQ((*decoded)[0].payload, "{\"a\":1}");
  EXPECT_EQ((*decoded)[1].kind, MutationKind::kInstanceRegistered);
  EXPECT_EQ((*decoded)[1].payload, "mp-1");
  EXPECT_EQ((*decoded)[2].seq, 300000000000U);
  EXPECT_TRUE((*decoded)[2].payload.empty());
  EXPECT_TRUE(decode_mutation_frames("")->empty());
}

TEST(MutationFramesTest, RejectsCutFramesAndUnknownKinds) {
  std::string bytes;
  append_mutation_frame(bytes, Mutation{1, MutationKind::kL2Events, "payload"});
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode_mutation_frames(std::string_view(bytes).substr(0, cut)).has_value()) << cut;
  }
  std::string unknown = bytes;
  unknown[8] = 99;
  EXPECT_FALSE(decode_mutation_frames(unknown).has_value());
  unknown[8] = 0;
  EXPECT_FALSE(decode_mutation_frames(unknown).has_value());
}

}  // namespace
}  // namespace lmcache::core
