// ObjectKey: the identity of one L2 object (the wire EncodedObjectKey), and its validation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace lmcache::core {

// One L2 object key. Two keys are the same key when all five fields are equal; the chunk hash is
// held as raw bytes, so hex case never matters. Build one with parse_object_key() to get the wire
// rules checked; the fields are public so tests and the ledger can build keys directly.
struct ObjectKey {
  std::string chunk_hash;  // raw hash bytes (32 for sha256, but any non-empty length is accepted)
  std::string model_name;  // never contains '@'; may be empty
  int32_t kv_rank = 0;
  uint32_t object_group_id = 0;
  std::string cache_salt;  // tenant; "" is the default salt

  bool operator==(const ObjectKey&) const = default;

  // The hash as lowercase hex, the form sent back in DELETE /l2 bodies.
  std::string chunk_hash_hex() const;

  // One line for logs: "model@rank@hex@group@salt" (the fields never contain '@', so this is
  // unambiguous).
  std::string to_string() const;
};

// An ObjectKey whose strings live elsewhere (a request body, a decoded batch): what the ledger
// reads a key through, so a decoded event needs no allocation of its own. Valid only while the
// strings it points at are.
struct ObjectKeyView {
  std::string_view chunk_hash;  // raw hash bytes
  std::string_view model_name;
  int32_t kv_rank = 0;
  uint32_t object_group_id = 0;
  std::string_view cache_salt;

  ObjectKeyView() = default;
  ObjectKeyView(std::string_view hash, std::string_view model, int32_t rank, uint32_t group,
                std::string_view salt)
      : chunk_hash(hash),
        model_name(model),
        kv_rank(rank),
        object_group_id(group),
        cache_salt(salt) {}
  // Implicit, so every call that takes a view also takes a key.
  ObjectKeyView(const ObjectKey& key)  // NOLINT(google-explicit-constructor)
      : ObjectKeyView(key.chunk_hash, key.model_name, key.kv_rank, key.object_group_id,
                      key.cache_salt) {}

  bool operator==(const ObjectKeyView&) const = default;

  // An owning copy.
  ObjectKey to_key() const {
    return ObjectKey{std::string(chunk_hash), std::string(model_name), kv_rank, object_group_id,
                     std::string(cache_salt)};
  }
};

// kv_rank on the wire. Upstream packs it as (ws << 24) | (w << 16) | (ws << 8) | w with world
// size ws <= 255 (token_chain_hasher.h), so from ws = 128 up the value exceeds INT32_MAX; seed-era
// clients may also send negative ranks. Accepted: [INT32_MIN, UINT32_MAX]. A key holds the rank
// as the int32 with the same 32 bits, so the two spellings of one bit pattern (e.g. -2147450880
// and 2147516416) are the same key.
inline constexpr int64_t kMinWireKvRank = std::numeric_limits<int32_t>::min();
inline constexpr int64_t kMaxWireKvRank = std::numeric_limits<uint32_t>::max();

// The held form of a wire kv_rank in [kMinWireKvRank, kMaxWireKvRank].
constexpr int32_t kv_rank_from_wire(int64_t wire) {
  return static_cast<int32_t>(static_cast<uint32_t>(wire));
}

// True when the 32 bits of `rank` are an upstream packing: ws in 1..255 and worker < ws.
constexpr bool is_packed_kv_rank(uint32_t rank) {
  const uint32_t ws = rank >> 24;
  const uint32_t worker = (rank >> 16) & 0xFF;
  return ws >= 1 && worker < ws && ((rank >> 8) & 0xFF) == ws && (rank & 0xFF) == worker;
}

// The wire form of a held kv_rank: the unsigned value when its bits are an upstream packing (what
// upstream computes and matches, e.g. 2147516416 for ws 128, worker 0), otherwise the signed
// value, so every rank a client sent comes back as sent, except a negative rank whose bits are a
// packing with ws >= 128, which comes back unsigned.
constexpr int64_t kv_rank_to_wire(int32_t rank) {
  const auto bits = static_cast<uint32_t>(rank);
  return is_packed_kv_rank(bits) ? int64_t{bits} : int64_t{rank};
}

// Hash functor so ObjectKey can key standard and Boost containers.
struct ObjectKeyHash {
  size_t operator()(const ObjectKey& key) const noexcept;
};

// Hash and equality over views, for containers keyed by ObjectKey or ObjectKeyView that look keys
// up by view without allocating (transparent).
struct ObjectKeyViewHash {
  using is_transparent = void;
  size_t operator()(const ObjectKeyView& key) const noexcept;
};
struct ObjectKeyViewEqual {
  using is_transparent = void;
  bool operator()(const ObjectKeyView& a, const ObjectKeyView& b) const noexcept { return a == b; }
};

// Why a key was rejected: the wire field at fault and a message for operators.
struct ObjectKeyError {
  std::string field;  // "chunk_hash_hex", "model_name", "kv_rank", "object_group_id", "cache_salt"
  std::string
      message;  // e.g. "chunk_hash_hex has odd length 3; expected an even number of hex digits"
};

// Either a valid key or the reason it is not one.
struct ObjectKeyResult {
  std::optional<ObjectKey> key;
  ObjectKeyError error;  // meaningful only when !key

  bool ok() const { return key.has_value(); }
};

// Largest cache_salt, in characters (UTF-8 code points, as the Python original counts them).
inline constexpr size_t kMaxCacheSaltChars = 128;

// Validates and builds a key from the five wire fields, already decoded from JSON (the decoder
// rejects integers that do not fit int64 and non-integers before calling this). Rules:
// - chunk_hash_hex: non-empty (decision: an empty hash names no chunk), even length, hex digits
//   only, either case;
// - model_name: no '@' (empty is accepted: the wire contract does not forbid it);
// - kv_rank: in [kMinWireKvRank, kMaxWireKvRank] (held as kv_rank_from_wire());
// - object_group_id: 0..UINT32_MAX;
// - cache_salt: at most 128 characters, none of '@', '/', '\', NUL.
ObjectKeyResult parse_object_key(std::string_view chunk_hash_hex, std::string_view model_name,
                                 int64_t kv_rank, int64_t object_group_id,
                                 std::string_view cache_salt);

// The checks of parse_object_key without building the key: the error parse_object_key would
// report, or nullopt when the five fields make a valid key. Allocates only on failure.
std::optional<ObjectKeyError> check_object_key(std::string_view chunk_hash_hex,
                                               std::string_view model_name, int64_t kv_rank,
                                               int64_t object_group_id,
                                               std::string_view cache_salt);

// Each field check on its own, for callers that validate one field (e.g. a salt in a URL path).
// They return the error message, or nullopt when the value is valid.
std::optional<std::string> check_chunk_hash_hex(std::string_view hex);
std::optional<std::string> check_model_name(std::string_view model_name);
std::optional<std::string> check_cache_salt(std::string_view cache_salt);

// Decodes hex (either case) into raw bytes; nullopt when check_chunk_hash_hex would fail.
std::optional<std::string> decode_hex(std::string_view hex);

// The same into `out`, which must hold hex.size() / 2 bytes: one pass, no allocation. Returns
// false (leaving `out` unspecified) when check_chunk_hash_hex would fail.
bool decode_hex_into(std::string_view hex, unsigned char* out);

// Encodes raw bytes as lowercase hex.
std::string encode_hex(std::string_view bytes);

}  // namespace lmcache::core
