// A base64 encoder for tests and benchmarks, which build the tokens_b64 bodies MP servers send.
// The coordinator itself only decodes (http/token_decoding.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lmcache::testing {

// `size` bytes at `data` in standard, padded base64 (RFC 4648, section 4).
inline std::string base64_encode(const void* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    const size_t n = size - i < 3 ? size - i : 3;
    uint32_t bits = uint32_t{bytes[i]} << 16;
    if (n > 1) bits |= uint32_t{bytes[i + 1]} << 8;
    if (n > 2) bits |= bytes[i + 2];
    out += kAlphabet[(bits >> 18) & 63];
    out += kAlphabet[(bits >> 12) & 63];
    out += n > 1 ? kAlphabet[(bits >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[bits & 63] : '=';
  }
  return out;
}

}  // namespace lmcache::testing
