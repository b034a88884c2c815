// What a route handler is given (the request and its path parameters) and how it answers.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmcache::http {

namespace beast_http = boost::beast::http;

using HttpRequest = beast_http::request<beast_http::string_body>;
using HttpResponse = beast_http::response<beast_http::string_body>;

// Path parameters of a matched route, percent-decoded, in pattern order.
using PathParams = std::vector<std::pair<std::string, std::string>>;

// A request as handed to a route handler.
struct RouteRequest {
  HttpRequest message;
  PathParams params;
  // The address the request came from (unspecified when dispatched without a connection).
  boost::asio::ip::address peer;
  // The subject of the client certificate verified in the TLS handshake (mTLS, RFC 2253:
  // "CN=node-7,O=Fleet"); empty over plain HTTP or without one.
  std::string client_subject{};
  // Who is calling, as access control established it: "token:<fingerprint>" for a bearer
  // token, "anonymous" when the route needed none. Names the caller in audit lines.
  std::string caller = "anonymous";

  // The value of the path parameter `name` (empty if the route has none).
  const std::string& param(std::string_view name) const;
};

// Sends the response of one request. Must be called exactly once; may be
// called from any thread (the session posts it to its own strand).
using Respond = std::function<void(HttpResponse)>;

}  // namespace lmcache::http
