#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/object_key.h"

namespace lmcache::http {

// Decodes an EncodedObjectKey object ({"chunk_hash_hex", "model_name",
// "kv_rank", "object_group_id" (default 0), "cache_salt" (default "")}).
// Type errors are reported like parse_object_key's, naming the field.
core::ObjectKeyResult decode_object_key(const boost::json::value& value);

// The wire form of a key, as sent in DELETE /l2 bodies.
boost::json::object encode_object_key(const core::ObjectKey& key);

}  // namespace lmcache::http
