#include "wire/lax_number.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <limits>

namespace lmcache::wire {
namespace {
namespace json = boost::json;

LaxInteger integer_of(std::string_view json_text) { return lax_integer(json::parse(json_text)); }
LaxNumber number_of(std::string_view json_text) { return lax_number(json::parse(json_text)); }

TEST(TrimTest, RemovesCWhiteSpaceAtBothEndsOnly) {
  EXPECT_EQ(trim(" \t\n\v\f\r a b \r\f\v\n\t "), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x");  // a UTF-8 no-break space is not ASCII white space
}

TEST(LaxIntegerTest, AcceptsIntegersIntegralFloatsAndNumericStrings) {
  EXPECT_EQ(integer_of("42").value, 42);
  EXPECT_EQ(integer_of("-7").value, -7);
  EXPECT_EQ(integer_of("9223372036854775807").value, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(integer_of("3.0").value, 3);
  EXPECT_EQ(integer_of("-2e3").value, -2000);
  EXPECT_EQ(integer_of("9e18").value, 9'000'000'000'000'000'000);
  EXPECT_EQ(integer_of(R"(" 12\t")").value, 12);
  EXPECT_EQ(integer_of(R"("-5")").value, -5);
  EXPECT_TRUE(integer_of(R"("0")").ok());
  EXPECT_EQ(lax_integer(json::value(uint64_t{5})).value, 5);  // built, not parsed
}

TEST(LaxIntegerTest, NamesEachFault) {
  EXPECT_EQ(integer_of("null").fault, IntegerFault::kType);
  EXPECT_EQ(integer_of("true").fault, IntegerFault::kType);
  EXPECT_EQ(integer_of("[1]").fault, IntegerFault::kType);
  EXPECT_EQ(integer_of("{}").fault, IntegerFault::kType);
  EXPECT_EQ(integer_of("0.5").fault, IntegerFault::kFraction);
  EXPECT_EQ(lax_integer(json::value(std::nan(""))).fault, IntegerFault::kFraction);
  EXPECT_EQ(integer_of("9223372036854775808").fault, IntegerFault::kSize);
  EXPECT_EQ(integer_of("1e19").fault, IntegerFault::kSize);
  EXPECT_EQ(integer_of("-9.1e18").fault, IntegerFault::kSize);
  EXPECT_EQ(integer_of(R"("")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("  ")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("1.0")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("+1")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("1 2")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("0x10")").fault, IntegerFault::kParsing);
  EXPECT_EQ(integer_of(R"("9223372036854775808")").fault, IntegerFault::kParsing);
  EXPECT_FALSE(integer_of("0.5").ok());
}

TEST(LaxIntegerTest, TextRuleIsTheStringRule) {
  EXPECT_EQ(integer_from_text(" 8 "), 8);
  EXPECT_EQ(integer_from_text("-0"), 0);
  EXPECT_EQ(integer_from_text("8x"), std::nullopt);
  EXPECT_EQ(integer_from_text(""), std::nullopt);
}

TEST(LaxNumberTest, AcceptsNumbersAndNumericStrings) {
  EXPECT_EQ(number_of("1.5").value, 1.5);
  EXPECT_EQ(number_of("-3").value, -3.0);
  EXPECT_EQ(number_of("18446744073709551615").value, 18446744073709551615.0);
  EXPECT_EQ(number_of(R"(" 2.5e1\n")").value, 25.0);
  EXPECT_EQ(number_of(R"("7")").value, 7.0);
}

TEST(LaxNumberTest, NamesEachFault) {
  EXPECT_EQ(number_of("null").fault, NumberFault::kType);
  EXPECT_EQ(number_of("false").fault, NumberFault::kType);
  EXPECT_EQ(number_of(R"("")").fault, NumberFault::kParsing);
  EXPECT_EQ(number_of(R"("1.5x")").fault, NumberFault::kParsing);
  EXPECT_EQ(number_of(R"("1e999")").fault, NumberFault::kParsing);  // out of range
  EXPECT_EQ(number_of(R"("inf")").fault, NumberFault::kNotFinite);
  EXPECT_EQ(number_of(R"("nan")").fault, NumberFault::kNotFinite);
}

}  // namespace
}  // namespace lmcache::wire
