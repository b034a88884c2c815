// parse_json_body: what may follow the JSON value. Regression test for a body with a trailing
// vertical tab that was accepted as a registration (found by fuzz/fuzz_registration): only
// JSON's white space (space, tab, CR, LF) may follow, as Python's json module has it.
#include "http/request_validation.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "core/instance_registry.h"
#include "http/membership_routes.h"
#include "http/router.h"

namespace lmcache::http {
namespace {
namespace json = boost::json;

// The single error of a rejected body, as the 422 would list it.
json::value only_error(const ValidationErrors& errors) {
  const HttpResponse response = errors.to_response();
  const json::value body = json::parse(response.body());
  const json::array& detail = body.at("detail").as_array();
  EXPECT_EQ(detail.size(), 1u) << response.body();
  return detail.empty() ? json::value() : detail[0];
}

TEST(ParseJsonBodyTest, JsonWhiteSpaceMayFollowTheValue) {
  ValidationErrors errors;
  const auto value = parse_json_body(std::string("{\"a\":1} \t\r\n"), errors);
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(value->at("a"), 1);
}

TEST(ParseJsonBodyTest, OtherWhiteSpaceAfterTheValueIsExtraData) {
  for (const std::string body : {"{\"a\":1}\v", "{\"a\":1} \f", "{\"a\":1}\n\v\n"}) {
    ValidationErrors errors;
    EXPECT_FALSE(parse_json_body(body, errors).has_value()) << json::value(body);
    const json::value error = only_error(errors);
    EXPECT_EQ(error.at("type"), "json_invalid");
    // The offset of the first character that is not JSON white space.
    const size_t extra = body.find_first_not_of(" \t\r\n", 7);
    EXPECT_EQ(error.at("loc"), (json::array{"body", extra})) << json::value(body);
    EXPECT_EQ(error.at("ctx").at("error"), "Extra data");
  }
}

TEST(ParseJsonBodyTest, RegistrationWithATrailingVerticalTabIsRejected) {
  core::InstanceRegistry registry;
  Router router;
  add_membership_routes(router, registry);
  HttpRequest request{beast_http::verb::post, "/instances", 11};
  request.body() = "{\"instance_id\":\"a\",\"ip\":\"h\",\"http_port\":6553}\v";
  request.prepare_payload();
  std::optional<HttpResponse> answer;
  router.dispatch(std::move(request), [&](HttpResponse response) { answer = std::move(response); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 422u) << answer->body();
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace lmcache::http
