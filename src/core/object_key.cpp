#include "core/object_key.h"

#include <array>
#include <functional>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lmcache::core {
namespace {

// Value of each byte as a hex digit; 0xFF for a byte that is not one.
constexpr std::array<uint8_t, 256> kHexValues = [] {
  std::array<uint8_t, 256> table{};
  table.fill(0xFF);
  for (int c = 0; c < 10; ++c) table['0' + c] = static_cast<uint8_t>(c);
  for (int c = 0; c < 6; ++c) {
    table['a' + c] = static_cast<uint8_t>(10 + c);
    table['A' + c] = static_cast<uint8_t>(10 + c);
  }
  return table;
}();

#if defined(__SSE2__)
__m128i load16(const char* bytes) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));  // NOLINT(*-reinterpret-cast)
}

// The values of 16 hex digits, one a byte; `ok` gets 0xFF in each byte that was a digit (0
// elsewhere, where the value is meaningless). Bytes >= 0x80 compare as negative: never digits.
__m128i hex_nibbles(__m128i chars, __m128i& ok) {
  const __m128i lower = _mm_or_si128(chars, _mm_set1_epi8(0x20));  // 'A'..'F' -> 'a'..'f'
  const __m128i is_digit = _mm_and_si128(_mm_cmpgt_epi8(chars, _mm_set1_epi8('0' - 1)),
                                         _mm_cmplt_epi8(chars, _mm_set1_epi8('9' + 1)));
  const __m128i is_letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                          _mm_cmplt_epi8(lower, _mm_set1_epi8('f' + 1)));
  ok = _mm_or_si128(is_digit, is_letter);
  return _mm_or_si128(_mm_and_si128(is_digit, _mm_sub_epi8(chars, _mm_set1_epi8('0'))),
                      _mm_and_si128(is_letter, _mm_sub_epi8(lower, _mm_set1_epi8('a' - 10))));
}

// Each pair of nibbles (high first) as one byte, in the low half of a 16-bit lane.
__m128i nibble_pairs(__m128i nibbles) {
  const __m128i high = _mm_slli_epi16(_mm_and_si128(nibbles, _mm_set1_epi16(0x00FF)), 4);
  return _mm_or_si128(high, _mm_srli_epi16(nibbles, 8));
}
#endif

bool is_hex_digit(char c) { return kHexValues[static_cast<unsigned char>(c)] != 0xFF; }

// Number of UTF-8 code points (bytes that are not continuation bytes). Invalid UTF-8 cannot
// reach here from JSON, and for raw bytes this still bounds the length sensibly.
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string describe_char(char c) {
  if (c == '\0') return "NUL";
  return std::string("'") + c + "'";
}

}  // namespace

std::string encode_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xF];
  }
  return out;
}

std::optional<std::string> check_chunk_hash_hex(std::string_view hex) {
  if (hex.empty()) return "chunk_hash_hex is empty; expected an even number of hex digits";
  if (hex.size() % 2 != 0) {
    return "chunk_hash_hex has odd length " + std::to_string(hex.size()) +
           "; expected an even number of hex digits";
  }
  for (size_t i = 0; i < hex.size(); ++i) {
    if (!is_hex_digit(hex[i])) {
      return "chunk_hash_hex has a non-hex character " + describe_char(hex[i]) + " at offset " +
             std::to_string(i);
    }
  }
  return std::nullopt;
}

bool decode_hex_into(std::string_view hex, unsigned char* out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  const size_t n = hex.size() / 2;
  size_t i = 0;
#if defined(__SSE2__)
  // 32 digits into 16 bytes at a time (a 64-digit chunk hash is two rounds).
  bool all_digits = true;
  for (; i + 16 <= n; i += 16) {
    __m128i first_ok;
    __m128i second_ok;
    const __m128i first = hex_nibbles(load16(hex.data() + 2 * i), first_ok);
    const __m128i second = hex_nibbles(load16(hex.data() + 2 * i + 16), second_ok);
    all_digits &= _mm_movemask_epi8(_mm_and_si128(first_ok, second_ok)) == 0xFFFF;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),  // NOLINT(*-reinterpret-cast)
                     _mm_packus_epi16(nibble_pairs(first), nibble_pairs(second)));
  }
  if (!all_digits) return false;
