#include "http/json_repair.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace lmcache::http {

namespace {

// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlong forms,
// surrogates or code points above U+10FFFF), or 0 when it is ill-formed.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = code_point << 6 | (next & 0x3F);
  }
  if (length == 3 && (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF))) {
    return 0;
  }
  if (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) return 0;
  return length;
}

}  // namespace

bool is_well_formed_utf8(std::string_view text) {
  // ASCII, the common case (hex hashes, model names, salts), eight bytes at a time.
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof word);
    if ((word & 0x8080808080808080ULL) != 0) break;
  }
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  for (; i < text.size();) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string replace_ill_formed_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

bool needs_json_repair(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_:
      return !std::isfinite(value.get_double());
    case boost::json::kind::string:
      return !is_well_formed_utf8(value.get_string());
    case boost::json::kind::array:
      for (const auto& item : value.get_array()) {
        if (needs_json_repair(item)) return true;
      }
      return false;
    case boost::json::kind::object:
      for (const auto& [key, item] : value.get_object()) {
        if (!is_well_formed_utf8(key) || needs_json_repair(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

void repair_json(boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_: {
      const double number = value.get_double();
      if (std::isnan(number)) {
        value = "nan";
      } else if (std::isinf(number)) {
        value = number > 0 ? "inf" : "-inf";
      }
      break;
    }
    case boost::json::kind::string:
      if (!is_well_formed_utf8(value.get_string())) {
        value = replace_ill_formed_utf8(value.get_string());
      }
      break;
    case boost::json::kind::array:
      for (auto& item : value.get_array()) repair_json(item);
      break;
    case boost::json::kind::object: {
      boost::json::object repaired;
      for (auto& [key, item] : value.get_object()) {
        repair_json(item);
        repaired[is_well_formed_utf8(key) ? std::string(key) : replace_ill_formed_utf8(key)] =
            std::move(item);
      }
      value = std::move(repaired);
      break;
    }
    default:
      break;
  }
}

}  // namespace lmcache::http
