#pragma once

#include <functional>
#include <string>
#include <string_view>

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

// Told how each v2 submit ended: "submitted", "noop" (the server had nothing to load) or
// "failed" (answered 502). For metrics.
using PrefetchObserver = std::function<void(std::string_view outcome)>;

// The v2 routes (protocol-v2.md Part B 2.5), forwarded with `forward` (whose calls go to the
// server's POST /cache/prefetches and GET /cache/prefetches/{request_id}):
// - POST /cache/prefetches {instance_id, model_name, world_size 1..255, token_ids, cache_salt ""}
//   forwards {model_name, world_size, token_ids, cache_salt} and answers 200 {instance_id,
//   request_id ("" when absent), chunks, status: "submitted" | "noop"}. 404 for an unregistered
//   instance, 400 over 1,000,000 token_ids, 422 for an invalid field (a token outside [0, 2^32)
//   at its index), 502 when the server is unreachable or answers non-2xx.
// - GET /cache/prefetches/{instance_id}/{request_id} relays the server's status and JSON body
//   (a non-JSON body as {"detail": body}); 404 for an unregistered instance, 502 unreachable.
void add_cache_prefetch_routes(Router& router, core::InstanceRegistry& registry,
                               const PrefetchForwarder& forward,
                               const PrefetchObserver& observe = {});

}  // namespace lmcache::http
