#include "core/admin_tokens.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace lmcache::core {
namespace {

TEST(AdminTokensTest, Sha256MatchesTheKnownDigest) {
  // SHA-256("abc") from FIPS 180-2, appendix B.1.
  const TokenDigest digest = sha256_digest("abc");
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[1], 0x78);
  EXPECT_EQ(digest[31], 0xad);
}

TEST(AdminTokensTest, FingerprintIsTheFirstEightHexDigitsOfTheSha256) {
  EXPECT_EQ(token_fingerprint("abc"), "ba7816bf");
  EXPECT_EQ(token_fingerprint(""), "e3b0c442");
  EXPECT_NE(token_fingerprint("secret"), token_fingerprint("secreT"));
}

TEST(AdminTokensTest, DigestsEqualComparesEveryByte) {
  TokenDigest a = sha256_digest("token");
  TokenDigest b = a;
  EXPECT_TRUE(digests_equal(a, b));
  b[31] ^= 1;  // differs only in the last byte
  EXPECT_FALSE(digests_equal(a, b));
  b = a;
  b[0] ^= 0x80;  // only in the first
  EXPECT_FALSE(digests_equal(a, b));
}

TEST(AdminTokensTest, MatchesAnyOfTheTokensExactly) {
  const AdminTokens tokens({"alpha-token", "beta-token"});
  EXPECT_EQ(tokens.size(), 2U);
  EXPECT_EQ(tokens.match("alpha-token"), token_fingerprint("alpha-token"));
  EXPECT_EQ(tokens.match("beta-token"), token_fingerprint("beta-token"));
  EXPECT_EQ(tokens.match("alpha-toke"), std::nullopt);    // a prefix
  EXPECT_EQ(tokens.match("alpha-tokenX"), std::nullopt);  // longer
  EXPECT_EQ(tokens.match("ALPHA-TOKEN"), std::nullopt);   // case matters
  EXPECT_EQ(tokens.match(""), std::nullopt);
}

TEST(AdminTokensTest, ReplaceDropsTheOldTokens) {
  AdminTokens tokens({"old"});
  tokens.replace({"new-1", "new-2"});
  EXPECT_EQ(tokens.size(), 2U);
  EXPECT_EQ(tokens.match("old"), std::nullopt);
  EXPECT_TRUE(tokens.match("new-2").has_value());
}

TEST(AdminTokensTest, ChecksMayRunWhileTokensAreReplaced) {
  AdminTokens tokens({"a", "c"});  // "c" stays in every set
  std::thread reloader([&tokens] {
    for (int i = 0; i < 200; ++i) tokens.replace({i % 2 == 0 ? "a" : "b", "c"});
  });
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(tokens.match("c").has_value());
  reloader.join();
  EXPECT_TRUE(tokens.match("b").has_value());  // the last replace (i = 199) holds "b"
}

}  // namespace
}  // namespace lmcache::core
