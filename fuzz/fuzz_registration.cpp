// Fuzzes `POST /instances` bodies and the membership lifecycle that follows a registration.
//
// Input: one registration body. Checks, besides the response invariants of fuzz_support.h:
// - the answer is 200 or 422 (a body that is not a valid registration);
// - after a 200, the instance is listed once with a non-blank, stripped ip, a port in 1..65535
//   and the id answered (minted as "mp-" + 32 hex when the body left it blank); registering the
//   same body again answers re_registered; a heartbeat on the percent-encoded id answers 200;
//   DELETE answers 204 and empties the listing, after which the heartbeat answers 404.

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/instance_registry.h"
#include "fuzz_support.h"
#include "http/membership_routes.h"

namespace {

using namespace lmcache;
using fuzz::require;
using verb = boost::beast::http::verb;
namespace json = boost::json;

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    out.push_back('%');
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool is_stripped(std::string_view s) {
  return s.empty() || (!std::isspace(static_cast<unsigned char>(s.front())) &&
                       !std::isspace(static_cast<unsigned char>(s.back())));
}

bool is_minted_id(std::string_view id) {
  if (id.size() != 35 || !id.starts_with("mp-")) return false;
  for (char c : id.substr(3)) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// The instance_id the body asked for, stripped, when it is a JSON string.
std::optional<std::string> requested_id(std::string_view body) {
  boost::system::error_code ec;
  const json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::value* id = value.get_object().if_contains("instance_id");
  if (id == nullptr || !id->is_string()) return std::nullopt;
  std::string_view s = id->get_string();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  core::InstanceRegistry registry;
  http::Router router;
  http::add_membership_routes(router, registry);
  auto send = [&router](verb method, const std::string& target, std::string_view payload = "") {
    auto response = fuzz::dispatch_sync(router, fuzz::make_request(method, target, payload));
    fuzz::check_response(response);
    return response;
  };

  const auto registered = send(verb::post, "/instances", body);
  const unsigned status = registered.result_int();
  require(status == 200 || status == 422, "registration answered neither 200 nor 422", &registered);
  if (status == 422) {
    require(registry.size() == 0, "a rejected registration was recorded");
    return 0;
  }

  const json::object answer = fuzz::json_body(registered).as_object();
  const std::string id(answer.at("instance_id").as_string());
  require(!answer.at("re_registered").as_bool(), "first registration reported re_registered");
  const auto asked = requested_id(body);
  if (asked && !asked->empty()) {
    require(id == *asked, "the answered id is not the stripped requested id", &registered);
  } else {
    require(is_minted_id(id), "a blank id did not mint mp-<32 hex>", &registered);
  }

  const auto listing = send(verb::get, "/instances");
  const json::value listed = fuzz::json_body(listing);
  const json::array& instances = listed.as_object().at("instances").as_array();
  require(instances.size() == 1, "one registration is not listed once", &listing);
  const json::object& record = instances[0].as_object();
  require(record.at("instance_id").as_string() == id, "listed id differs", &listing);
  const std::string_view ip = record.at("ip").as_string();
  require(!ip.empty() && is_stripped(ip), "listed ip is blank or not stripped", &listing);
  const auto port = record.at("http_port").to_number<int64_t>();
  require(port >= 1 && port <= 65535, "listed http_port out of range", &listing);
  const auto mq_port = record.at("mq_port").to_number<int64_t>();
  require(mq_port >= 0 && mq_port <= 65535, "listed mq_port out of range", &listing);
  require(is_stripped(record.at("p2p_advertised_url").as_string()),
          "listed p2p_advertised_url not stripped", &listing);
  require(record.at("metadata").is_object(), "listed metadata is not an object", &listing);

  const std::string path = "/instances/" + percent_encode(id);
  // The same body again, or one naming the minted id.
  const bool named = asked && !asked->empty();
  const std::string same =
      named ? std::string(body)
            : json::serialize(json::object{{"instance_id", id}, {"ip", ip}, {"http_port", port}});
  const auto again = send(verb::post, "/instances", same);
  require(again.result_int() == 200 &&
              fuzz::json_body(again).as_object().at("re_registered").as_bool() &&
              registry.size() == 1,
          "registering the same id again is not a re-registration", &again);

  require(send(verb::put, path + "/heartbeat").result_int() == 200,
          "heartbeat of a registered instance failed");
  require(send(verb::delete_, path).result_int() == 204, "DELETE did not answer 204");
  require(registry.size() == 0, "DELETE left the instance registered");
  require(send(verb::put, path + "/heartbeat").result_int() == 404,
          "heartbeat after DELETE did not answer 404");
  require(send(verb::delete_, path).result_int() == 204, "a second DELETE did not answer 204");
  return 0;
}
