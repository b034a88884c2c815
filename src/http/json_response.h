// The responses routes answer with: JSON bodies, empty bodies and FastAPI-style errors.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "http/route_request.h"

namespace lmcache::http {

// A JSON response with the given status (keep-alive is set by the session). The body is always
// JSON: ill-formed UTF-8 in strings becomes U+FFFD, a non-finite number "inf", "-inf" or "nan"
// (see json_repair.h).
HttpResponse json_response(beast_http::status status, const boost::json::value& body);

// A response with no body, e.g. 204.
HttpResponse empty_response(beast_http::status status);

// FastAPI-style `{"detail": text}` error.
HttpResponse detail_response(beast_http::status status, std::string_view detail);

}  // namespace lmcache::http
