#include "http/route_request.h"

namespace lmcache::http {

const std::string& RouteRequest::param(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return kEmpty;
}

}  // namespace lmcache::http
