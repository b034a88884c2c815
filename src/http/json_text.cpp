#include "http/json_text.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace lmcache::http {
namespace json = boost::json;

namespace {

// Python's float repr: the shortest digits that round-trip, written positionally when the decimal
// exponent is in [-4, 16) (with ".0" when there is no fraction) and as "d.ddde+XX" otherwise.
void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {  // not representable in JSON; json_response repairs these
    out += json::serialize(json::value(value));
    return;
  }
  // Shortest round-trip digits in scientific form: "-d.ddde-XX".
  char buffer[32];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  if (text.front() == '-') {
    out.push_back('-');
    text.remove_prefix(1);
  }
  const size_t e = text.find('e');
  std::string digits(1, text[0]);
  if (e > 1) digits.append(text.substr(2, e - 2));  // skip the '.'
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(),
                  exponent);

  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out += exponent < 0 ? "e-" : "e+";
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
    return;
  }
  if (exponent < 0) {  // 0.000ddd
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return;
  }
  const auto integer_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= integer_digits) {
    out += digits;
    out.append(integer_digits - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, integer_digits);
    out.push_back('.');
    out.append(digits, integer_digits);
  }
}

void append(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::double_:
      append_double(out, value.get_double());
      return;
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string_view(key));
        out.push_back(':');
        append(out, item);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append(out, item);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(value);
      return;
  }
}

}  // namespace

std::string to_json_text(const json::value& value) {
  std::string out;
  append(out, value);
  return out;
}

}  // namespace lmcache::http
