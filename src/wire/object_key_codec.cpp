#include "wire/object_key_codec.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>

#include "wire/lax_number.h"
#include "wire/quoted_value.h"

namespace lmcache::wire {
namespace json = boost::json;

namespace {

core::ObjectKeyResult failure(std::string_view field, std::string message) {
  core::ObjectKeyResult result;
  result.error = {std::string(field), std::move(message)};
  return result;
}

// Reads the fields of one key object; the first fault found ends the read.
class KeyFields {
 public:
  explicit KeyFields(const json::object& object) : object_(object) {}

  // A string field; `fallback` for an optional one, taken when it is absent or null.
  std::string_view string(std::string_view name, std::optional<std::string_view> fallback) {
    const json::value* value = present(name, fallback.has_value());
    if (value == nullptr) return fallback.value_or(std::string_view());
    if (const json::string* text = value->if_string()) return *text;
    fail(name, fmt::format("key.{} must be a string, got {}", name, quote_value(*value)));
    return {};
  }

  // An integer field, like string().
  int64_t integer(std::string_view name, std::optional<int64_t> fallback) {
    const json::value* value = present(name, fallback.has_value());
    if (value == nullptr) return fallback.value_or(0);
    const LaxInteger number = lax_integer(*value);
    if (number.ok()) return number.value;
    fail(name, fmt::format("key.{} must be an integer, got {}", name, quote_value(*value)));
    return 0;
  }

  // The first fault, if any.
  std::optional<core::ObjectKeyResult>& failed() { return failed_; }

 private:
  // The field's value; nullptr when it is absent (or null and optional), or after a fault.
  const json::value* present(std::string_view name, bool optional) {
    if (failed_) return nullptr;
    const json::value* value = object_.if_contains(name);
    if (value == nullptr && !optional) fail(name, fmt::format("key.{} is missing", name));
    if (value != nullptr && optional && value->is_null()) return nullptr;
    return value;
  }

  void fail(std::string_view field, std::string message) {
    if (!failed_) failed_ = failure(field, std::move(message));
  }

  const json::object& object_;
  std::optional<core::ObjectKeyResult> failed_;
};

}  // namespace

std::optional<core::ObjectKeyError> read_object_key(const json::value& value,
                                                    EncodedObjectKeyView& out) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    return failure("key", fmt::format("key must be an object, got {}", quote_value(value))).error;
  }
  KeyFields fields(*object);
  const std::string_view hash = fields.string(kChunkHashHexField, std::nullopt);
  const std::string_view model = fields.string(kModelNameField, std::nullopt);
  const int64_t rank = fields.integer(kKvRankField, std::nullopt);
  const int64_t group = fields.integer(kObjectGroupIdField, 0);
  const std::string_view salt = fields.string(kCacheSaltField, "");
  if (fields.failed()) return std::move(fields.failed()->error);

  if (auto error = core::check_object_key(hash, model, rank, group, salt)) {
    error->message = "invalid key: " + error->message;
    return error;
  }
  out = {hash, model, core::kv_rank_from_wire(rank), static_cast<uint32_t>(group), salt};
  return std::nullopt;
}

core::ObjectKeyResult decode_object_key(const json::value& value) {
  EncodedObjectKeyView view;
  core::ObjectKeyResult result;
  if (auto error = read_object_key(value, view)) {
    result.error = std::move(*error);
    return result;
  }
  result.key = core::ObjectKey{*core::decode_hex(view.chunk_hash_hex), std::string(view.model_name),
                               view.kv_rank, view.object_group_id, std::string(view.cache_salt)};
  return result;
}

json::object encode_object_key(const core::ObjectKeyView& key) {
  json::object out;
  out.reserve(5);
  out.emplace(kChunkHashHexField, core::encode_hex(key.chunk_hash));
  out.emplace(kModelNameField, key.model_name);
  out.emplace(kKvRankField, core::kv_rank_to_wire(key.kv_rank));
  out.emplace(kObjectGroupIdField, key.object_group_id);
  out.emplace(kCacheSaltField, key.cache_salt);
  return out;
}

}  // namespace lmcache::wire
