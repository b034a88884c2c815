// The body of the eviction dispatch: an MP server's DELETE /l2 (seed-era) and DELETE
// /cache/objects (v2) take the same one.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/object_key.h"

namespace lmcache::wire {

// {"keys": [KEY...]}: every key as encode_object_key (object_key_codec.h) writes it, in order.
std::string encode_delete_keys_body(std::span<const core::ObjectKeyView> keys);

// {"keys": [KEY...], "tier": tier, "force": force}: the body of a v2 server's DELETE
// /cache/objects sent by POST /cache/delete (the tier and force flag are the caller's).
std::string encode_delete_objects_body(std::span<const core::ObjectKeyView> keys,
                                       std::string_view tier, bool force);

}  // namespace lmcache::wire
