// SaxObjectKey: the object key sub-object ({chunk_hash_hex, model_name, kv_rank, object_group_id,
// cache_salt}) as the one-pass event decoders read it.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "core/object_key.h"
#include "http/recent_strings.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {

// Reads the fields of one key object into a core::ObjectKeyView whose strings live in the
// decoder's output, checked as the tree decoders check them (strings as strings, integers as
// JSON integers, the wire rules of core/object_key.h). `Field` is the decoder's field enum; it
// names the five key fields kChunkHashHex, kModelName, kKvRank, kObjectGroupId and kCacheSalt.
// Model names and salts recur from key to key: each is checked and copied once (RecentStrings).
template <typename Field>
class SaxObjectKey {
 public:
  // The key field `name` names, or kUnknown.
  static Field field(std::string_view name) {
    if (name == wire::kChunkHashHexField) return Field::kChunkHashHex;
    if (name == wire::kModelNameField) return Field::kModelName;
    if (name == wire::kKvRankField) return Field::kKvRank;
    if (name == wire::kObjectGroupIdField) return Field::kObjectGroupId;
    if (name == wire::kCacheSaltField) return Field::kCacheSalt;
    return Field::kUnknown;
  }

  // True when a key object whose fields seen are `seen` (bit i for field i) is complete:
  // chunk_hash_hex, model_name and kv_rank have no default.
  static bool complete(uint32_t seen) {
    constexpr uint32_t kRequired = (1u << static_cast<unsigned>(Field::kChunkHashHex)) |
                                   (1u << static_cast<unsigned>(Field::kModelName)) |
                                   (1u << static_cast<unsigned>(Field::kKvRank));
    return (seen & kRequired) == kRequired;
  }

  // Forgets the recent strings (before decoding into another output).
  void reset() {
    models_.reset();
    salts_.reset();
  }

  // The string value of key field `field` into `key`; false when it is not valid (or the field
  // takes no string). `storage` keeps strings (keep(std::string_view) -> view);
  // `allocate_bytes(n)` returns n writable bytes that live as long as it.
  template <typename Storage, typename AllocateBytes>
  bool take_string(Field field, std::string_view value, Storage& storage,
                   AllocateBytes&& allocate_bytes, core::ObjectKeyView& key) {
    switch (field) {
      case Field::kChunkHashHex: {
        const size_t size = value.size() / 2;
        unsigned char* bytes = allocate_bytes(size);
        if (!core::decode_hex_into(value, bytes)) return false;
        key.chunk_hash = {reinterpret_cast<const char*>(bytes), size};
        return true;
      }
      case Field::kModelName:
        return models_.keep(
            value, storage, [](std::string_view text) { return !core::check_model_name(text); },
            key.model_name);
      case Field::kCacheSalt:
        return salts_.keep(
            value, storage, [](std::string_view text) { return !core::check_cache_salt(text); },
            key.cache_salt);
      default:
        return false;  // a string where an integer belongs: lax rules, not ours
    }
  }

  // The integer value of key field `field` into `key`; false when it is not valid (or the field
  // takes no integer).
  static bool take_integer(Field field, int64_t value, core::ObjectKeyView& key) {
    switch (field) {
      case Field::kKvRank:
        if (value < core::kMinWireKvRank || value > core::kMaxWireKvRank) return false;
        key.kv_rank = core::kv_rank_from_wire(value);
        return true;
      case Field::kObjectGroupId:
        if (value < 0 || value > std::numeric_limits<uint32_t>::max()) return false;
        key.object_group_id = static_cast<uint32_t>(value);
        return true;
      default:
        return false;
    }
  }

 private:
  RecentStrings models_;  // in the output's storage, already checked
  RecentStrings salts_;
};

}  // namespace lmcache::http
