#include "app/replication_snapshots.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "app/checkpoint_file.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/derived_state.h"
#include "core/l2_accounting.h"

namespace lmcache::app {
namespace {

namespace fs = std::filesystem;
using Status = http::SnapshotChunk::Status;

class ReplicationSnapshotsTest : public ::testing::Test {
 protected:
  ReplicationSnapshotsTest()
      : dir_(fs::temp_directory_path() /
             ("replication_snapshots_test-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
  }
  ~ReplicationSnapshotsTest() override { fs::remove_all(dir_); }

  void store(int i, uint64_t seq) {
    const std::string hash(32, static_cast<char>('a' + i));
    const core::L2Event events[] = {
        {core::L2EventType::kStore, core::ObjectKeyView(hash, "m", 0, 0, "t"), 10}};
    l2_.apply_batch("i", seq, events);
  }

  // take(), run until answered.
  http::SnapshotChunk take(ReplicationSnapshots& snapshots, int64_t epoch) {
    std::optional<http::SnapshotChunk> answer;
    snapshots.take(epoch, [&answer](http::SnapshotChunk chunk) { answer = std::move(chunk); });
    io_.restart();
    while (!answer && io_.run_one() > 0) {
    }
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(http::SnapshotChunk{});
  }

  fs::path dir_;
  boost::asio::io_context io_;
  core::L2Accounting l2_{core::EvictionConfig{}};
  core::EventIngest events_{l2_};
  core::BlendIndex blend_{8, 1};
  core::BlendFeed blend_feed_{blend_};
  core::DerivedState state_{events_, blend_, blend_feed_};
  core::MutationLog log_{1 << 20};
};

TEST_F(ReplicationSnapshotsTest, ServesACheckpointOfTheStateInChunksWithItsLogPosition) {
  ReplicationSnapshots snapshots(io_.get_executor(), state_, log_, (dir_ / "snap").string(), 64);
  log_.begin_epoch(3);
  for (int i = 0; i < 5; ++i) {
    store(i, i + 1);
    log_.append(core::MutationKind::kL2Events, "x");
  }
  const http::SnapshotChunk first = take(snapshots, 3);
  ASSERT_EQ(first.status, Status::kOk) << first.error;
  EXPECT_EQ(first.position, 5U);
  EXPECT_EQ(first.epoch, 3);
  EXPECT_EQ(first.offset, 0U);
  ASSERT_GT(first.total, 64U);  // more than one chunk
  EXPECT_EQ(first.bytes.size(), 64U);

  std::string file = first.bytes;
  while (file.size() < first.total) {
    const http::SnapshotChunk next = snapshots.read(3, first.id, file.size());
    ASSERT_EQ(next.status, Status::kOk);
    ASSERT_EQ(next.offset, file.size());
    ASSERT_FALSE(next.bytes.empty());
    file += next.bytes;
  }
  const std::string copy = (dir_ / "copy").string();
  std::ofstream(copy, std::ios::binary) << file;
  std::string error;
  bool missing = false;
  const auto loaded = CheckpointFile::load(copy, error, missing);
  ASSERT_NE(loaded, nullptr) << error;
  core::L2Accounting l2{core::EvictionConfig{}};
  core::EventIngest events{l2};
  core::BlendIndex blend{8, 1};
  core::BlendFeed blend_feed{blend};
  core::SnapshotReader in(loaded->body());
  ASSERT_TRUE((core::DerivedState{events, blend, blend_feed}.load(in)));
  EXPECT_TRUE(in.at_end());
  EXPECT_EQ(l2.usage_bytes("t"), 50U);

  // Soon after, another take is answered with the same snapshot; other epochs are refused.
  EXPECT_EQ(take(snapshots, 3).id, first.id);
  EXPECT_EQ(take(snapshots, 4).status, Status::kWrongEpoch);
  EXPECT_EQ(snapshots.read(3, first.id + 1, 0).status, Status::kGone);
  log_.end_epoch();
  EXPECT_EQ(snapshots.read(3, first.id, 0).status, Status::kWrongEpoch);
}

}  // namespace
}  // namespace lmcache::app
