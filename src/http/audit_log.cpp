#include "http/audit_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace lmcache::http {

namespace {

// `text` with '"', '\' and control bytes escaped (\" \\ \xNN).
std::string escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

// The caller as access control named it, or the client certificate's subject when the request
// needed no token but came over mTLS.
std::string caller_of(const RouteRequest& request) {
  if (request.caller == "anonymous" && !request.client_subject.empty()) {
    return "cert:" + request.client_subject;
  }
  return request.caller;
}

std::string audit_line(const RouteRequest& request, std::string_view target,
                       std::string_view before, std::string_view after) {
  const std::string_view full(request.message.target().data(), request.message.target().size());
  const std::string_view path = full.substr(0, full.find('?'));
  const std::string_view method(beast_http::to_string(request.message.method()));
  return fmt::format(
      "audit: caller={} peer={} request=\"{} {}\" target=\"{}\" before=\"{}\" after=\"{}\"",
      escaped(caller_of(request)), request.peer.to_string(), method, escaped(path), escaped(target),
      escaped(before), escaped(after));
}

void log_audit(const RouteRequest& request, std::string_view target, std::string_view before,
               std::string_view after) {
  spdlog::info("{}", audit_line(request, target, before, after));
}

}  // namespace lmcache::http
