// Shared helpers of the libFuzzer targets: synchronous dispatch through a Router and the
// invariants every response must hold, whatever the request.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "http/route_request.h"
#include "http/router.h"

namespace lmcache::fuzz {

namespace beast_http = boost::beast::http;
using http::HttpRequest;
using http::HttpResponse;

// Reports a broken invariant and aborts, so libFuzzer records the input as a crash.
[[noreturn]] inline void fail(std::string_view what, const HttpResponse* response = nullptr) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  if (response != nullptr) {
    std::fprintf(stderr, "status %u, body: %.*s\n", response->result_int(),
                 static_cast<int>(std::min<size_t>(response->body().size(), 2000)),
                 response->body().data());
  }
  std::abort();
}

inline void require(bool condition, std::string_view what, const HttpResponse* response = nullptr) {
  if (!condition) fail(what, response);
}

// A request as the server would hand it to the router.
inline HttpRequest make_request(beast_http::verb method, std::string_view target,
                                std::string_view body) {
  HttpRequest request{method, target, 11};
  request.set(beast_http::field::host, "fuzz");
  if (!body.empty()) request.set(beast_http::field::content_type, "application/json");
  request.body() = std::string(body);
  request.prepare_payload();
  return request;
}

// Dispatches and returns the response. Every route of these targets answers before dispatch
// returns (the prefetch forwarder of the harness is synchronous), and must answer exactly once.
inline HttpResponse dispatch_sync(const http::Router& router, HttpRequest request,
                                  const boost::asio::ip::address& peer = {}) {
  std::optional<HttpResponse> answer;
  int calls = 0;
  router.dispatch(std::move(request), peer, [&](HttpResponse response) {
    ++calls;
    answer = std::move(response);
  });
  require(calls == 1, "a request was not answered exactly once");
  return std::move(*answer);
}

// What every response must satisfy:
// - never a 500, and no other 5xx unless the caller allows that status (502 from prefetch when
//   the MP server is unreachable or failed, or a status relayed verbatim from the MP server);
// - a JSON content type means the body parses as JSON;
// - a 422 has the FastAPI shape {"detail":[{...,"loc":[...]}, ...]} with at least one entry;
// - the response serialises (no exception from Beast).
inline void check_response(const HttpResponse& response,
                           std::optional<unsigned> allowed_5xx = std::nullopt,
                           std::optional<unsigned> relayed = std::nullopt) {
  const unsigned status = response.result_int();
  require(status != 500, "status 500", &response);
  if (status >= 500) {
    require(status == allowed_5xx || status == relayed, "unexpected 5xx status", &response);
  }
  const std::string_view type = response[beast_http::field::content_type];
  if (type.starts_with("application/json")) {
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(response.body(), ec);
    require(!ec, "JSON content type with a body that is not JSON", &response);
    if (status == 422) {
      const boost::json::object* object = body.if_object();
      const boost::json::value* detail = object ? object->if_contains("detail") : nullptr;
      require(detail != nullptr && detail->is_array() && !detail->get_array().empty(),
              "422 without a detail list", &response);
      for (const auto& item : detail->get_array()) {
        const boost::json::object* entry = item.if_object();
        require(entry != nullptr && entry->contains("type") && entry->contains("msg") &&
                    entry->contains("loc") && entry->at("loc").is_array(),
                "422 detail entry without type, msg and loc", &response);
      }
    }
  }
  std::ostringstream wire;
  wire << response;
  require(!wire.str().empty(), "empty serialisation", &response);
}

// The parsed JSON body of a response that must be JSON.
inline boost::json::value json_body(const HttpResponse& response) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body(), ec);
  require(!ec, "body is not JSON", &response);
  return body;
}

}  // namespace lmcache::fuzz
