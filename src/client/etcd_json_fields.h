// Reading fields of the etcd v3 JSON gateway's answers: the proto3 JSON mapping writes int64s as
// strings and leaves out fields that hold their default, so every reader here has a default.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmcache::client::etcd_json {

// An int64 field, written as a string ("5") and accepted either way; absent or unreadable: 0.
inline int64_t int_field(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->get_uint64());
  if (const boost::json::string* text = value->if_string()) {
    int64_t out = 0;
    std::from_chars(text->data(), text->data() + text->size(), out);
    return out;
  }
  return 0;
}

// An object field, or null when absent or not an object.
inline const boost::json::object* object_field(const boost::json::object& object,
                                               std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  return value != nullptr ? value->if_object() : nullptr;
}

// A bool field; absent or not a bool: false.
inline bool bool_field(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  return value != nullptr && value->is_bool() && value->get_bool();
}

// A string field; absent or not a string: empty.
inline std::string string_field(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

}  // namespace lmcache::client::etcd_json
