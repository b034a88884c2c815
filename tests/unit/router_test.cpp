#include "http/router.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace lmcache::http {
namespace {

struct Observed {
  size_t route;
  beast_http::verb method;
  unsigned status;
};

HttpResponse dispatch(const Router& router, beast_http::verb method, std::string_view target) {
  std::optional<HttpResponse> answer;
  router.dispatch(HttpRequest{method, target, 11},
                  [&](HttpResponse response) { answer = std::move(response); });
  EXPECT_TRUE(answer.has_value());
  return answer ? std::move(*answer) : HttpResponse{};
}

// Answers 200 with the route's name and its parameters as "name=value;...".
SyncHandler echo(std::string name) {
  return [name = std::move(name)](const RouteRequest& request) {
    std::string body = name + ":";
    for (const auto& [key, value] : request.params) {
      body.append(key).append("=").append(value).append(";");
    }
    HttpResponse response{beast_http::status::ok, 11};
    response.body() = body;
    return response;
  };
}

TEST(RouterTest, MatchesOnceAndCollectsOnlyTheMatchedRoutesParameters) {
  Router router;
  router.add(beast_http::verb::get, "/a/{x}/b", echo("b"));
  router.add(beast_http::verb::get, "/a/{y}/c", echo("c"));
  router.add(beast_http::verb::get, "/a/{z}", echo("z"));
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/a/1/c").body(), "c:y=1;");
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/a/x%2Fy%20").body(), "z:z=x/y ;");
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/a/1/b?q=2").body(), "b:x=1;");
}

// When two patterns fit a path, each of their methods is named once in Allow, in the order the
// routes were added.
TEST(RouterTest, AllowNamesEachMethodOnceWhenTwoPatternsFit) {
  Router router;
  router.add(beast_http::verb::put, "/quota/config", echo("config"));
  router.add(beast_http::verb::get, "/quota/config", echo("config"));
  router.add(beast_http::verb::put, "/quota/{salt}", echo("salt"));
  router.add(beast_http::verb::delete_, "/quota/{salt}", echo("salt"));
  router.add(beast_http::verb::get, "/quota/{salt}", echo("salt"));
  const HttpResponse response = dispatch(router, beast_http::verb::post, "/quota/config");
  EXPECT_EQ(response.result_int(), 405U);
  EXPECT_EQ(response[beast_http::field::allow], "PUT, GET, DELETE");
}

TEST(RouterTest, ObserverIsToldTheRouteIndexMethodAndStatus) {
  Router router;
  router.add(beast_http::verb::put, "/items/{id}", echo("put"));
  router.add(beast_http::verb::get, "/items/{id}", echo("get"));
  std::vector<Observed> seen;
  router.set_observer(
      [&](size_t route, beast_http::verb method, unsigned status, std::chrono::nanoseconds) {
        seen.push_back({route, method, status});
      });
  ASSERT_EQ(router.routes().size(), 2U);
  EXPECT_EQ(router.routes()[1].pattern, "/items/{id}");
  EXPECT_EQ(router.routes()[1].method, beast_http::verb::get);

  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/items/7").body(), "get:id=7;");
  const HttpResponse not_allowed = dispatch(router, beast_http::verb::delete_, "/items/7");
  EXPECT_EQ(not_allowed.result_int(), 405U);
  EXPECT_EQ(not_allowed[beast_http::field::allow], "PUT, GET");
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/nothing").result_int(), 404U);

  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0].route, 1U);
  EXPECT_EQ(seen[0].status, 200U);
  EXPECT_EQ(seen[1].route, Router::kNoRoute);
  EXPECT_EQ(seen[1].method, beast_http::verb::delete_);
  EXPECT_EQ(seen[1].status, 405U);
  EXPECT_EQ(seen[2].route, Router::kNoRoute);
  EXPECT_EQ(seen[2].status, 404U);
}

}  // namespace
}  // namespace lmcache::http

namespace lmcache::http {
namespace {

TEST(RouterFrontTest, AFrontThatAnswersTakesTheRequestBeforeAnyRoute) {
  Router router;
  int routed = 0;
  router.add(beast_http::verb::get, "/x", [&routed](const RouteRequest&) {
    ++routed;
    return HttpResponse{beast_http::status::ok, 11};
  });
  router.set_front([](HttpRequest& request, Respond& respond) {
    if (request.target() != "/x") return false;
    respond(HttpResponse{beast_http::status::service_unavailable, 11});
    return true;
  });
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/x").result(),
            beast_http::status::service_unavailable);
  EXPECT_EQ(routed, 0);
  // Declined: routed as usual, unknown paths included.
  EXPECT_EQ(dispatch(router, beast_http::verb::get, "/y").result(), beast_http::status::not_found);
}

TEST(RouterFrontTest, AFrontThatDeclinesMayWrapTheAnswer) {
  Router router;
  router.add(beast_http::verb::get, "/x", [](const RouteRequest&) {
    return HttpResponse{beast_http::status::ok, 11};
  });
  router.set_front([](HttpRequest&, Respond& respond) {
    respond = [inner = std::move(respond)](HttpResponse response) {
      response.set("X-Wrapped", "1");
      inner(std::move(response));
    };
    return false;
  });
  const HttpResponse response = dispatch(router, beast_http::verb::get, "/x");
  EXPECT_EQ(response.result(), beast_http::status::ok);
  EXPECT_EQ(response["X-Wrapped"], "1");
}

}  // namespace
}  // namespace lmcache::http
