#include "http/l2_event_decoder.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "http/arena_json_body.h"
#include "http/l2_event_fast_decoder.h"
#include "wire/lax_number.h"
#include "wire/object_key_codec.h"
#include "wire/quoted_value.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// First block of a batch's storage: the decoded hashes of ~100 events.
constexpr size_t kStorageBlock = 4096;

// A string field of `object`; nullopt with `error` set when missing or not a string.
std::optional<std::string_view> string_field(const json::object& object, std::string_view name,
                                             std::string& error) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) {
    error = fmt::format("{} is missing", name);
    return std::nullopt;
  }
  if (const json::string* text = value->if_string()) return std::string_view(*text);
  error = fmt::format("{} must be a string, got {}", name, wire::quote_value(*value));
  return std::nullopt;
}

// The event's `bytes`: required for a store (a store must say what it adds), optional for
// lookup and delete (absent or null: 0), an integer >= 0 under the lax rules when given.
std::optional<uint64_t> event_bytes(const json::object& event, core::L2EventType type,
                                    std::string& error) {
  const json::value* value = event.if_contains("bytes");
  if (type != core::L2EventType::kStore && (value == nullptr || value->is_null())) return 0;
  if (value == nullptr) {
    error = "bytes is missing; a store must give its size";
    return std::nullopt;
  }
  const wire::LaxInteger bytes = wire::lax_integer(*value);
  if (!bytes.ok()) {
    error = fmt::format("bytes must be an integer, got {}", wire::quote_value(*value));
    return std::nullopt;
  }
  if (bytes.value < 0) {
    error = fmt::format("bytes must be >= 0, got {}", bytes.value);
    return std::nullopt;
  }
  return static_cast<uint64_t>(bytes.value);
}

std::optional<core::L2EventType> event_type(std::string_view name) {
  if (name == "store") return core::L2EventType::kStore;
  if (name == "lookup") return core::L2EventType::kLookup;
  if (name == "delete") return core::L2EventType::kDelete;
  return std::nullopt;
}

// Decodes one event into `out`, its strings kept in `batch`; returns the reason when it is
// invalid.
std::optional<std::string> decode_event(const json::value& item, L2EventBatch& batch,
                                        core::L2Event& out) {
  const json::object* event = item.if_object();
  if (event == nullptr) {
    return fmt::format("event must be an object, got {}", wire::quote_value(item));
  }

  std::string error;
  const auto type_name = string_field(*event, "type", error);
  if (!type_name) return error;
  const auto type = event_type(*type_name);
  if (!type) {
    return fmt::format("type must be 'store', 'lookup' or 'delete', got {}",
                       wire::quote_value(*event->if_contains("type")));
  }

  const json::value* key_value = event->if_contains("key");
  if (key_value == nullptr) return std::string("key is missing");
  core::ObjectKeyResult key = wire::decode_object_key(*key_value);
  if (!key.ok()) return std::move(key.error.message);
  const auto bytes = event_bytes(*event, *type, error);
  if (!bytes) return error;

  const core::ObjectKey& valid = *key.key;
  out.type = *type;
  out.key = core::ObjectKeyView(batch.keep(valid.chunk_hash), batch.keep(valid.model_name),
                                valid.kv_rank, valid.object_group_id, batch.keep(valid.cache_salt));
  out.bytes = *bytes;
  return std::nullopt;
}

// Batch-level fields; false (with errors added) when any is invalid.
bool decode_envelope(const json::object& body, ValidationErrors& errors, L2EventBatch& batch,
                     const json::array*& events) {
  FieldReader fields(body, json::array{"body"}, errors);
  auto instance_id = fields.string("instance_id");
  auto seq = fields.integer("seq", std::nullopt, 1);
  events = fields.array("events", true);
  if (instance_id && instance_id->empty()) {
    errors.add("string_too_short", fields.loc("instance_id"),
               "String should have at least 1 character", *fields.raw("instance_id"),
               json::object{{"min_length", 1}});
  }
  if (!errors.empty()) return false;
  batch.instance_id = std::move(*instance_id);
  batch.seq = static_cast<uint64_t>(*seq);
  return true;
}

}  // namespace

unsigned char* L2EventBatch::allocate(size_t size) {
  if (!storage_) storage_ = std::make_unique<std::pmr::monotonic_buffer_resource>(kStorageBlock);
  return static_cast<unsigned char*>(storage_->allocate(size, 1));
}

std::string_view L2EventBatch::keep(std::string_view bytes) {
  if (bytes.empty()) return {};
  unsigned char* copy = allocate(bytes.size());
  std::memcpy(copy, bytes.data(), bytes.size());
  return {reinterpret_cast<const char*>(copy), bytes.size()};
}

std::optional<L2EventBatch> decode_l2_event_batch(std::string_view body, ValidationErrors& errors) {
  {
    L2EventBatch batch;
    if (decode_l2_event_batch_fast(body, batch)) return batch;
  }
  return decode_l2_event_batch_from_tree(body, errors);
}

std::optional<L2EventBatch> decode_l2_event_batch_from_tree(std::string_view body,
                                                            ValidationErrors& errors) {
  const ArenaJsonBody parsed(body, errors);
  if (parsed.root() == nullptr) return std::nullopt;
  const json::value& root = *parsed.root();
  const json::object* object = body_object(root, errors);
  if (object == nullptr) return std::nullopt;
  L2EventBatch batch;
  const json::array* events = nullptr;
  if (!decode_envelope(*object, errors, batch, events)) return std::nullopt;

  batch.events.reserve(events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    core::L2Event event;
    if (auto error = decode_event((*events)[i], batch, event)) {
      batch.rejected.push_back({i, std::move(*error)});
    } else {
      batch.events.push_back(event);
    }
  }
  return batch;
}

}  // namespace lmcache::http
