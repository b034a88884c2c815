// The audit trail: one log line per operator change.
#pragma once

#include <string>
#include <string_view>

#include "http/route_request.h"

namespace lmcache::http {

// The audit line of a change made by `request` to `target`, from `before` to `after`:
//   audit: caller=token:1a2b3c4d peer=10.0.0.7 request="PUT /quota/alice" target="quota of
//   cache_salt 'alice'" before="none" after="1073741824 bytes"
// The caller is request.caller (a token fingerprint, never a token), or cert:<subject> of the
// client certificate when the route needed no token but the caller came over mTLS; the request
// is its method and path without the query. Control characters and quotes in any field are
// escaped, so a crafted salt cannot forge a line.
std::string audit_line(const RouteRequest& request, std::string_view target,
                       std::string_view before, std::string_view after);

// Logs audit_line(...) at info level through the default logger.
void log_audit(const RouteRequest& request, std::string_view target, std::string_view before,
               std::string_view after);

}  // namespace lmcache::http
