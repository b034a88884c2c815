#pragma once

#include <functional>
#include <string_view>

namespace lmcache::core {

// Hash and equality for string-keyed Boost unordered containers that also
// accept std::string_view and const char* lookups without building a string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct StringEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

}  // namespace lmcache::core
