// What a coordinator says of its HA role, read the way a load balancer would: GET /readyz on a
// fresh connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "http_test_client.h"

namespace lmcache::testing {

// GET /readyz on `port` with a fresh connection; status 0 when it cannot be reached.
inline TestResponse readyz(uint16_t port) {
  try {
    HttpTestClient client(port, std::chrono::seconds(1));
    return client.get("/readyz");
  } catch (const std::exception&) {
    return {};
  }
}

// The role /readyz names, or "unreachable".
inline std::string role_of(uint16_t port) {
  try {
    return std::string(readyz(port).json().at("role").as_string());
  } catch (const std::exception&) {
    return "unreachable";
  }
}

// The epoch /readyz names; throws when the node cannot be reached.
inline int64_t epoch_of(uint16_t port) {
  return readyz(port).json().at("epoch").to_number<int64_t>();
}

}  // namespace lmcache::testing
