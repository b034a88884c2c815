#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace lmcache::http {

// Serializes JSON the way Python's json module prints it, so responses read
// like the original coordinator's: floats in their shortest round-trip form
// with a decimal point ("2.5", "0.0", "1795618885.0535984", "3.814697265625e-06")
// rather than Boost.JSON's exponent form ("2.5E0"). Everything else is
// Boost.JSON's own serialization.
std::string to_json_text(const boost::json::value& value);

}  // namespace lmcache::http
