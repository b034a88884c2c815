#include "app/checkpoint_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace lmcache::app {
namespace {

namespace fs = std::filesystem;

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("checkpoint_file_test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "state.ckpt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  CheckpointFile::WriteResult write(const std::string& body) {
    return CheckpointFile::write(path_, [&body](core::SnapshotWriter& out) {
      out.raw(body.data(), body.size());
      return true;
    });
  }

  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void overwrite(const std::string& bytes) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::unique_ptr<CheckpointFile::Loaded> load(std::string& error, bool& missing) const {
    return CheckpointFile::load(path_, error, missing);
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(CheckpointFileTest, WrittenBodyLoadsBack) {
  const std::string body("derived state \x01\x02\x00 bytes", 23);
  const auto result = write(body);
  ASSERT_TRUE(result.error.empty()) << result.error;
  EXPECT_EQ(result.bytes, fs::file_size(path_));
  std::string error;
  bool missing = true;
  const auto loaded = load(error, missing);
  ASSERT_NE(loaded, nullptr) << error;
  EXPECT_FALSE(missing);
  EXPECT_EQ(loaded->body(), body);
  // Nothing is left beside the file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CheckpointFileTest, MissingFileIsReportedAsMissing) {
  std::string error;
  bool missing = false;
  EXPECT_EQ(load(error, missing), nullptr);
  EXPECT_TRUE(missing);
}

TEST_F(CheckpointFileTest, AnyFlippedByteIsRefused) {
  ASSERT_TRUE(write(std::string(100, 'k')).error.empty());
  const std::string good = contents();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    overwrite(bad);
    std::string error;
    bool missing = true;
    EXPECT_EQ(load(error, missing), nullptr) << "byte " << i;
    EXPECT_FALSE(missing);
    EXPECT_FALSE(error.empty());
  }
}

TEST_F(CheckpointFileTest, TornFilesAreRefused) {
  ASSERT_TRUE(write(std::string(100, 'k')).error.empty());
  const std::string good = contents();
  for (size_t size : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
    overwrite(good.substr(0, size));
    std::string error;
    bool missing = true;
    EXPECT_EQ(load(error, missing), nullptr) << "size " << size;
  }
}

TEST_F(CheckpointFileTest, AFailedBodyLeavesThePreviousCheckpoint) {
  ASSERT_TRUE(write("first").error.empty());
  const auto result = CheckpointFile::write(path_, [](core::SnapshotWriter& out) {
    out.str("half");
    return false;
  });
  EXPECT_FALSE(result.error.empty());
  std::string error;
  bool missing = false;
  const auto loaded = load(error, missing);
  ASSERT_NE(loaded, nullptr) << error;
  EXPECT_EQ(loaded->body(), "first");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CheckpointFileTest, AnUnwritableFolderIsAnError) {
  path_ = (dir_ / "no-such-folder" / "state.ckpt").string();
  const auto result = write("x");
  EXPECT_NE(result.error.find("cannot create"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace lmcache::app
