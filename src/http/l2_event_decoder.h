// L2EventDecoder: the JSON body of `POST /l2/events` into core::L2Event values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
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

// A decoded batch: the valid events in request order and the rejected ones. The events' keys
// point into the batch's own storage, so they stay valid as long as the batch (also when it is
// moved) and do not depend on the request body.
struct L2EventBatch {
  std::string instance_id;
  uint64_t seq = 0;
  std::vector<core::L2Event> events;
  std::vector<RejectedL2Event> rejected;

  // Allocates `size` bytes that live as long as the batch.
  unsigned char* allocate(size_t size);
  // A copy of `bytes` that lives as long as the batch.
  std::string_view keep(std::string_view bytes);

 private:
  // Created on first use; grows in blocks (the first of 4 KiB) and is freed with the batch.
  std::unique_ptr<std::pmr::monotonic_buffer_resource> storage_;
};

// Decodes a `POST /l2/events` body:
//   {"instance_id": str, "seq": int >= 1,
//    "events": [{"type": "store"|"lookup"|"delete", "key": KEY, "bytes": int >= 0}]}
// KEY is decoded by wire::decode_object_key. `bytes` is required for a store; a lookup or delete
// may omit it (or send null), and its value is then 0.
// A batch-level problem (malformed JSON, not an object, a missing or invalid instance_id, seq or
// events) adds FastAPI-shaped errors to `errors` and returns nullopt: nothing may be applied.
// An invalid event (not an object, unknown type, missing or invalid key, bad or missing bytes)
// does not fail the batch: it is listed in `rejected` and left out of `events`.
//
// Integers follow the lax rules of the rest of the API (wire/lax_number.h: integral floats and
// numeric strings are accepted). Unknown fields are ignored. Thread-safe. A well-formed batch takes
// a fast path (one SAX pass, no tree, see l2_event_fast_decoder.h); anything else is decoded from a
// JSON tree built in a per-thread arena.
std::optional<L2EventBatch> decode_l2_event_batch(std::string_view body, ValidationErrors& errors);

// The same without the fast path: always through a JSON tree. For tests and fuzzing, which check
// that the fast path agrees with it.
std::optional<L2EventBatch> decode_l2_event_batch_from_tree(std::string_view body,
                                                            ValidationErrors& errors);

}  // namespace lmcache::http
