#include "http/token_decoding.h"

#include <fmt/format.h>

#include <array>
#include <bit>
#include <type_traits>

namespace lmcache::http {
namespace json = boost::json;

namespace {

constexpr uint8_t kInvalid = 0x80;  // marks a byte outside the base64 alphabet

constexpr std::array<uint8_t, 256> make_decode_table() {
  std::array<uint8_t, 256> table{};
  table.fill(kInvalid);
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kDecode = make_decode_table();

uint8_t sextet(char c) { return kDecode[static_cast<unsigned char>(c)]; }

std::string bad_character(std::string_view text, size_t offset) {
  const auto c = static_cast<unsigned char>(text[offset]);
  if (c >= 0x21 && c < 0x7F) {
    return fmt::format("invalid base64: character '{}' at offset {}", static_cast<char>(c), offset);
  }
  return fmt::format("invalid base64: byte 0x{:02x} at offset {}", c, offset);
}

// The first offset in text[from, from + 4) that is not in the alphabet.
size_t first_invalid(std::string_view text, size_t from) {
  for (size_t i = from; i < from + 4; ++i) {
    if (sextet(text[i]) == kInvalid) return i;
  }
  return from + 4;
}

template <typename Token>
Token byte_swap(Token value) {
  if constexpr (sizeof(Token) == 4) {
    return __builtin_bswap32(value);
  } else {
    return __builtin_bswap64(value);
  }
}

void add_value_error(ValidationErrors& errors, json::array loc, const std::string& error,
                     json::value input) {
  errors.add("value_error", std::move(loc), "Value error, " + error, std::move(input),
             json::object{{"error", error}});
}

json::array with(const json::array& loc, std::string_view name) {
  json::array out = loc;
  out.emplace_back(name);
  return out;
}

template <typename Token>
std::optional<RequestTokens> read_base64_field(const json::value& value, json::array loc,
                                               ValidationErrors& errors) {
  if (!value.is_string()) {
    errors.add("string_type", std::move(loc), "Input should be a valid string", value);
    return std::nullopt;
  }
  std::string error;
  auto tokens = decode_base64_tokens<Token>(value.get_string(), error);
  if (!tokens) {
    add_value_error(errors, std::move(loc), error, value);
    return std::nullopt;
  }
  return RequestTokens{std::move(*tokens)};
}

}  // namespace

std::optional<size_t> base64_decoded_size(std::string_view text, std::string& error) {
  if (text.size() % 4 != 0) {
    error = fmt::format("invalid base64: length {} is not a multiple of 4", text.size());
    return std::nullopt;
  }
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  return text.size() / 4 * 3 - padding;
}

bool base64_decode(std::string_view text, unsigned char* out, std::string& error) {
  if (!base64_decoded_size(text, error)) return false;
  if (text.empty()) return true;
  // Every quad but the last has four alphabet characters.
  const size_t last = text.size() - 4;
  for (size_t i = 0; i < last; i += 4) {
    const uint32_t a = sextet(text[i]), b = sextet(text[i + 1]), c = sextet(text[i + 2]),
                   d = sextet(text[i + 3]);
    if ((a | b | c | d) & kInvalid) {
      error = bad_character(text, first_invalid(text, i));
      return false;
    }
    const uint32_t bits = (a << 18) | (b << 12) | (c << 6) | d;
    out[0] = static_cast<unsigned char>(bits >> 16);
    out[1] = static_cast<unsigned char>(bits >> 8);
    out[2] = static_cast<unsigned char>(bits);
    out += 3;
  }
  // The last quad: two alphabet characters, then "==", "c=" or "cd".
  const bool pad3 = text[last + 3] == '=';
  const bool pad2 = pad3 && text[last + 2] == '=';
  const size_t checked = pad2 ? 2 : pad3 ? 3 : 4;
  for (size_t i = last; i < last + checked; ++i) {
    if (sextet(text[i]) == kInvalid) {
      error = bad_character(text, i);
      return false;
    }
  }
  const uint32_t a = sextet(text[last]), b = sextet(text[last + 1]);
  const uint32_t c = pad2 ? 0 : sextet(text[last + 2]);
  const uint32_t d = pad3 ? 0 : sextet(text[last + 3]);
  const uint32_t bits = (a << 18) | (b << 12) | (c << 6) | d;
  out[0] = static_cast<unsigned char>(bits >> 16);
  if (!pad2) out[1] = static_cast<unsigned char>(bits >> 8);
  if (!pad3) out[2] = static_cast<unsigned char>(bits);
  return true;
}

template <typename Token>
std::optional<std::vector<Token>> decode_base64_tokens(std::string_view text, std::string& error) {
  static_assert(std::is_same_v<Token, uint32_t> || std::is_same_v<Token, uint64_t>);
  const auto bytes = base64_decoded_size(text, error);
  if (!bytes) return std::nullopt;
  if (*bytes % sizeof(Token) != 0) {
    // A bad character is the better explanation, if there is one.
    std::string scratch(*bytes, '\0');
    if (!base64_decode(text, reinterpret_cast<unsigned char*>(scratch.data()), error)) {
      return std::nullopt;
    }
    error = fmt::format("decoded length {} bytes is not a multiple of {} ({}-bit tokens)", *bytes,
                        sizeof(Token), 8 * sizeof(Token));
    return std::nullopt;
  }
  std::vector<Token> tokens(*bytes / sizeof(Token));
  if (!base64_decode(text, reinterpret_cast<unsigned char*>(tokens.data()), error)) {
    return std::nullopt;
  }
  if constexpr (std::endian::native == std::endian::big) {
    for (Token& token : tokens) token = byte_swap(token);
  }
  return tokens;
}

template std::optional<std::vector<uint32_t>> decode_base64_tokens<uint32_t>(std::string_view,
                                                                             std::string&);
template std::optional<std::vector<uint64_t>> decode_base64_tokens<uint64_t>(std::string_view,
                                                                             std::string&);

std::optional<std::vector<uint64_t>> read_token_list(const json::value& value,
                                                     const json::array& loc,
                                                     ValidationErrors& errors) {
  const json::array* items = value.if_array();
  if (items == nullptr) {
    errors.add("list_type", loc, "Input should be a valid list", value);
    return std::nullopt;
  }
  std::vector<uint64_t> tokens;
  tokens.reserve(items->size());
  bool ok = true;
  for (size_t i = 0; i < items->size(); ++i) {
    const json::value& item = (*items)[i];
    // Fast path: JSON parses non-negative integers as int64 (uint64 above 2^63).
    if (item.is_int64() && item.get_int64() >= 0) {
      tokens.push_back(static_cast<uint64_t>(item.get_int64()));
      continue;
    }
    json::array item_loc = loc;
    item_loc.emplace_back(i);
    if (auto token = read_unsigned(item, item_loc, errors)) {
      tokens.push_back(*token);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return tokens;
}

std::optional<RequestTokens> read_request_tokens(const json::object& body,
                                                 const json::array& body_loc,
                                                 ValidationErrors& errors) {
  constexpr std::string_view kFields[] = {"tokens_b64", "tokens_u64_b64", "tokens"};
  const json::value* values[3] = {};
  std::string given;
  for (size_t i = 0; i < 3; ++i) {
    const json::value* value = body.if_contains(kFields[i]);
    if (value == nullptr || value->is_null()) continue;
    values[i] = value;
    given += given.empty() ? "" : ", ";
    given += kFields[i];
  }
  const int count = (values[0] != nullptr) + (values[1] != nullptr) + (values[2] != nullptr);
  if (count > 1) {
    add_value_error(
        errors, body_loc,
        "at most one of tokens_b64, tokens_u64_b64 and tokens may be given, got " + given, body);
    return std::nullopt;
  }
  if (values[0] != nullptr) {
    return read_base64_field<uint32_t>(*values[0], with(body_loc, kFields[0]), errors);
  }
  if (values[1] != nullptr) {
    return read_base64_field<uint64_t>(*values[1], with(body_loc, kFields[1]), errors);
  }
  if (values[2] != nullptr) {
    auto tokens = read_token_list(*values[2], with(body_loc, kFields[2]), errors);
    if (!tokens) return std::nullopt;
    return RequestTokens{std::move(*tokens)};
  }
  return RequestTokens{std::vector<uint32_t>{}};
}

}  // namespace lmcache::http
