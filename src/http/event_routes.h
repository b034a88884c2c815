#pragma once

#include "core/event_ingest.h"
#include "http/router.h"

namespace lmcache::http {

// POST /events: the cache-event ingest of the current LMCache dialect (see
// cache_event_decoder.h for the body). Answers 200
// {"applied": n, "duplicates": n, "stale": n[, "rejected": [{"index": i, "error": "..."}]]}:
// every valid batch goes through the admission gate, a batch that fails validation is rejected
// alone; 422 only when the body is not an object with a `batches` list.
void add_event_routes(Router& router, core::EventIngest& ingest);

}  // namespace lmcache::http
