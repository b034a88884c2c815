// FleetNetworks: the networks of --fleet-cidr, the only addresses fleet routes answer.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lmcache::http {

// A list of IPv4 and IPv6 networks. An IPv4-mapped IPv6 address (::ffff:10.1.2.3, how a
// dual-stack socket reports an IPv4 peer) is matched as the IPv4 address it carries.
class FleetNetworks {
 public:
  // Parses "CIDR[,CIDR...]" (e.g. "10.0.0.0/8, fd00::/8"); whitespace around each item is
  // ignored. A bare address means that one host (/32 or /128). Host bits set below the prefix
  // ("10.1.2.3/8") are refused: the operator probably meant something else. nullopt with
  // `error` naming the bad item when any item is not a network, or the list is empty.
  static std::optional<FleetNetworks> parse(std::string_view text, std::string& error);

  // Whether `address` lies in one of the networks.
  bool contains(const boost::asio::ip::address& address) const;

  // The networks in canonical form, comma-separated (for the start-up log).
  std::string to_string() const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace lmcache::http
