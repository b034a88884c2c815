#include "core/snapshot_stream.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

// A writer that collects into `out`, flushing every `chunk` bytes.
SnapshotWriter collecting(std::string& out, std::vector<size_t>* flushes = nullptr,
                          size_t chunk = 1 << 20) {
  return SnapshotWriter(
      [&out, flushes](std::string_view bytes) {
        out.append(bytes);
        if (flushes != nullptr) flushes->push_back(bytes.size());
        return true;
      },
      chunk);
}

TEST(SnapshotStreamTest, ValuesComeBackAsWritten) {
  std::string bytes;
  SnapshotWriter out = collecting(bytes);
  out.u8(7);
  out.u32(0xDEADBEEF);
  out.u64(std::numeric_limits<uint64_t>::max());
  out.i64(-42);
  out.f64(1788000000.25);
  out.boolean(true);
  out.str("tenant");
  out.str("");
  ASSERT_TRUE(out.finish());
  EXPECT_EQ(out.written(), bytes.size());

  SnapshotReader in(bytes);
  EXPECT_EQ(in.u8(), 7);
  EXPECT_EQ(in.u32(), 0xDEADBEEF);
  EXPECT_EQ(in.u64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(in.i64(), -42);
  EXPECT_EQ(in.f64(), 1788000000.25);
  EXPECT_TRUE(in.boolean());
  EXPECT_EQ(in.str(), "tenant");
  EXPECT_EQ(in.str(), "");
  EXPECT_TRUE(in.ok());
  EXPECT_TRUE(in.at_end());
}

TEST(SnapshotStreamTest, WriterFlushesInChunksAndStopsAfterAFailedFlush) {
  std::string bytes;
  std::vector<size_t> flushes;
  SnapshotWriter out = collecting(bytes, &flushes, 16);
  for (int i = 0; i < 5; ++i) out.u64(static_cast<uint64_t>(i));
  ASSERT_TRUE(out.finish());
  EXPECT_EQ(flushes, (std::vector<size_t>{16, 16, 8}));

  int calls = 0;
  SnapshotWriter failing(
      [&calls](std::string_view) {
        ++calls;
        return false;
      },
      8);
  failing.u64(1);
  failing.u64(2);
  EXPECT_FALSE(failing.ok());
  EXPECT_FALSE(failing.finish());
  EXPECT_EQ(calls, 1);
}

TEST(SnapshotStreamTest, ReadingPastTheEndFailsAndYieldsZeros) {
  std::string bytes;
  SnapshotWriter out = collecting(bytes);
  out.u32(5);
  out.raw("ab", 2);  // a string that claims 5 bytes but has 2
  ASSERT_TRUE(out.finish());
  SnapshotReader in(bytes);
  EXPECT_EQ(in.str(), "");
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.u64(), 0u);
}

TEST(SnapshotStreamTest, CountsThatCannotFitInTheRestFail) {
  std::string bytes;
  SnapshotWriter out = collecting(bytes);
  out.u64(3);
  out.u64(1);
  out.u64(2);
  out.u64(3);
  out.u64(std::numeric_limits<uint64_t>::max());  // a corrupt count
  ASSERT_TRUE(out.finish());
  SnapshotReader in(bytes);
  EXPECT_EQ(in.count(8), 3u);
  for (int i = 0; i < 3; ++i) in.u64();
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.count(1), 0u);
  EXPECT_FALSE(in.ok());
}

TEST(SnapshotStreamTest, InternedStringsAreWrittenOnceAndReadBack) {
  std::string bytes;
  SnapshotWriter out = collecting(bytes);
  InternedStringWriter strings;
  for (const char* s : {"llama", "tenant", "llama", "llama", "", "tenant"}) strings.put(out, s);
  ASSERT_TRUE(out.finish());
  // Three new strings (id + length + bytes) and three repeats (id alone).
  EXPECT_EQ(bytes.size(), (4 + 4 + 5) + (4 + 4 + 6) + 4 + 4 + (4 + 4) + 4);
  SnapshotReader in(bytes);
  InternedStringReader read;
  std::vector<std::string> got;
  got.reserve(6);
  for (int i = 0; i < 6; ++i) got.emplace_back(read.get(in));
  EXPECT_EQ(got, (std::vector<std::string>{"llama", "tenant", "llama", "llama", "", "tenant"}));
  EXPECT_TRUE(in.ok());
}

TEST(SnapshotStreamTest, AnInternedIdNeverIntroducedFails) {
  std::string bytes;
  SnapshotWriter out = collecting(bytes);
  out.u32(3);  // id 3 before ids 0..2
  ASSERT_TRUE(out.finish());
  SnapshotReader in(bytes);
  InternedStringReader read;
  EXPECT_EQ(read.get(in), "");
  EXPECT_FALSE(in.ok());
}

}  // namespace
}  // namespace lmcache::core
