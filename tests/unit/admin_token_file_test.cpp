#include "core/admin_token_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {
namespace fs = std::filesystem;
using Tokens = std::vector<std::string>;

TEST(AdminTokenFileTest, OneTokenPerLineTrimmedAndBlankLinesSkipped) {
  EXPECT_EQ(parse_admin_tokens("alpha\n  beta \t\r\n\n \n\tgamma"),
            (Tokens{"alpha", "beta", "gamma"}));
  EXPECT_EQ(parse_admin_tokens("only"), (Tokens{"only"}));
  EXPECT_EQ(parse_admin_tokens("with inner space\r\n"), (Tokens{"with inner space"}));
  EXPECT_EQ(parse_admin_tokens("dup\ndup\n"), (Tokens{"dup", "dup"}));
}

TEST(AdminTokenFileTest, NothingButWhitespaceHoldsNoToken) {
  EXPECT_TRUE(parse_admin_tokens("").empty());
  EXPECT_TRUE(parse_admin_tokens("\n\n  \r\n\t\n").empty());
}

class AdminTokenFileReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("admin-token-file-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  fs::path dir_;
};

TEST_F(AdminTokenFileReadTest, ReadsTheTokens) {
  const AdminTokenFile file = read_admin_token_file(write("tokens", "one\n\n two \n"));
  EXPECT_EQ(file.error, "");
  EXPECT_EQ(file.tokens, (Tokens{"one", "two"}));
}

TEST_F(AdminTokenFileReadTest, AnEmptyFileIsAnErrorNamingThePath) {
  const std::string path = write("empty", " \n\n");
  const AdminTokenFile file = read_admin_token_file(path);
  EXPECT_TRUE(file.tokens.empty());
  EXPECT_NE(file.error.find(path), std::string::npos) << file.error;
  EXPECT_NE(file.error.find("no token"), std::string::npos) << file.error;
}

TEST_F(AdminTokenFileReadTest, AMissingFileIsAnErrorNamingThePath) {
  const std::string path = (dir_ / "absent").string();
  const AdminTokenFile file = read_admin_token_file(path);
  EXPECT_TRUE(file.tokens.empty());
  EXPECT_NE(file.error.find(path), std::string::npos) << file.error;
  EXPECT_NE(file.error.find("cannot read"), std::string::npos) << file.error;
}

TEST_F(AdminTokenFileReadTest, ADirectoryIsAnError) {
  const AdminTokenFile file = read_admin_token_file(dir_.string());
  EXPECT_TRUE(file.tokens.empty());
  EXPECT_FALSE(file.error.empty());
}

}  // namespace
}  // namespace lmcache::core
