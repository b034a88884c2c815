#include "http/json_text.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace lmcache::http {
namespace json = boost::json;

namespace {

void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {  // not representable in JSON; Boost.JSON writes null-ish forms
    out += json::serialize(json::value(value));
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  const std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
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
