// A JSON value quoted in an error message.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>

namespace lmcache::wire {

// A rejected value is quoted in an error cut to this many characters.
inline constexpr size_t kQuotedValueChars = 64;

// `value` as compact JSON, cut to kQuotedValueChars characters followed by "..." when longer, so
// an error that quotes what was sent stays one short line whatever was sent.
std::string quote_value(const boost::json::value& value);

}  // namespace lmcache::wire
