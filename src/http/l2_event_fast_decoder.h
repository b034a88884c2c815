// The fast path of decode_l2_event_batch: one SAX pass over a well-formed batch.
#pragma once

#include <string_view>

#include "http/l2_event_decoder.h"

namespace lmcache::http {

// Decodes a `POST /l2/events` body in one pass, without building a JSON tree, when the batch
// has the shape MP servers send: a root object whose instance_id is a non-empty string, whose
// seq is a JSON integer >= 1 and whose events are objects with a string type of "store",
// "lookup" or "delete", a key object of valid fields in their plain JSON types (strings as
// strings, integers as JSON integers) and a JSON-integer bytes >= 0 (required for a store,
// optional for lookup and delete). Unknown fields are skipped, as in the general decoder.
//
// Returns false for anything else: malformed JSON, a field repeated within one object, lax
// values (numeric strings, integral floats, nulls) and every invalid event. The caller then
// decodes the body with the general decoder, which owns every error message; so whenever this
// returns true, `out` holds exactly what the general decoder would have produced (with no
// rejected events). `out` must be empty on entry; on false its contents are unspecified.
bool decode_l2_event_batch_fast(std::string_view body, L2EventBatch& out);

}  // namespace lmcache::http
