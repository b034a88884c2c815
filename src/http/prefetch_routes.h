#pragma once

#include <functional>
#include <string>

#include "core/instance_registry.h"
#include "http/router.h"

namespace lmcache::http {

// What an MP server answered to a forwarded call.
struct ForwardedReply {
  bool reached = false;  // false: unreachable, timed out or a broken response
  std::string error;     // why, when not reached
  unsigned status = 0;
  std::string body;
};

// The two calls forwarded to an MP server, each calling back with its reply.
// Provided by the app (it wraps the outbound MP client), so this layer stays
// free of the client's transport.
struct PrefetchForwarder {
  using Done = std::function<void(ForwardedReply)>;
  // POST /l2/prefetch with `body`.
  std::function<void(const core::InstanceRecord&, std::string body, Done)> submit;
  // GET /l2/prefetch/{request_id}.
  std::function<void(const core::InstanceRecord&, std::string request_id, Done)> poll;
};

// POST /l2/prefetch and GET /l2/prefetch/{instance_id}/{request_id}: warm an
// MP server's L1 from L2 and poll the result, forwarded to that server.
void add_prefetch_routes(Router& router, core::InstanceRegistry& registry,
                         const PrefetchForwarder& forward);

}  // namespace lmcache::http
