// Regression tests for responses that were not JSON (found by fuzz/fuzz_router and
// fuzz/fuzz_registration): a path parameter that is not UTF-8 echoed in a body, and a number
// that overflows to infinity echoed in a 422.
#include "http/json_response.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>
#include <optional>

#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/l2_routes.h"
#include "http/membership_routes.h"
#include "http/router.h"

namespace lmcache::http {
namespace {
namespace json = boost::json;

json::value parse_body(const HttpResponse& response) {
  boost::system::error_code ec;
  json::value body = json::parse(response.body(), ec);
  EXPECT_FALSE(ec) << "not JSON: " << response.body();
  return body;
}

HttpResponse dispatch(const Router& router, beast_http::verb method, std::string_view target,
                      std::string body = "") {
  HttpRequest request{method, target, 11};
  request.body() = std::move(body);
  request.prepare_payload();
  std::optional<HttpResponse> answer;
  router.dispatch(std::move(request), [&](HttpResponse response) { answer = std::move(response); });
  EXPECT_TRUE(answer.has_value());
  return answer ? std::move(*answer) : HttpResponse{};
}

TEST(JsonResponseTest, IllFormedUtf8BecomesReplacementCharacters) {
  const auto response = json_response(
      beast_http::status::ok,
      json::object{{"a", "ok\xC3"}, {"b", json::array{"\xFF", "\xED\xA0\x80", "caf\xC3\xA9"}}});
  const json::value body = parse_body(response);
  EXPECT_EQ(body.at("a"), json::value("ok\xEF\xBF\xBD"));
  EXPECT_EQ(body.at("b").at(0), json::value("\xEF\xBF\xBD"));
  EXPECT_EQ(body.at("b").at(1), json::value("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_EQ(body.at("b").at(2), json::value("caf\xC3\xA9"));  // well-formed: unchanged
}

TEST(JsonResponseTest, NonFiniteNumbersBecomeStrings) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto response = json_response(
      beast_http::status::ok,
      json::object{{"x", inf}, {"y", -inf}, {"z", std::numeric_limits<double>::quiet_NaN()}});
  const json::value body = parse_body(response);
  EXPECT_EQ(body.at("x"), json::value("inf"));
  EXPECT_EQ(body.at("y"), json::value("-inf"));
  EXPECT_EQ(body.at("z"), json::value("nan"));
}

TEST(JsonResponseTest, RegistrationWithAnOverflowingPortIsA422InJson) {
  core::InstanceRegistry registry;
  Router router;
  add_membership_routes(router, registry);
  const auto response = dispatch(router, beast_http::verb::post, "/instances",
                                 R"({"ip":"h","http_port":65531e3085})");
  EXPECT_EQ(response.result_int(), 422);
  const json::value body = parse_body(response);
  EXPECT_EQ(body.at("detail").at(0).at("input"), json::value("inf"));
}

TEST(JsonResponseTest, SaltPathParameterThatIsNotUtf8IsEchoedAsJson) {
  core::QuotaStore quotas{std::string(core::QuotaStore::kInMemory)};
  core::L2Accounting l2{core::EvictionConfig{}};
  Router router;
  add_l2_routes(router, l2, quotas);
  const auto response = dispatch(router, beast_http::verb::get, "/l2/status/_defa%8C%9At");
  EXPECT_EQ(response.result_int(), 200);
  const json::value body = parse_body(response);
  EXPECT_EQ(body.at("cache_salt"), json::value("_defa\xEF\xBF\xBD\xEF\xBF\xBDt"));
}

}  // namespace
}  // namespace lmcache::http
