#include "http/access_policy.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "http/audit_log.h"

namespace lmcache::http {
namespace {
namespace ip = boost::asio::ip;
using verb = beast_http::verb;

constexpr const char* kToken = "operator-token-1";

FleetNetworks networks(std::string_view text) {
  std::string error;
  return *FleetNetworks::parse(text, error);
}

// A router with a few routes of each class, each answering 200 "<caller>".
class AccessPolicyTest : public ::testing::Test {
 protected:
  void build(AccessPolicyOptions options) {
    policy_.emplace(std::move(options));
    for (auto [method, pattern] : {std::pair{verb::put, "/quota/{salt}"},
                                   {verb::get, "/quota"},
                                   {verb::put, "/instances/{id}/heartbeat"},
                                   {verb::get, "/healthz"}}) {
      router_.add(method, pattern, [](const RouteRequest& request) {
        HttpResponse response{beast_http::status::ok, 11};
        response.body() = request.caller;
        return response;
      });
    }
    router_.set_observer([this](size_t, verb, unsigned status, auto) { observed_ = status; });
    policy_->guard(router_);
  }

  HttpResponse send(verb method, std::string_view target, const char* authorization = nullptr,
                    const char* peer = "127.0.0.1") {
    HttpRequest request{method, target, 11};
    if (authorization != nullptr) request.set(beast_http::field::authorization, authorization);
    std::optional<HttpResponse> answer;
    router_.dispatch(std::move(request), ip::make_address(peer),
                     [&](HttpResponse response) { answer = std::move(response); });
    EXPECT_TRUE(answer.has_value());
    return answer ? *answer : HttpResponse{};
  }

  static std::string detail(const HttpResponse& response) {
    return std::string(boost::json::parse(response.body()).at("detail").as_string());
  }

