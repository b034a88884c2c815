#include "http/object_key_json.h"

#include <cmath>

namespace lmcache::http {
namespace json = boost::json;

namespace {

core::ObjectKeyResult failure(std::string field, std::string message) {
  core::ObjectKeyResult result;
  result.error = {std::move(field), std::move(message)};
  return result;
}

// A JSON integer, or an integral float; nullopt otherwise.
std::optional<int64_t> as_integer(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    return value.get_uint64() <= static_cast<uint64_t>(INT64_MAX)
               ? std::optional<int64_t>(static_cast<int64_t>(value.get_uint64()))
               : std::nullopt;
  }
  if (value.is_double()) {
    const double d = value.get_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

}  // namespace

core::ObjectKeyResult decode_object_key(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) return failure("key", "key must be an object");

  auto string_field = [&](const char* name, bool required,
                          std::string_view& out) -> std::optional<core::ObjectKeyResult> {
    const json::value* field = object->if_contains(name);
    if (field == nullptr || (!required && field->is_null())) {
      if (required) return failure(name, std::string(name) + " is required");
      return std::nullopt;
    }
    if (!field->is_string()) return failure(name, std::string(name) + " must be a string");
    out = field->get_string();
    return std::nullopt;
  };
  auto integer_field = [&](const char* name, bool required,
                           int64_t& out) -> std::optional<core::ObjectKeyResult> {
    const json::value* field = object->if_contains(name);
    if (field == nullptr || (!required && field->is_null())) {
      if (required) return failure(name, std::string(name) + " is required");
      return std::nullopt;
    }
    auto number = as_integer(*field);
    if (!number) return failure(name, std::string(name) + " must be an integer");
    out = *number;
    return std::nullopt;
  };

  std::string_view hex;
  std::string_view model;
  std::string_view salt;
  int64_t rank = 0;
  int64_t group = 0;
  if (auto bad = string_field("chunk_hash_hex", true, hex)) return *bad;
  if (auto bad = string_field("model_name", true, model)) return *bad;
  if (auto bad = integer_field("kv_rank", true, rank)) return *bad;
  if (auto bad = integer_field("object_group_id", false, group)) return *bad;
  if (auto bad = string_field("cache_salt", false, salt)) return *bad;
  return core::parse_object_key(hex, model, rank, group, salt);
}

json::object encode_object_key(const core::ObjectKey& key) {
  return json::object{{"chunk_hash_hex", key.chunk_hash_hex()},
                      {"model_name", key.model_name},
                      {"kv_rank", key.kv_rank},
                      {"object_group_id", key.object_group_id},
                      {"cache_salt", key.cache_salt}};
}

}  // namespace lmcache::http
