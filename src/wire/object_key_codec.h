// The wire form of an L2 object key (LMCache's EncodedObjectKey) to and from core::ObjectKey.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/object_key.h"

namespace lmcache::wire {

// The field names of EncodedObjectKey, for decoders that read a key without this codec.
inline constexpr std::string_view kChunkHashHexField = "chunk_hash_hex";
inline constexpr std::string_view kModelNameField = "model_name";
inline constexpr std::string_view kKvRankField = "kv_rank";
inline constexpr std::string_view kObjectGroupIdField = "object_group_id";
inline constexpr std::string_view kCacheSaltField = "cache_salt";

// Decodes an EncodedObjectKey:
//   {"chunk_hash_hex": str, "model_name": str, "kv_rank": int,
//    "object_group_id": int (default 0), "cache_salt": str (default "")}
// A JSON null takes the default of a field that has one; unknown fields are ignored; integers
// follow lax_integer() (lax_number.h); the values must then pass core::parse_object_key.
//
// On failure, error.field names the field at fault ("key" when `value` is not an object) and
// error.message is one line for an operator that names the field as part of a key:
// "key must be an object, got [1]", "key.chunk_hash_hex is missing", "key.model_name must be a
// string, got 5", "key.kv_rank must be an integer, got 0.5", or "invalid key: " followed by
// parse_object_key's message.
core::ObjectKeyResult decode_object_key(const boost::json::value& value);

// An EncodedObjectKey read in place: the strings are views into the JSON value it was read from
// and the hash is still hex.
struct EncodedObjectKeyView {
  std::string_view chunk_hash_hex;
  std::string_view model_name;
  int32_t kv_rank = 0;
  uint32_t object_group_id = 0;
  std::string_view cache_salt;
};

// decode_object_key without building the key, for decoders that keep keys as views (same rules,
// same error): on success `out` points into `value` (valid while it is) and
// core::decode_hex_into accepts its hash. Allocates only on failure.
std::optional<core::ObjectKeyError> read_object_key(const boost::json::value& value,
                                                    EncodedObjectKeyView& out);

// The wire form of `key`: all five fields, in the order above, the hash as lowercase hex.
boost::json::object encode_object_key(const core::ObjectKeyView& key);

}  // namespace lmcache::wire