  core::AdminTokens tokens_{{kToken, "second"}};
  std::optional<AccessPolicy> policy_;
  Router router_;
  unsigned observed_ = 0;
};

TEST_F(AccessPolicyTest, OperatorRouteWithoutTokenIs401WithWwwAuthenticate) {
  build({&tokens_, false, std::nullopt});
  for (const char* header : {static_cast<const char*>(nullptr), "", "Basic dXNlcjpwdw==", "Bearer",
                             "Bearer   ", "Token operator-token-1"}) {
    const HttpResponse response = send(verb::put, "/quota/alice", header);
    EXPECT_EQ(response.result_int(), 401) << (header ? header : "(none)");
    EXPECT_EQ(response[beast_http::field::www_authenticate], "Bearer");
    EXPECT_FALSE(detail(response).empty());
    EXPECT_EQ(observed_, 401U);  // the observer (request metrics) sees refusals too
  }
}

TEST_F(AccessPolicyTest, WrongTokenIs403AndIsNotEchoed) {
  build({&tokens_, false, std::nullopt});
  const HttpResponse response = send(verb::put, "/quota/alice?x=1", "Bearer wrong-secret");
  EXPECT_EQ(response.result_int(), 403);
  EXPECT_EQ(response.body().find("wrong-secret"), std::string::npos);
  EXPECT_FALSE(detail(response).empty());
}

TEST_F(AccessPolicyTest, RightTokenReachesTheHandlerNamedByItsFingerprint) {
  build({&tokens_, false, std::nullopt});
  const std::string caller = "token:" + core::token_fingerprint(kToken);
  EXPECT_EQ(send(verb::put, "/quota/alice", "Bearer operator-token-1").body(), caller);
  EXPECT_EQ(send(verb::put, "/quota/alice", "bearer  operator-token-1 ").body(), caller);
  EXPECT_EQ(send(verb::put, "/quota/alice", "Bearer second").body(),
            "token:" + core::token_fingerprint("second"));
}

TEST_F(AccessPolicyTest, ReadsAreOpenUnlessProtected) {
  build({&tokens_, false, std::nullopt});
  EXPECT_EQ(send(verb::get, "/quota").result_int(), 200);
  router_ = Router();
  build({&tokens_, true, std::nullopt});
  EXPECT_EQ(send(verb::get, "/quota").result_int(), 401);
  EXPECT_EQ(send(verb::get, "/quota", "Bearer nope").result_int(), 403);
  EXPECT_EQ(send(verb::get, "/quota", "Bearer second").result_int(), 200);
}

TEST_F(AccessPolicyTest, FleetAndOpenRoutesNeedNoToken) {
  build({&tokens_, true, std::nullopt});
  EXPECT_EQ(send(verb::put, "/instances/mp-1/heartbeat").result_int(), 200);
  EXPECT_EQ(send(verb::get, "/healthz").result_int(), 200);
}

TEST_F(AccessPolicyTest, WithoutTokensOperatorRoutesAreOpenAndAnonymous) {
  build({nullptr, false, std::nullopt});
  EXPECT_EQ(send(verb::put, "/quota/alice").body(), "anonymous");
  EXPECT_EQ(send(verb::put, "/quota/alice", "Bearer anything").body(), "anonymous");
}

TEST_F(AccessPolicyTest, FleetCidrLimitsOnlyFleetRoutes) {
  build({&tokens_, false, networks("10.0.0.0/8,fd00::/8")});
  EXPECT_EQ(send(verb::put, "/instances/mp-1/heartbeat", nullptr, "10.2.3.4").result_int(), 200);
  EXPECT_EQ(send(verb::put, "/instances/mp-1/heartbeat", nullptr, "fd00::7").result_int(), 200);
  EXPECT_EQ(send(verb::put, "/instances/mp-1/heartbeat", nullptr, "::ffff:10.0.0.1").result_int(),
            200);
  const HttpResponse refused = send(verb::put, "/instances/mp-1/heartbeat", nullptr, "127.0.0.1");
  EXPECT_EQ(refused.result_int(), 403);
  EXPECT_NE(detail(refused).find("127.0.0.1"), std::string::npos);
  // Operator and open routes do not care where the caller is.
  EXPECT_EQ(send(verb::put, "/quota/a", "Bearer second", "127.0.0.1").result_int(), 200);
  EXPECT_EQ(send(verb::get, "/healthz", nullptr, "127.0.0.1").result_int(), 200);
}

TEST_F(AccessPolicyTest, UnknownPathsAndMethodsAnswerAsBefore) {
  build({&tokens_, true, networks("10.0.0.0/8")});
  EXPECT_EQ(send(verb::get, "/cache/pins/nothing-here").result_int(), 404);
  EXPECT_EQ(send(verb::post, "/quota").result_int(), 405);
}

TEST(AuditLogTest, NamesCallerPeerRequestTargetBeforeAndAfter) {
  RouteRequest request{
      HttpRequest{verb::put, "/quota/alice?tier=l2", 11}, {}, ip::make_address("10.0.0.7")};
  request.caller = "token:1a2b3c4d";
  EXPECT_EQ(audit_line(request, "quota of cache_salt 'alice'", "none", "5 bytes"),
            "audit: caller=token:1a2b3c4d peer=10.0.0.7 request=\"PUT /quota/alice\" "
            "target=\"quota of cache_salt 'alice'\" before=\"none\" after=\"5 bytes\"");
}

TEST(AuditLogTest, EscapesQuotesAndControlCharactersSoALineCannotBeForged) {
  RouteRequest request{HttpRequest{verb::put, "/quota/a", 11}, {}, ip::make_address("::1")};
  const std::string line = audit_line(request, "salt 'x\"\nfake\\'", "a", "b");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(R"(target="salt 'x\"\x0afake\\'")"), std::string::npos) << line;
  EXPECT_NE(line.find("caller=anonymous peer=::1"), std::string::npos) << line;
}

}  // namespace
}  // namespace lmcache::http
