#include "wire/lax_number.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <system_error>

namespace lmcache::wire {
namespace {

// The largest float magnitude read as an integer: below 2^63, so the conversion is exact.
constexpr double kMaxIntegralFloat = 9.0e18;

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Reads all of `text` with std::from_chars; nullopt when anything is left over or out of range.
template <typename Number>
std::optional<Number> parse_whole(std::string_view text) {
  Number parsed{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, parsed);
  if (text.empty() || ec != std::errc() || stop != end) return std::nullopt;
  return parsed;
}

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<int64_t> integer_from_text(std::string_view text) {
  return parse_whole<int64_t>(trim(text));
}

LaxInteger lax_integer(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::int64:
      return {value.get_int64(), IntegerFault::kNone};
    case boost::json::kind::uint64:  // the parser makes these only for values beyond int64
      if (value.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return {0, IntegerFault::kSize};
      return {static_cast<int64_t>(value.get_uint64()), IntegerFault::kNone};
    case boost::json::kind::double_: {
      const double d = value.get_double();
      if (!std::isfinite(d) || std::floor(d) != d) return {0, IntegerFault::kFraction};
      if (std::fabs(d) > kMaxIntegralFloat) return {0, IntegerFault::kSize};
      return {static_cast<int64_t>(d), IntegerFault::kNone};
    }
    case boost::json::kind::string: {
      const auto parsed = integer_from_text(value.get_string());
      if (!parsed) return {0, IntegerFault::kParsing};
      return {*parsed, IntegerFault::kNone};
    }
    default:
      return {0, IntegerFault::kType};
  }
}

LaxNumber lax_number(const boost::json::value& value) {
  double result = 0;
  if (value.is_number()) {
    result = value.to_number<double>();
  } else if (value.is_string()) {
    auto parsed = parse_whole<double>(trim(value.get_string()));
    if (!parsed) return {0, NumberFault::kParsing};
    result = *parsed;
  } else {
    return {0, NumberFault::kType};
  }
  if (!std::isfinite(result)) return {0, NumberFault::kNotFinite};
  return {result, NumberFault::kNone};
}

}  // namespace lmcache::wire
