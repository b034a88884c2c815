// CacheEventDecoder: the JSON body of `POST /events` (the v2 cache-event stream) into
// core::CacheEventBatch values.
#pragma once

#include <cstddef>
#include <memory>
#include <memory_resource>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/cache_event.h"
#include "http/request_validation.h"

namespace lmcache::http {

// A batch of the request that failed validation, and why. Nothing of it is applied.
struct RejectedEventBatch {
  size_t index = 0;   // position in the request's `batches` list
  std::string error;  // one line for the MP server's log
};

// A decoded request: the valid batches in request order and the rejected ones. Every view in
// the batches (ids, backends, entries, keys, tokens) points into the request's own storage, so it
// stays valid as long as the request (also when it is moved) and does not depend on the body.
class CacheEventRequest {
 public:
  std::vector<core::CacheEventBatch> batches;
  std::vector<RejectedEventBatch> rejected;

  // `count` default-constructed values of a trivially destructible T that live as long as the
  // request.
  template <typename T>
  T* allocate(size_t count) {
    static_assert(std::is_trivially_destructible_v<T>);
    void* bytes = storage().allocate(sizeof(T) * count, alignof(T));
    T* out = static_cast<T*>(bytes);
    for (size_t i = 0; i < count; ++i) new (out + i) T();
    return out;
  }
  // A copy of `bytes` that lives as long as the request.
  std::string_view keep(std::string_view bytes);

 private:
  std::pmr::memory_resource& storage();

  // Created on first use; grows in blocks and is freed with the request.
  std::unique_ptr<std::pmr::monotonic_buffer_resource> storage_;
};

// Decodes a `POST /events` body: {"batches": [BATCH, ...]} where BATCH is
//   {"instance_id": str (non-empty), "incarnation": int >= 0, "seq": int >= 1,
//    "event_type": "store"|"delete"|"access"|"config", "tier": "l1"|"l2",
//    "backend": str (default ""; non-empty except for access), "shared": bool (default false),
//    "ts": number >= 0 (default 0), "capacity_bytes": int >= 0 (default 0),
//    "capacity_revision": int >= 0 (default 0), "entries": [ENTRY] (default []; none for config)}
// and ENTRY is
//   {"key": EncodedObjectKey (wire/object_key_codec.h), "size_bytes": int >= 0 (default 0),
//    "token_ids": [int] (default []), "token_offset": int >= 0 or -1 (default -1)}.
// Integers and numbers follow the lax rules (wire/lax_number.h); unknown fields are ignored; a
// null is not a value of any field.
//
// Only a body that is not JSON, not an object, or has no `batches` list adds FastAPI-shaped
// errors to `errors` and returns nullopt. A batch that breaks any rule above is listed in
// `rejected` (its first fault) and left out of `batches`; the other batches are unaffected.
//
// Thread-safe. A request of the shape MP servers send takes a fast path (one SAX pass, no tree,
// see cache_event_fast_decoder.h); anything else is decoded from a JSON tree built in a
// per-thread arena. Either way the decoded keys are views into the request's storage (no heap
// allocation per entry).
std::optional<CacheEventRequest> decode_cache_event_request(std::string_view body,
                                                            ValidationErrors& errors);

// The same without the fast path: always through a JSON tree. For tests and fuzzing, which check
// that the fast path agrees with it.
std::optional<CacheEventRequest> decode_cache_event_request_from_tree(std::string_view body,
                                                                      ValidationErrors& errors);

}  // namespace lmcache::http
