#include "core/token_chain_hasher.h"

#include <blake3.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmcache::core {
namespace {

std::string hex(const ChunkHash& hash) {
  return encode_hex(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

std::string blake3_hex(std::string_view bytes) {
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, bytes.data(), bytes.size());
  ChunkHash out;
  blake3_hasher_finalize(&hasher, out.data(), out.size());
  return hex(out);
}

bool b3sum_installed() { return std::system("b3sum --version >/dev/null 2>&1") == 0; }

// The digest the reference `b3sum` command prints for `bytes`, written to a temporary file.
std::string b3sum_hex(const std::string& bytes) {
  std::string path = (std::filesystem::temp_directory_path() / "token_chain_XXXXXX").string();
  const int fd = mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  const bool written = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  close(fd);
  std::string output;
  if (written) {
    FILE* pipe = popen(("b3sum --no-names '" + path + "'").c_str(), "r");
    if (pipe != nullptr) {
      char buffer[128];
      while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
      pclose(pipe);
    }
  }
  std::filesystem::remove(path);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output;
}

// The input of one chain step, built independently of the hasher: digest || big-endian tokens.
std::string step_input(const std::string& previous_hex, std::span<const uint32_t> chunk) {
  std::string bytes = *decode_hex(previous_hex);
  for (uint32_t token : chunk) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(token >> shift));
  }
  return bytes;
}

std::vector<uint32_t> random_tokens(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint32_t> any;  // the whole uint32 range, so every byte matters
  std::vector<uint32_t> tokens(n);
  for (auto& t : tokens) t = any(rng);
  return tokens;
}

// Checks every hash of the chain against b3sum on the bytes the spec names.
void expect_chain_matches_b3sum(size_t chunk_size, const std::vector<uint32_t>& tokens) {
  const auto hashes = TokenChainHasher(chunk_size).chunk_hashes(tokens);
  ASSERT_EQ(hashes.size(), tokens.size() / chunk_size);
  std::string previous = hex(TokenChainHasher::seed());
  for (size_t i = 0; i < hashes.size(); ++i) {
    const auto chunk = std::span<const uint32_t>(tokens).subspan(i * chunk_size, chunk_size);
    const std::string expected = b3sum_hex(step_input(previous, chunk));
    ASSERT_EQ(hex(hashes[i]), expected) << "chunk " << i << " of C=" << chunk_size;
    previous = expected;
  }
}

constexpr const char* kSeedHex = "7e3eff9ef7613a50340eb12677ee03b83ac759fcba9bb32705f07248d56d473b";

TEST(TokenChainHasherTest, Blake3MatchesTheOfficialTestVectors) {
  EXPECT_EQ(blake3_hex(""), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  EXPECT_EQ(blake3_hex("abc"), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
}

TEST(TokenChainHasherTest, SeedIsBlake3OfTwelveZeroBytes) {
  EXPECT_EQ(hex(TokenChainHasher::seed()), kSeedHex);
  if (!b3sum_installed()) GTEST_SKIP() << "b3sum is not installed (scripts/install-deps.sh)";
  EXPECT_EQ(b3sum_hex(std::string(12, '\0')), kSeedHex);
}

TEST(TokenChainHasherTest, KnownChainOfTwoChunks) {
  // Computed with Python's struct.pack('>4I', ...) and b3sum, independently of this code.
  const std::vector<uint32_t> tokens = {1, 2, 3, 0xFFFFFFFF, 0x01020304, 0, 7, 128000};
  const auto hashes = TokenChainHasher(4).chunk_hashes(tokens);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hex(hashes[0]), "21d8c7aa6133a19b37cb63f96ffa06121d7dedbfb5f61a0b3b1bf2838520d36e");
  EXPECT_EQ(hex(hashes[1]), "7c6dc27328e129df6a1c4871e9ae3678020e1830ab419ad70bee0f3c4da2c0b3");
}

TEST(TokenChainHasherTest, ChainsMatchB3sum) {
  if (!b3sum_installed()) GTEST_SKIP() << "b3sum is not installed (scripts/install-deps.sh)";
  expect_chain_matches_b3sum(1, random_tokens(3, 1));
  expect_chain_matches_b3sum(4, random_tokens(12, 2));
  expect_chain_matches_b3sum(256, random_tokens(768, 3));  // upstream's default C
  // Longer than the staging buffer (several updates per chunk) and many BLAKE3 chunks per input,
  // so the SIMD paths the dispatcher picks on this CPU are exercised.
  expect_chain_matches_b3sum(5000, random_tokens(10000, 4));
}

TEST(TokenChainHasherTest, PartialTrailingChunkIsIgnored) {
  const TokenChainHasher hasher(4);
  const auto tokens = random_tokens(11, 5);
  const auto hashes = hasher.chunk_hashes(tokens);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hasher.chunk_count(11), 2u);
  EXPECT_EQ(hashes, hasher.chunk_hashes(std::span<const uint32_t>(tokens).first(8)));
  EXPECT_TRUE(hasher.chunk_hashes(std::span<const uint32_t>(tokens).first(3)).empty());
}

TEST(TokenChainHasherTest, EachHashDependsOnThePrefix) {
  const TokenChainHasher hasher(4);
  auto tokens = random_tokens(8, 6);
  const auto before = hasher.chunk_hashes(tokens);
  tokens[0] ^= 1;
  const auto after = hasher.chunk_hashes(tokens);
  EXPECT_NE(before[0], after[0]);
  EXPECT_NE(before[1], after[1]);  // same second chunk, different prefix
}

