#include "http/token_keys_fast_reader.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/object_key.h"
#include "core/token_chain_hasher.h"

namespace lmcache::http {
namespace {

// A cursor over the body. Every read checks the end; a false return means "not plainly valid".
// The value of the first `digits` (1..8) bytes of `x`, eight bytes read little-endian with '0'
// already subtracted by XOR (so digit bytes are 0..9): the digits moved to the high bytes (the
// low ones then read as leading zeros) and combined pairwise, 2, 4, then 8 digits a lane.
uint64_t swar_value(uint64_t x, int digits) {
  uint64_t v = (x << (8 * (8 - digits))) & 0x0F0F0F0F0F0F0F0FULL;
  v = (v * 2561) >> 8;
  v = ((v & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
  return ((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool at_end() const { return p_ == end_; }

  // JSON white space: space, tab, LF, CR.
  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // Consumes `c` (after white space) when it comes next.
  bool take(char c) {
    skip_space();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // A string of printable ASCII without escapes, its contents in `out`.
  bool plain_string(std::string_view& out) {
    if (!take('"')) return false;
    const char* start = p_;
    for (; p_ != end_; ++p_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
    }
    return false;
  }

  // A non-negative integer in plain decimal (no sign, leading zero, fraction or exponent) no
  // larger than `max` (< 2^32). The character after it is not consumed.
  bool plain_integer(uint64_t max, uint64_t& out) {
    skip_space();
    const char* start = p_;
    uint64_t value = 0;
    if (!eight_digits_at_most(value)) {
      // Near the end of the body, or more than 8 digits: one digit at a time.
      value = 0;
      while (p_ != end_ && static_cast<unsigned char>(*p_ - '0') < 10) {
        value = value * 10 + static_cast<unsigned char>(*p_ - '0');
        ++p_;
        if (p_ - start > 10) return false;  // beyond 2^32 whatever the digits
      }
    }
    const auto digits = p_ - start;
    if (digits == 0 || (digits > 1 && *start == '0') || value > max) return false;
    // What may follow a number in the forms read here; anything else ('.', 'e', a letter) means
    // another form of number or malformed JSON.
    if (p_ != end_ && *p_ != ',' && *p_ != ']' && *p_ != '}' && *p_ != ' ' && *p_ != '\n' &&
        *p_ != '\r' && *p_ != '\t') {
      return false;
    }
    out = value;
    return true;
  }

  // The eight bytes at `at` (all readable) with '0'..'9' turned into 0..9, in `x`, and how many
  // of them lead as digits (8: all). A byte is no digit when it is >= 10 after the xor (the high
  // bit of x + 0x76, added without carries between bytes) or had its high bit set.
  static int leading_digits(const char* at, uint64_t& x) {
    uint64_t bytes;
    std::memcpy(&bytes, at, 8);
    if constexpr (std::endian::native == std::endian::big) bytes = __builtin_bswap64(bytes);
    x = bytes ^ 0x3030303030303030ULL;
    const uint64_t no_digit =
        (((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
    return no_digit == 0 ? 8 : __builtin_ctzll(no_digit) / 8;
  }

  // The digits at the cursor when at least 8 bytes remain and at most 8 of them are digits:
  // their value in `value`, the cursor after them, true. Otherwise false, nothing consumed.
  // Eight bytes at a time (SWAR), without a branch per digit: token lengths vary at random, so
  // a loop per digit mispredicts the end of almost every token.
  bool eight_digits_at_most(uint64_t& value) {
    if (end_ - p_ < 8) return false;
    uint64_t x = 0;
    const int digits = leading_digits(p_, x);
    if (digits == 0 || digits == 8) return false;  // none, or 8 digits or more
    value = swar_value(x, digits);
    p_ += digits;
    return true;
  }

  // `[` integer (`,` integer)* `]` or `[]`, tokens in [0, 2^32), at most kMaxRequestTokens.
  bool token_list(std::vector<uint32_t>& out) {
    if (!take('[')) return false;
    if (take(']')) return true;
    // In a valid list the first ']' closes it: no strings or nested lists can come before.
    const auto* close =
        static_cast<const char*>(std::memchr(p_, ']', static_cast<size_t>(end_ - p_)));
    if (close == nullptr) return false;
    // At least two bytes a token ("1,"): enough room for the list without a reallocation.
    out.reserve(std::min(static_cast<size_t>(close - p_) / 2 + 1, kMaxRequestTokens + 1));
    if (dense_tokens(close, out)) {
      p_ = close + 1;
      return true;
    }
    out.clear();  // white space or something else inside: token by token
    constexpr uint64_t kMaxToken = std::numeric_limits<uint32_t>::max();
    for (;;) {
      uint64_t token = 0;
      if (!plain_integer(kMaxToken, token)) return false;
      if (out.size() == kMaxRequestTokens) return false;  // the tree path answers 400
      out.push_back(static_cast<uint32_t>(token));
      if (p_ != end_ && *p_ == ',') {  // the common case: no white space
        ++p_;
        continue;
      }
      if (take(']')) return true;
      if (!take(',')) return false;
    }
  }

  // The tokens of [p_, close) when it holds nothing but digits and commas (how clients print a
  // list): the commas are found 64 bytes at a time first, so each token is read from its known
  // bounds and no token waits for the end of the previous one to be found. False (with `out`
  // partly filled) when anything else appears or a token is invalid: every byte that is no
  // comma lies in some token, whose bytes push_token checks are digits.
  bool dense_tokens(const char* close, std::vector<uint32_t>& out) const {
    const char* start = p_;  // of the current token
    for (const char* block = p_; block < close; block += 64) {
      const size_t size = std::min<size_t>(64, static_cast<size_t>(close - block));
      uint64_t commas = size == 64 ? comma_bits(block) : 0;  // bit i: block[i] is a comma
      if (size < 64) {
        for (size_t i = 0; i < size; ++i) commas |= uint64_t{block[i] == ','} << i;
      }
      for (; commas != 0; commas &= commas - 1) {
        const char* comma = block + __builtin_ctzll(commas);
        if (!push_token(start, comma, out)) return false;
        start = comma + 1;
      }
    }
    return push_token(start, close, out);
  }

  // Bit i set when block[i] is a comma, for the 64 bytes at `block`.
  static uint64_t comma_bits(const char* block) {
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(',');
    uint64_t bits = 0;
    for (size_t i = 0; i < 4; ++i) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i));
      const auto mask = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, comma)));
      bits |= uint64_t{mask} << (16 * i);
    }
    return bits;
#else
    uint64_t bits = 0;
    for (size_t i = 0; i < 64; ++i) bits |= uint64_t{block[i] == ','} << i;
    return bits;
#endif
  }

  // The token of [start, stop), if those are 1..10 digits of a valid token and room remains.
  bool push_token(const char* start, const char* stop, std::vector<uint32_t>& out) const {
    const auto digits = stop - start;
    if (digits == 0 || (digits > 1 && *start == '0') || digits > 10) return false;
    if (out.size() == kMaxRequestTokens) return false;  // the tree path answers 400
    uint64_t value = 0;
    if (digits <= 8 && end_ - start >= 8) {
      uint64_t x = 0;
      if (leading_digits(start, x) < digits) return false;
      value = swar_value(x, static_cast<int>(digits));
    } else {
      for (const char* d = start; d != stop; ++d) {
        if (static_cast<unsigned char>(*d - '0') >= 10) return false;
        value = value * 10 + static_cast<uint64_t>(*d - '0');
      }
      if (value > std::numeric_limits<uint32_t>::max()) return false;
    }
    out.push_back(static_cast<uint32_t>(value));
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<TokenKeysRequest> read_token_keys_fast(std::string_view body,
                                                     const TokenKeysRules& rules) {
  Reader in(body);
  if (!in.take('{')) return std::nullopt;
  TokenKeysRequest out;
  bool has_model = false, has_world_size = false, has_salt = false, has_tokens = false;
  if (!in.take('}')) {
    do {
      std::string_view name;
      if (!in.plain_string(name) || !in.take(':')) return std::nullopt;
      if (name == "model_name" && !has_model) {
        std::string_view model;
        if (!in.plain_string(model) || core::check_model_name(model)) return std::nullopt;
        out.model_name = model;
        has_model = true;
      } else if (name == "cache_salt" && !has_salt) {
        std::string_view salt;
        if (!in.plain_string(salt) || core::check_cache_salt(salt)) return std::nullopt;
        out.cache_salt = salt;
        has_salt = true;
      } else if (name == "world_size" && !has_world_size) {
        uint64_t world_size = 0;
        if (!in.plain_integer(core::kMaxWorldSize, world_size) || world_size < 1) {
          return std::nullopt;
        }
        out.world_size = static_cast<int64_t>(world_size);
        has_world_size = true;
      } else if (name == "token_ids" && !has_tokens) {
        if (!in.token_list(out.token_ids)) return std::nullopt;
        has_tokens = true;
      } else {
        return std::nullopt;  // another member, or one given twice
      }
    } while (in.take(','));
    if (!in.take('}')) return std::nullopt;
  }
  in.skip_space();
  if (!in.at_end() || !has_model || !has_tokens) return std::nullopt;
  if (!has_world_size) {
    if (!rules.default_world_size) return std::nullopt;
    out.world_size = *rules.default_world_size;
  }
  if (rules.non_empty_tokens && out.token_ids.empty()) return std::nullopt;
  return out;
}

}  // namespace lmcache::http
