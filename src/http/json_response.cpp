#include "http/json_response.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>

#include "http/json_repair.h"
#include "http/json_text.h"

namespace lmcache::http {

HttpResponse json_response(beast_http::status status, const boost::json::value& body) {
  HttpResponse response{status, 11};
  response.set(beast_http::field::content_type, "application/json");
  if (needs_json_repair(body)) {
    boost::json::value repaired = body;
    repair_json(repaired);
    response.body() = to_json_text(repaired);
  } else {
    response.body() = to_json_text(body);
  }
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
