// L2EventDecoder: the JSON body of `POST /l2/events` into core::L2Event values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/l2_accounting.h"
#include "http/request_validation.h"

namespace lmcache::http {

// An event of a batch that was not applied, and why.
struct RejectedL2Event {
  size_t index = 0;   // position in the request's `events` list
  std::string error;  // one line for the MP server's log
};

// A decoded batch: the valid events in request order and the rejected ones.
struct L2EventBatch {
  std::string instance_id;
  uint64_t seq = 0;
  std::vector<core::L2Event> events;
  std::vector<RejectedL2Event> rejected;
};

// Decodes a `POST /l2/events` body:
//   {"instance_id": str, "seq": int >= 1,
//    "events": [{"type": "store"|"lookup"|"delete", "key": KEY, "bytes": int >= 0 (default 0)}]}
// A batch-level problem (malformed JSON, not an object, a missing or invalid instance_id, seq or
// events) adds FastAPI-shaped errors to `errors` and returns nullopt: nothing may be applied.
// An invalid event (not an object, unknown type, missing or invalid key, bad bytes) does not
// fail the batch: it is listed in `rejected` and left out of `events`.
//
// Integers follow the lax rules of the rest of the API (integral floats and numeric strings are
// accepted). Unknown fields are ignored. Thread-safe; the JSON tree is built in a per-thread
// arena, so a decode allocates little beyond the keys it returns.
std::optional<L2EventBatch> decode_l2_event_batch(std::string_view body, ValidationErrors& errors);

}  // namespace lmcache::http