TEST(TokenChainHasherTest, EmptyInputGivesNoChunks) {
  EXPECT_TRUE(TokenChainHasher(256).chunk_hashes({}).empty());
}

TEST(TokenChainHasherTest, ChunkSizeZeroIsRejected) {
  EXPECT_THROW(TokenChainHasher(0), std::invalid_argument);
}

TEST(TokenChainHasherTest, KvRankPacksWorldSizeAndWorker) {
  EXPECT_EQ(pack_kv_rank(1, 0), 0x01000100u);
  EXPECT_EQ(pack_kv_rank(1, 0), 16777472u);  // the spec's example key
  EXPECT_EQ(pack_kv_rank(2, 0), 0x02000200u);
  EXPECT_EQ(pack_kv_rank(2, 1), 0x02010201u);
  EXPECT_EQ(pack_kv_rank(8, 7), 0x08070807u);
  EXPECT_EQ(pack_kv_rank(255, 254), 0xFFFEFFFEu);
}

TEST(TokenChainHasherTest, ExpansionIsChunkMajorRankMinor) {
  const auto hashes = TokenChainHasher(4).chunk_hashes(random_tokens(8, 7));
  const auto keys = expand_object_keys(hashes, "m", 2, "tenant");
  ASSERT_TRUE(keys.has_value());
  ASSERT_EQ(keys->size(), 4u);
  const std::string hash0(reinterpret_cast<const char*>(hashes[0].data()), 32);
  const std::string hash1(reinterpret_cast<const char*>(hashes[1].data()), 32);
  EXPECT_EQ((*keys)[0], (ObjectKey{hash0, "m", 0x02000200, 0, "tenant"}));
  EXPECT_EQ((*keys)[1], (ObjectKey{hash0, "m", 0x02010201, 0, "tenant"}));
  EXPECT_EQ((*keys)[2], (ObjectKey{hash1, "m", 0x02000200, 0, "tenant"}));
  EXPECT_EQ((*keys)[3], (ObjectKey{hash1, "m", 0x02010201, 0, "tenant"}));
  EXPECT_EQ((*keys)[0].chunk_hash_hex(), hex(hashes[0]));
}

TEST(TokenChainHasherTest, ExpansionForWorldSizesOneAndEight) {
  const auto hashes = TokenChainHasher(4).chunk_hashes(random_tokens(12, 8));
  const auto one = expand_object_keys(hashes, "m", 1, "");
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->size(), 3u);
  for (const ObjectKey& key : *one) EXPECT_EQ(key.kv_rank, 16777472);

  const auto eight = expand_object_keys(hashes, "m", 8, "");
  ASSERT_TRUE(eight.has_value());
  ASSERT_EQ(eight->size(), 24u);
  for (size_t i = 0; i < eight->size(); ++i) {
    const auto worker = static_cast<uint32_t>(i % 8);
    EXPECT_EQ(static_cast<uint32_t>((*eight)[i].kv_rank), 0x08000800u | worker << 16 | worker);
    EXPECT_EQ((*eight)[i].object_group_id, 0u);
    EXPECT_EQ((*eight)[i].chunk_hash, (*one)[i / 8].chunk_hash);
  }
}

TEST(TokenChainHasherTest, LargestWorldSizeKeepsTheRankBits) {
  const auto hashes = TokenChainHasher(4).chunk_hashes(random_tokens(4, 9));
  const auto keys = expand_object_keys(hashes, "m", 255, "");
  ASSERT_TRUE(keys.has_value());
  ASSERT_EQ(keys->size(), 255u);
  EXPECT_EQ(static_cast<uint32_t>(keys->back().kv_rank), 0xFFFEFFFEu);
}

TEST(TokenChainHasherTest, WorldSizeOutsideOneTo255IsRejected) {
  const auto hashes = TokenChainHasher(4).chunk_hashes(random_tokens(4, 10));
  for (int64_t world_size : {int64_t{0}, int64_t{256}, int64_t{-1}, int64_t{1} << 32}) {
    EXPECT_FALSE(is_valid_world_size(world_size)) << world_size;
    EXPECT_FALSE(expand_object_keys(hashes, "m", world_size, "").has_value()) << world_size;
    size_t visited = 0;
    EXPECT_FALSE(
        for_each_object_key(hashes, "m", world_size, "", [&](const ObjectKeyView&) { ++visited; }));
    EXPECT_EQ(visited, 0u);
  }
  EXPECT_TRUE(is_valid_world_size(1));
  EXPECT_TRUE(is_valid_world_size(255));
}

TEST(TokenChainHasherTest, ViewsPointIntoTheHashesAndStrings) {
  const auto hashes = TokenChainHasher(4).chunk_hashes(random_tokens(8, 11));
  std::vector<ObjectKey> seen;
  EXPECT_TRUE(for_each_object_key(hashes, "model", 3, "salt",
                                  [&](const ObjectKeyView& key) { seen.push_back(key.to_key()); }));
  EXPECT_EQ(std::optional(seen), expand_object_keys(hashes, "model", 3, "salt"));
}

}  // namespace
}  // namespace lmcache::core
