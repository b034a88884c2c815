#include "http/fleet_networks.h"

#include <algorithm>
#include <boost/system/error_code.hpp>
#include <cstring>

namespace lmcache::http {
namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// Whether the first `prefix` bits of two 16-byte addresses agree.
bool same_prefix(const ip::address_v6::bytes_type& a, const ip::address_v6::bytes_type& b,
                 unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<FleetNetworks> FleetNetworks::parse(std::string_view text, std::string& error) {
  FleetNetworks networks;
  while (true) {
    const size_t comma = text.find(',');
    const std::string item(trim(text.substr(0, comma)));
    if (item.empty()) {
      error = "an empty item; expected CIDR[,CIDR...] such as 10.0.0.0/8,fd00::/8";
      return std::nullopt;
    }
    const bool has_prefix = item.find('/') != std::string::npos;
    boost::system::error_code ec;
    if (item.find(':') == std::string::npos) {
      const ip::network_v4 network = has_prefix ? ip::make_network_v4(item, ec)
                                                : ip::network_v4(ip::make_address_v4(item, ec), 32);
      if (!ec && network.network() != network.address()) {
        error = "'" + item + "' has host bits set; did you mean " +
                network.canonical().to_string() + "?";
        return std::nullopt;
      }
      if (!ec) networks.v4_.push_back(network);
    } else {
      const ip::network_v6 network = has_prefix
                                         ? ip::make_network_v6(item, ec)
                                         : ip::network_v6(ip::make_address_v6(item, ec), 128);
      if (!ec && network.network() != network.address()) {
        error = "'" + item + "' has host bits set; did you mean " +
                network.canonical().to_string() + "?";
        return std::nullopt;
      }
      if (!ec) networks.v6_.push_back(network);
    }
    if (ec) {
      error = "'" + item + "' is not an IPv4 or IPv6 network (CIDR such as 10.0.0.0/8)";
      return std::nullopt;
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return networks;
}

bool FleetNetworks::contains(const ip::address& address) const {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return contains(ip::make_address_v4(ip::v4_mapped, address.to_v6()));
  }
  if (address.is_v4()) {
    const uint32_t host = address.to_v4().to_uint();
    return std::any_of(v4_.begin(), v4_.end(), [host](const ip::network_v4& network) {
      return (host & network.netmask().to_uint()) == network.network().to_uint();
    });
  }
  const auto bytes = address.to_v6().to_bytes();
  return std::any_of(v6_.begin(), v6_.end(), [&bytes](const ip::network_v6& network) {
    return same_prefix(bytes, network.network().to_bytes(), network.prefix_length());
  });
}

std::string FleetNetworks::to_string() const {
  std::string out;
  for (const auto& network : v4_) out += (out.empty() ? "" : ",") + network.to_string();
  for (const auto& network : v6_) out += (out.empty() ? "" : ",") + network.to_string();
  return out;
}

}  // namespace lmcache::http