#endif
  // Any invalid digit sets the high bit of `invalid`: one test at the end instead of one a digit.
  uint8_t invalid = 0;
  for (; i < n; ++i) {
    const uint8_t high = kHexValues[static_cast<unsigned char>(hex[2 * i])];
    const uint8_t low = kHexValues[static_cast<unsigned char>(hex[2 * i + 1])];
    invalid |= high | low;
    out[i] = static_cast<unsigned char>((high << 4) | (low & 0x0F));
  }
  return (invalid & 0x80) == 0;
}

std::optional<std::string> decode_hex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  if (!decode_hex_into(hex, reinterpret_cast<unsigned char*>(out.data()))) return std::nullopt;
  return out;
}

std::optional<std::string> check_model_name(std::string_view model_name) {
  if (model_name.find('@') != std::string_view::npos) return "model_name must not contain '@'";
  return std::nullopt;
}

std::optional<std::string> check_cache_salt(std::string_view cache_salt) {
  const size_t chars = utf8_length(cache_salt);
  if (chars > kMaxCacheSaltChars) {
    return "cache_salt has " + std::to_string(chars) + " characters; at most " +
           std::to_string(kMaxCacheSaltChars) + " are allowed";
  }
  for (char c : cache_salt) {
    if (c == '@' || c == '/' || c == '\\' || c == '\0') {
      return "cache_salt must not contain " + describe_char(c) +
             " (forbidden: '@', '/', '\\', NUL)";
    }
  }
  return std::nullopt;
}

std::optional<ObjectKeyError> check_object_key(std::string_view chunk_hash_hex,
                                               std::string_view model_name, int64_t kv_rank,
                                               int64_t object_group_id,
                                               std::string_view cache_salt) {
  auto fail = [](std::string field, std::string message) {
    return std::optional<ObjectKeyError>(ObjectKeyError{std::move(field), std::move(message)});
  };
  if (auto err = check_chunk_hash_hex(chunk_hash_hex)) return fail("chunk_hash_hex", *err);
  if (auto err = check_model_name(model_name)) return fail("model_name", *err);
  if (kv_rank < kMinWireKvRank || kv_rank > kMaxWireKvRank) {
    return fail("kv_rank", "kv_rank " + std::to_string(kv_rank) + " is outside " +
                               std::to_string(kMinWireKvRank) + ".." +
                               std::to_string(kMaxWireKvRank));
  }
  if (object_group_id < 0 || object_group_id > std::numeric_limits<uint32_t>::max()) {
    return fail("object_group_id", "object_group_id " + std::to_string(object_group_id) +
                                       " is outside 0.." +
                                       std::to_string(std::numeric_limits<uint32_t>::max()));
  }
  if (auto err = check_cache_salt(cache_salt)) return fail("cache_salt", *err);
  return std::nullopt;
}

ObjectKeyResult parse_object_key(std::string_view chunk_hash_hex, std::string_view model_name,
                                 int64_t kv_rank, int64_t object_group_id,
                                 std::string_view cache_salt) {
  ObjectKeyResult result;
  if (auto error =
          check_object_key(chunk_hash_hex, model_name, kv_rank, object_group_id, cache_salt)) {
    result.error = std::move(*error);
    return result;
  }
  result.key =
      ObjectKey{*decode_hex(chunk_hash_hex), std::string(model_name), kv_rank_from_wire(kv_rank),
                static_cast<uint32_t>(object_group_id), std::string(cache_salt)};
  return result;
}

std::string ObjectKey::chunk_hash_hex() const { return encode_hex(chunk_hash); }

std::string ObjectKey::to_string() const {
  return model_name + "@" + std::to_string(kv_rank_to_wire(kv_rank)) + "@" + chunk_hash_hex() +
         "@" + std::to_string(object_group_id) + "@" + cache_salt;
}

size_t ObjectKeyHash::operator()(const ObjectKey& key) const noexcept {
  return ObjectKeyViewHash()(ObjectKeyView(key));  // a key and its view hash alike
}

size_t ObjectKeyViewHash::operator()(const ObjectKeyView& key) const noexcept {
  std::hash<std::string_view> h;
  size_t seed = h(key.chunk_hash);
  auto mix = [&seed](size_t v) { seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2); };
  mix(h(key.model_name));
  mix(static_cast<uint32_t>(key.kv_rank));
  mix(key.object_group_id);
  mix(h(key.cache_salt));
  return seed;
}

}  // namespace lmcache::core
