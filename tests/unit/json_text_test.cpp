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
