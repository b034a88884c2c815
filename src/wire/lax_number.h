// The lax number rules: what counts as an integer or a number in a JSON value, on the MP-server
// wire and in every request body. They are pydantic 2's lax mode, which the Python coordinator
// inherits from FastAPI, so a value the original accepts is accepted here too.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lmcache::wire {

// `text` without leading and trailing white space: the characters std::isspace accepts in the "C"
// locale (space, \t, \n, \v, \f, \r), as Python's str.strip() for ASCII text.
std::string_view trim(std::string_view text);

// Why a value is not an integer. Each fault is one pydantic error type, named after it.
enum class IntegerFault : uint8_t {
  kNone,
  kType,      // int_type: not a number and not a string (null, bool, object, array)
  kFraction,  // int_from_float: a float with a fractional part, or not finite
  kSize,      // int_parsing_size: a JSON number beyond int64 (floats: beyond +-9.0e18)
  kParsing,   // int_parsing: a string that is not a decimal integer within int64
};

// An integer read under the lax rules, or why the value is not one.
struct LaxInteger {
  int64_t value = 0;  // meaningful only when ok()
  IntegerFault fault = IntegerFault::kNone;

  bool ok() const { return fault == IntegerFault::kNone; }
};

// `value` as an integer: a JSON integer within int64; a finite float without fractional part and
// at most 9.0e18 in magnitude (so it converts exactly); or a string that, once trimmed, is an
// optional '-' and decimal digits within int64.
LaxInteger lax_integer(const boost::json::value& value);

// The string rule of lax_integer on its own: nullopt unless trimmed `text` is an optional '-'
// and decimal digits within int64.
std::optional<int64_t> integer_from_text(std::string_view text);

// Why a value is not a number, as pydantic names it.
enum class NumberFault : uint8_t {
  kNone,
  kType,       // float_type: not a number and not a string
  kParsing,    // float_parsing: a string that is not a decimal number
  kNotFinite,  // finite_number: infinite or NaN (only a string can spell these)
};

// A number read under the lax rules, or why the value is not one.
struct LaxNumber {
  double value = 0;  // meaningful only when ok()
  NumberFault fault = NumberFault::kNone;

  bool ok() const { return fault == NumberFault::kNone; }
};

// `value` as a finite double: any JSON number, or a string that, once trimmed, is a decimal
// number (std::from_chars general format).
LaxNumber lax_number(const boost::json::value& value);

}  // namespace lmcache::wire
