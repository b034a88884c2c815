#include "http/json_repair.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <limits>
#include <string>

namespace lmcache::http {
namespace {
namespace json = boost::json;

TEST(JsonRepairTest, WellFormedUtf8IsAcceptedAtEveryLength) {
  EXPECT_TRUE(is_well_formed_utf8(""));
  EXPECT_TRUE(is_well_formed_utf8("a\x7F"));
  EXPECT_TRUE(is_well_formed_utf8("\xC2\x80\xDF\xBF"));                  // U+0080, U+07FF
  EXPECT_TRUE(is_well_formed_utf8("\xE0\xA0\x80\xEF\xBF\xBF"));          // U+0800, U+FFFF
  EXPECT_TRUE(is_well_formed_utf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));  // U+10000, U+10FFFF
}

TEST(JsonRepairTest, IllFormedUtf8IsRejected) {
  EXPECT_FALSE(is_well_formed_utf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(is_well_formed_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_well_formed_utf8("\xE0\x9F\xBF"));      // overlong U+07FF
  EXPECT_FALSE(is_well_formed_utf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_well_formed_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_well_formed_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_well_formed_utf8("\xE2("));             // bad continuation
}

TEST(JsonRepairTest, AnIllFormedByteIsFoundAtAnyPlaceInLongAscii) {
  // ASCII is skipped eight bytes at a time: a bad byte in any lane, or in the tail, still counts.
  const std::string ascii(20, 'a');
  EXPECT_TRUE(is_well_formed_utf8(ascii));
  for (size_t at = 0; at < ascii.size(); ++at) {
    std::string bad = ascii;
    bad[at] = '\x80';
    EXPECT_FALSE(is_well_formed_utf8(bad)) << at;
    std::string good = ascii;
    good.replace(at, 1, "\xC3\xA9");  // U+00E9 straddling a lane boundary somewhere
    EXPECT_TRUE(is_well_formed_utf8(good)) << at;
  }
}

TEST(JsonRepairTest, EachByteStartingNoSequenceBecomesOneReplacementCharacter) {
  EXPECT_EQ(replace_ill_formed_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(replace_ill_formed_utf8("a\xE2\x82z"), "a\xEF\xBF\xBD\xEF\xBF\xBDz");
}

TEST(JsonRepairTest, RepairReachesNestedStringsKeysAndNumbers) {
  json::value value =
      json::object{{"ok", json::array{1.5, "fine"}},
                   {"bad\xFF", json::array{std::numeric_limits<double>::infinity(), "x\xFF"}}};
  ASSERT_TRUE(needs_json_repair(value));
  repair_json(value);
  EXPECT_FALSE(needs_json_repair(value));
  EXPECT_EQ(value.at("ok"), (json::array{1.5, "fine"}));
  EXPECT_EQ(value.at("bad\xEF\xBF\xBD"), (json::array{"inf", "x\xEF\xBF\xBD"}));
}

TEST(JsonRepairTest, ValidJsonNeedsNoRepair) {
  EXPECT_FALSE(needs_json_repair(json::object{{"a", json::array{1, -2.5, "\xC3\xA9", nullptr}}}));
}

}  // namespace
}  // namespace lmcache::http
