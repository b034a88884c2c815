#include "http/route_access.h"

#include <gtest/gtest.h>

#include <array>

namespace lmcache::http {
namespace {
using verb = boost::beast::http::verb;
using enum RouteAccess;

TEST(RouteAccessTest, FleetRoutesAreWhatMpServersCall) {
  EXPECT_EQ(classify_route(verb::post, "/instances"), kFleet);
  EXPECT_EQ(classify_route(verb::put, "/instances/mp-1/heartbeat"), kFleet);
  EXPECT_EQ(classify_route(verb::delete_, "/instances/mp-1"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/events"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/l2/events"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/blend/match"), kFleet);
  EXPECT_EQ(classify_route(verb::delete_, "/blend/fingerprints"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/directory/blend-lookup"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/l2/prefetch"), kFleet);
  EXPECT_EQ(classify_route(verb::get, "/l2/prefetch/mp-1/r-1"), kFleet);
  EXPECT_EQ(classify_route(verb::post, "/cache/prefetches"), kFleet);
  EXPECT_EQ(classify_route(verb::get, "/cache/prefetches/mp-1/r-1"), kFleet);
  // A follower coordinator tailing the HA leader's log.
  EXPECT_EQ(classify_route(verb::get, "/cluster/log"), kFleet);
  EXPECT_EQ(classify_route(verb::get, "/cluster/snapshot"), kFleet);
  EXPECT_EQ(classify_route(verb::get, "/cluster"), kOpen);
}

TEST(RouteAccessTest, QuotaPinAndDeleteChangesAreOperatorRoutesInBothDialects) {
  EXPECT_EQ(classify_route(verb::put, "/l2/quota/alice"), kOperator);
  EXPECT_EQ(classify_route(verb::delete_, "/l2/quota/alice"), kOperator);
  EXPECT_EQ(classify_route(verb::put, "/quota/alice"), kOperator);
  EXPECT_EQ(classify_route(verb::delete_, "/quota/_default"), kOperator);
  EXPECT_EQ(classify_route(verb::put, "/quota/config"), kOperator);
  EXPECT_EQ(classify_route(verb::post, "/cache/pins"), kOperator);
  EXPECT_EQ(classify_route(verb::delete_, "/cache/pins"), kOperator);
  EXPECT_EQ(classify_route(verb::get, "/cache/pins"), kOperator);
  EXPECT_EQ(classify_route(verb::post, "/cache/delete"), kOperator);
}

TEST(RouteAccessTest, TenantRevealingReadsAreTenantReads) {
  EXPECT_EQ(classify_route(verb::get, "/l2/status"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/l2/status/alice"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/quota"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/quota/config"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/quota/alice"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/metrics"), kTenantRead);
  EXPECT_EQ(classify_route(verb::post, "/directory/lookup"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/directory/keys"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/directory/stats"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/instances/usage"), kTenantRead);
  EXPECT_EQ(classify_route(verb::get, "/instances/mp-1/usage"), kTenantRead);
}

TEST(RouteAccessTest, EverythingElseIsOpen) {
  EXPECT_EQ(classify_route(verb::get, "/healthz"), kOpen);
  EXPECT_EQ(classify_route(verb::get, "/instances"), kOpen);
  EXPECT_EQ(classify_route(verb::get, "/"), kOpen);
  EXPECT_EQ(classify_route(verb::get, "/readyz"), kOpen);
  EXPECT_EQ(classify_route(verb::get, "/openapi.json"), kOpen);
  // A prefix covers whole segments only.
  EXPECT_EQ(classify_route(verb::put, "/quotas/alice"), kOpen);
  EXPECT_EQ(classify_route(verb::get, "/metricsx"), kOpen);
  EXPECT_EQ(classify_route(verb::post, "/cache/pinsx"), kOpen);
}

TEST(RouteAccessTest, RoutesAddedLaterFallUnderTheirPrefix) {
  EXPECT_EQ(classify_route(verb::post, "/cache/pins/bulk"), kOperator);
  EXPECT_EQ(classify_route(verb::put, "/quota/config/extra"), kOperator);
  EXPECT_EQ(classify_route(verb::get, "/directory/anything/new"), kTenantRead);
  EXPECT_EQ(classify_route(verb::delete_, "/cache/delete/by-salt/x"), kOperator);
}

TEST(RouteAccessTest, FirstMatchingRuleWinsAndStarsMatchOneNonEmptySegment) {
  constexpr std::array rules = {
      RouteAccessRule{"GET", "/a/*/c", kFleet},
      RouteAccessRule{"PUT DELETE", "/a/**", kOperator},
      RouteAccessRule{"*", "/a/**", kTenantRead},
  };
  EXPECT_EQ(classify_route(rules, verb::get, "/a/b/c"), kFleet);
  EXPECT_EQ(classify_route(rules, verb::get, "/a//c"), kTenantRead);  // empty segment: no star
  EXPECT_EQ(classify_route(rules, verb::get, "/a/b/c/d"), kTenantRead);
  EXPECT_EQ(classify_route(rules, verb::delete_, "/a/b/c"), kOperator);
  EXPECT_EQ(classify_route(rules, verb::put, "/a"), kOperator);  // "**" also matches nothing
  EXPECT_EQ(classify_route(rules, verb::post, "/a/x"), kTenantRead);
  EXPECT_EQ(classify_route(rules, verb::post, "/b"), kOpen);
}

}  // namespace
}  // namespace lmcache::http
