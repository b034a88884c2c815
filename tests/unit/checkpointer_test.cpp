#include "app/checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "app/checkpoint_file.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/derived_state.h"
#include "core/l2_accounting.h"

namespace lmcache::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("checkpointer_test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "state.ckpt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void store(char c, uint64_t seq) {
    const std::string hash(32, c);
    const core::L2Event events[] = {
        {core::L2EventType::kStore, core::ObjectKeyView(hash, "m", 0, 0, "t"), 10}};
    l2_.apply_batch("i", seq, events);
  }

  // Polls until the running child has finished; false after 30 s.
  bool wait_for_child(Checkpointer& checkpointer) {
    const auto deadline = steady_clock::now() + std::chrono::seconds(30);
    while (checkpointer.poll()) {
      if (steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  core::DerivedState state() { return {events_, blend_, feed_}; }

  // Publishes one chunk of `tokens` under `key` in scope "s".
  void publish(std::vector<uint64_t> tokens, std::string key) {
    const core::BlendRange range{"s", std::move(tokens), {std::move(key)}, 0};
    blend_.publish(std::span(&range, 1));
  }

  // The derived state in the checkpoint on disk.
  struct OnDisk {
    core::L2Accounting l2{core::EvictionConfig{}};
    core::EventIngest events{l2};
    core::BlendIndex blend{2, 1};
    core::BlendFeed feed{blend};
  };
  std::unique_ptr<OnDisk> load_from_disk() {
    std::string error;
    bool missing = false;
    const auto loaded = CheckpointFile::load(path_, error, missing);
    EXPECT_NE(loaded, nullptr) << error;
    auto state = std::make_unique<OnDisk>();
    if (!loaded) return state;
    core::SnapshotReader in(loaded->body());
    EXPECT_TRUE(core::DerivedState(state->events, state->blend, state->feed).load(in));
    EXPECT_TRUE(in.at_end());
    return state;
  }

  // The L2 usage of salt "t" in the checkpoint on disk.
  uint64_t usage_on_disk() { return load_from_disk()->l2.usage_bytes("t"); }

  fs::path dir_;
  std::string path_;
  prometheus::Registry metrics_;
  core::L2Accounting l2_{core::EvictionConfig{}};
  core::EventIngest events_{l2_};
  core::BlendIndex blend_{2, 1};
  core::BlendFeed feed_{blend_};
};

TEST_F(CheckpointerTest, ForkedChildWritesTheStateAsItWasAtTheFork) {
  Checkpointer checkpointer(path_, state(), metrics_);
  store('a', 1);
  store('b', 2);
  ASSERT_TRUE(checkpointer.start());
  // Changes after the fork are not in this checkpoint.
  store('c', 3);
  ASSERT_TRUE(wait_for_child(checkpointer));
  EXPECT_EQ(usage_on_disk(), 20u);
  EXPECT_GT(checkpointer.max_pause().count(), 0);

  ASSERT_TRUE(checkpointer.start());
  ASSERT_TRUE(wait_for_child(checkpointer));
  EXPECT_EQ(usage_on_disk(), 30u);
}

TEST_F(CheckpointerTest, ForkedChildWritesTheBlendIndexAsItWasAtTheFork) {
  Checkpointer checkpointer(path_, state(), metrics_);
  publish({1, 2}, "before");
  ASSERT_TRUE(checkpointer.start());
  publish({3, 4}, "after");
  ASSERT_TRUE(wait_for_child(checkpointer));
  const auto on_disk = load_from_disk();
  const std::vector<uint64_t> request = {1, 2, 3, 4};
  const auto matches = on_disk->blend.match("s", std::span(request));
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].object_key, "before");
}

TEST_F(CheckpointerTest, OneChildAtATime) {
  Checkpointer checkpointer(path_, state(), metrics_);
  store('a', 1);
  ASSERT_TRUE(checkpointer.start());
  const bool second = checkpointer.start();
  // The first child may already have been reaped by nobody: it is still this object's child
  // until poll() sees it end, so a second start is refused either way.
  EXPECT_FALSE(second);
  ASSERT_TRUE(wait_for_child(checkpointer));
}

TEST_F(CheckpointerTest, WriteNowWritesInThisProcess) {
  Checkpointer checkpointer(path_, state(), metrics_);
  store('a', 1);
  ASSERT_TRUE(checkpointer.start());
  store('b', 2);
  // Waits for the child, then writes the current state.
  ASSERT_TRUE(checkpointer.write_now());
  EXPECT_FALSE(checkpointer.poll());
  EXPECT_EQ(usage_on_disk(), 20u);
}

TEST_F(CheckpointerTest, AFailedChildIsCountedAndTheOldFileKept) {
  {
    Checkpointer checkpointer(path_, state(), metrics_);
    store('a', 1);
    ASSERT_TRUE(checkpointer.write_now());
  }
  prometheus::Registry metrics;
  Checkpointer broken((dir_ / "missing-folder" / "x.ckpt").string(), state(), metrics);
  ASSERT_TRUE(broken.start());
  ASSERT_TRUE(wait_for_child(broken));
  EXPECT_FALSE(broken.write_now());
  double failed = 0;
  for (const auto& family : metrics.Collect()) {
    if (family.name != "checkpoint_writes_total") continue;
    for (const auto& metric : family.metric) {
      if (metric.label.at(0).value == "failed") failed = metric.counter.value;
    }
  }
  EXPECT_EQ(failed, 2.0);
  EXPECT_EQ(usage_on_disk(), 10u);
}

}  // namespace
}  // namespace lmcache::app
