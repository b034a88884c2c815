#include "http/fleet_networks.h"

#include <gtest/gtest.h>

#include <string>

namespace lmcache::http {
namespace {
namespace ip = boost::asio::ip;

FleetNetworks parse_ok(std::string_view text) {
  std::string error;
  auto networks = FleetNetworks::parse(text, error);
  EXPECT_TRUE(networks.has_value()) << text << ": " << error;
  return networks ? *networks : FleetNetworks{};
}

std::string parse_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(FleetNetworks::parse(text, error).has_value()) << text;
  return error;
}

bool contains(const FleetNetworks& networks, const char* address) {
  return networks.contains(ip::make_address(address));
}

TEST(FleetNetworksTest, MatchesIpv4Prefixes) {
  const FleetNetworks networks = parse_ok("10.0.0.0/8, 192.168.7.0/24");
  EXPECT_TRUE(contains(networks, "10.0.0.0"));
  EXPECT_TRUE(contains(networks, "10.255.255.255"));
  EXPECT_FALSE(contains(networks, "11.0.0.0"));
  EXPECT_TRUE(contains(networks, "192.168.7.200"));
  EXPECT_FALSE(contains(networks, "192.168.8.1"));
  EXPECT_FALSE(contains(networks, "127.0.0.1"));
  EXPECT_FALSE(contains(networks, "::1"));
  EXPECT_EQ(networks.to_string(), "10.0.0.0/8,192.168.7.0/24");
}

TEST(FleetNetworksTest, MatchesIpv6PrefixesAlsoOffByteBoundaries) {
  const FleetNetworks networks = parse_ok("fd00::/8,2001:db8:abc0::/44");
  EXPECT_TRUE(contains(networks, "fd12:3456::1"));
  EXPECT_FALSE(contains(networks, "fe80::1"));
  EXPECT_TRUE(contains(networks, "2001:db8:abcf:ffff::1"));  // the /44 ends mid-byte
  EXPECT_FALSE(contains(networks, "2001:db8:abd0::1"));
  EXPECT_FALSE(contains(networks, "10.0.0.1"));
}

TEST(FleetNetworksTest, ABareAddressIsOneHostAndZeroPrefixIsEverything) {
  const FleetNetworks host = parse_ok("127.0.0.1,::1");
  EXPECT_TRUE(contains(host, "127.0.0.1"));
  EXPECT_FALSE(contains(host, "127.0.0.2"));
  EXPECT_TRUE(contains(host, "::1"));
  EXPECT_FALSE(contains(host, "::2"));

  const FleetNetworks all = parse_ok("0.0.0.0/0,::/0");
  EXPECT_TRUE(contains(all, "203.0.113.9"));
  EXPECT_TRUE(contains(all, "2001:db8::9"));
}

TEST(FleetNetworksTest, AnIpv4MappedPeerMatchesAsIpv4) {
  const FleetNetworks networks = parse_ok("10.0.0.0/8");
  EXPECT_TRUE(contains(networks, "::ffff:10.1.2.3"));
  EXPECT_FALSE(contains(networks, "::ffff:11.1.2.3"));
}

TEST(FleetNetworksTest, RefusesWhatIsNotANetworkNamingTheItem) {
  EXPECT_NE(parse_error("10.0.0.0/33").find("'10.0.0.0/33'"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/8,banana").find("'banana'"), std::string::npos);
  EXPECT_NE(parse_error("fd00::/129").find("'fd00::/129'"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0/8").find("'10.0.0/8'"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/-1").find("'10.0.0.0/-1'"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/").find("'10.0.0.0/'"), std::string::npos);
  EXPECT_NE(parse_error("").find("empty"), std::string::npos);
  EXPECT_NE(parse_error("10.0.0.0/8,").find("empty"), std::string::npos);
}

TEST(FleetNetworksTest, RefusesHostBitsSuggestingTheNetwork) {
  const std::string error = parse_error("10.1.2.3/8");
  EXPECT_NE(error.find("host bits"), std::string::npos) << error;
  EXPECT_NE(error.find("10.0.0.0/8"), std::string::npos) << error;
  EXPECT_NE(parse_error("fd00::1/8").find("fd00::/8"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::http
