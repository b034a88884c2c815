// Query-string parameters of a request target.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/route_request.h"

namespace lmcache::http {

// The value of parameter `name` in the request's query string, percent-decoded ('+' is a space,
// as in HTML forms). A repeated parameter: the last wins, as in Starlette. nullopt when absent;
// a parameter given without '=' has the empty value. A malformed escape is kept as sent.
std::optional<std::string> query_param(const HttpRequest& request, std::string_view name);

}  // namespace lmcache::http
