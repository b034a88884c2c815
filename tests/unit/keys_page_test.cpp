#include "wire/keys_page.h"

#include <gtest/gtest.h>

#include <string>

namespace lmcache::wire {
namespace {

const std::string kKey = R"({"chunk_hash_hex":"aa","model_name":"m","kv_rank":0})";

TEST(KeysPageTest, DecodesEntriesInOrderAndTheToken) {
  const auto result = decode_keys_page(
      R"({"entries":[{"key":{"chunk_hash_hex":"01","model_name":"m","kv_rank":0,)"
      R"("cache_salt":"t"},"size_bytes":10},{"key":)" +
      kKey + R"(,"size_bytes":"20","extra":1}],"next_page_token":"opaque&token"})");
  ASSERT_TRUE(result.ok()) << result.error;
  const KeysPage& page = *result.page;
  ASSERT_EQ(page.entries.size(), 2U);
  EXPECT_EQ(page.entries[0].first, (core::ObjectKey{"\x01", "m", 0, 0, "t"}));
  EXPECT_EQ(page.entries[0].second, 10U);
  EXPECT_EQ(page.entries[1].first, (core::ObjectKey{"\xaa", "m", 0, 0, ""}));
  EXPECT_EQ(page.entries[1].second, 20U);
  EXPECT_EQ(page.skipped, 0U);
  EXPECT_EQ(page.next_page_token, "opaque&token");
}

TEST(KeysPageTest, ANullOrMissingTokenEndsTheListing) {
  for (const char* body : {R"({"entries":[],"next_page_token":null})", R"({"entries":[]})"}) {
    const auto result = decode_keys_page(body);
    ASSERT_TRUE(result.ok()) << body << ": " << result.error;
    EXPECT_TRUE(result.page->entries.empty());
    EXPECT_EQ(result.page->next_page_token, std::nullopt) << body;
  }
}

TEST(KeysPageTest, SkipsAndCountsUnparsableEntries) {
  const std::string bad_entries[] = {
      "1",
      "{}",
      R"({"key":)" + kKey + "}",
      R"({"size_bytes":1})",
      R"({"key":{"chunk_hash_hex":"zz","model_name":"m","kv_rank":0},"size_bytes":1})",
      R"({"key":{"chunk_hash_hex":"aa","model_name":"m"},"size_bytes":1})",
      R"({"key":)" + kKey + R"(,"size_bytes":-1})",
      R"({"key":)" + kKey + R"(,"size_bytes":1.5})",
      R"({"key":)" + kKey + R"(,"size_bytes":null})",
      R"({"key":)" + kKey + R"(,"size_bytes":"big"})",
  };
  std::string entries;
  for (const std::string& bad : bad_entries) {
    entries += bad;
    entries += R"(,{"key":)";
    entries += kKey;
    entries += R"(,"size_bytes":3},)";
  }
  entries.pop_back();
  const auto result = decode_keys_page(R"({"entries":[)" + entries + "]}");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.page->skipped, std::size(bad_entries));
  EXPECT_EQ(result.page->entries.size(), std::size(bad_entries));
  for (const auto& [key, size] : result.page->entries) EXPECT_EQ(size, 3U);
}

TEST(KeysPageTest, ABodyThatIsNotAPageIsAnError) {
  for (const char* body :
       {"", "{", "[]", "{}", R"({"entries":{}})", R"({"entries":null})",
        R"({"entries":[],"next_page_token":5})", R"({"entries":[],"next_page_token":["t"]})"}) {
    const auto result = decode_keys_page(body);
    EXPECT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.error.rfind("malformed page: ", 0), 0U) << body << ": " << result.error;
  }
}

}  // namespace
}  // namespace lmcache::wire
