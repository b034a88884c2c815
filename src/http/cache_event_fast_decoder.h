// The fast path of decode_cache_event_request: one SAX pass over a well-formed request.
#pragma once

#include <string_view>

#include "http/cache_event_decoder.h"

namespace lmcache::http {

// Decodes a `POST /events` body in one pass, without building a JSON tree, when it has the
// shape MP servers send: {"batches": [BATCH, ...]} where every batch and entry follows the rules
// of decode_cache_event_request with every field in its plain JSON type (strings as strings,
// integers as JSON integers within int64, ts as any JSON number, shared as a boolean, lists as
// lists, key fields valid). Unknown fields are skipped, as in the tree decoder.
//
// Returns false for anything else: malformed JSON, a field repeated within one object, lax
// values (numeric strings, integral floats, nulls) and every invalid batch. The caller then
// decodes the body with the tree decoder, which owns every error message; so whenever this
// returns true, `out` holds exactly what the tree decoder would have produced (with no rejected
// batch). `out` must be empty on entry; on false its contents are unspecified.
bool decode_cache_event_request_fast(std::string_view body, CacheEventRequest& out);

}  // namespace lmcache::http
