#include "wire/quoted_value.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

namespace lmcache::wire {
namespace {

TEST(QuotedValueTest, ShortValuesAreCompactJson) {
  EXPECT_EQ(quote_value(boost::json::parse(R"( { "a" : [1, "x"] } )")), R"({"a":[1,"x"]})");
  EXPECT_EQ(quote_value(nullptr), "null");
}

TEST(QuotedValueTest, LongValuesAreCut) {
  const std::string quoted = quote_value(boost::json::value(std::string(1000, 'x')));
  EXPECT_EQ(quoted, "\"" + std::string(kQuotedValueChars - 1, 'x') + "...");
  const std::string exact(kQuotedValueChars - 2, 'y');  // 64 characters with its quotes
  EXPECT_EQ(quote_value(boost::json::value(exact)), "\"" + exact + "\"");
}

}  // namespace
}  // namespace lmcache::wire
