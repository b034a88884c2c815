#include "http/http_types.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

namespace lmcache::http {

const std::string& RouteRequest::param(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return kEmpty;
}

HttpResponse json_response(beast_http::status status, const boost::json::value& body) {
  HttpResponse response{status, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = boost::json::serialize(body);
  response.prepare_payload();
  return response;
}

HttpResponse empty_response(beast_http::status status) {
  HttpResponse response{status, 11};
  // 1xx, 204 and 304 carry no Content-Length (RFC 9110 8.6).
  if (status != beast_http::status::no_content && status != beast_http::status::not_modified) {
    response.prepare_payload();
  }
  return response;
}

HttpResponse detail_response(beast_http::status status, std::string_view detail) {
  return json_response(status, boost::json::object{{"detail", detail}});
}

}  // namespace lmcache::http
