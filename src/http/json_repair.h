// Makes a JSON value serialise to valid JSON. Boost.JSON writes strings byte for byte (path
// parameters and MP server replies may not be UTF-8) and infinities as `Infinity` (a number like
// 1e999 in a request parses to one and is echoed in a 422); neither is JSON.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace lmcache::http {

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF).
bool is_well_formed_utf8(std::string_view text);

// `text` with every byte that starts no well-formed UTF-8 sequence replaced by U+FFFD.
std::string replace_ill_formed_utf8(std::string_view text);

// Whether serialising `value` would not give JSON: a string or object key that is not
// well-formed UTF-8, or a non-finite number, anywhere inside it.
bool needs_json_repair(const boost::json::value& value);

// Repairs what needs_json_repair finds: ill-formed UTF-8 becomes U+FFFD, a non-finite number the
// string "inf", "-inf" or "nan" (as Python prints it).
void repair_json(boost::json::value& value);

}  // namespace lmcache::http
