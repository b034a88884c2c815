#include "wire/quoted_value.h"

#include <boost/json/serialize.hpp>

namespace lmcache::wire {

std::string quote_value(const boost::json::value& value) {
  std::string text = boost::json::serialize(value);
  if (text.size() > kQuotedValueChars) {
    text.resize(kQuotedValueChars);
    text += "...";
  }
  return text;
}

}  // namespace lmcache::wire
