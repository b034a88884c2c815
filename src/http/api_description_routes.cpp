#include "http/api_description_routes.h"

#include <string>
#include <string_view>

#include "http/embedded_documents.h"

namespace lmcache::http {
namespace {

HttpResponse document_response(std::string_view content_type, std::string_view body) {
  HttpResponse response{beast_http::status::ok, 11};
  response.set(beast_http::field::content_type, content_type);
  response.body() = std::string(body);
  response.prepare_payload();
  return response;
}

}  // namespace

void add_api_description_routes(Router& router) {
  router.add(beast_http::verb::get, "/openapi.json", [](const RouteRequest&) {
    return document_response("application/json", embedded::openapi_json());
  });
  router.add(beast_http::verb::get, "/docs", [](const RouteRequest&) {
    return document_response("text/html; charset=utf-8", embedded::docs_html());
  });
}

}  // namespace lmcache::http
