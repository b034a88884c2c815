#include "http/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace lmcache::http {
namespace {
namespace json = boost::json;

TEST(JsonTextTest, FloatsPrintLikePython) {
  EXPECT_EQ(to_json_text(json::value(2.5)), "2.5");
  EXPECT_EQ(to_json_text(json::value(0.0)), "0.0");
  EXPECT_EQ(to_json_text(json::value(1.0)), "1.0");
  EXPECT_EQ(to_json_text(json::value(1795618885.0535984)), "1795618885.0535984");
  EXPECT_EQ(to_json_text(json::value(4096.0 / 1073741824.0)), "3.814697265625e-06");
  EXPECT_EQ(to_json_text(json::value(-0.25)), "-0.25");
}

// Python's repr switches to exponent form below 1e-4 and from 1e16 on; the exponent has a sign
// and at least two digits. Expected strings are what `python3 -c 'print(repr(x))'` prints.
TEST(JsonTextTest, FloatsAsPythonReprWritesThem) {
  EXPECT_EQ(to_json_text(json::value(100000.0)), "100000.0");
  EXPECT_EQ(to_json_text(json::value(0.0001)), "0.0001");
  EXPECT_EQ(to_json_text(json::value(1e-05)), "1e-05");
  EXPECT_EQ(to_json_text(json::value(1.5e-05)), "1.5e-05");
  EXPECT_EQ(to_json_text(json::value(-1e-07)), "-1e-07");
  EXPECT_EQ(to_json_text(json::value(1e16)), "1e+16");
  EXPECT_EQ(to_json_text(json::value(1e15)), "1000000000000000.0");
  EXPECT_EQ(to_json_text(json::value(123456789012345678.0)), "1.2345678901234568e+17");
  EXPECT_EQ(to_json_text(json::value(1e22)), "1e+22");
  EXPECT_EQ(to_json_text(json::value(5e-324)), "5e-324");
  EXPECT_EQ(to_json_text(json::value(1.7976931348623157e308)), "1.7976931348623157e+308");
  EXPECT_EQ(to_json_text(json::value(0.1)), "0.1");
  EXPECT_EQ(to_json_text(json::value(0.0001 * 3)), "0.00030000000000000003");
  EXPECT_EQ(to_json_text(json::value(12345.678)), "12345.678");
  EXPECT_EQ(to_json_text(json::value(-0.0)), "-0.0");
}

TEST(JsonTextTest, NestedValuesRoundTrip) {
  const json::value value = json::parse(
      R"({"a":[1,-2,3.5,true,null,"x\"y\n"],"b":{"c":18446744073709551615,"d":{}},"e":[]})");
  const std::string text = to_json_text(value);
  EXPECT_EQ(json::parse(text), value);
  EXPECT_EQ(text,
            R"({"a":[1,-2,3.5,true,null,"x\"y\n"],"b":{"c":18446744073709551615,"d":{}},"e":[]})");
}

}  // namespace
}  // namespace lmcache::http
