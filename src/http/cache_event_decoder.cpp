#include "http/cache_event_decoder.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "http/arena_json_body.h"
#include "http/cache_event_fast_decoder.h"
#include "wire/lax_number.h"
#include "wire/object_key_codec.h"
#include "wire/quoted_value.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// First block of a request's storage; later blocks grow geometrically.
constexpr size_t kStorageBlock = size_t{16} * 1024;

// Reads the fields of one batch or entry; the first fault is kept as the batch's error and ends
// the read (later reads return their fallback).
class Reader {
 public:
  // `entry`: the index of the entry read, which names the fields in errors ("entries[3].seq");
  // nullopt for the batch's own fields.
  Reader(const json::object& object, std::optional<size_t> entry, std::optional<std::string>& error)
      : object_(object), entry_(entry), error_(error) {}

  // A string; `fallback` when absent and optional.
  std::string_view string(std::string_view name, std::optional<std::string_view> fallback) {
    const json::value* value = present(name, fallback.has_value());
    if (value == nullptr) return fallback.value_or(std::string_view());
    if (const json::string* text = value->if_string()) return *text;
    fail(fmt::format("{}{} must be a string, got {}", prefix(), name, wire::quote_value(*value)));
    return {};
  }

  // An integer >= `min`; `fallback` when absent and optional.
  int64_t integer(std::string_view name, std::optional<int64_t> fallback, int64_t min) {
    const json::value* value = present(name, fallback.has_value());
    if (value == nullptr) return fallback.value_or(min);
    const wire::LaxInteger number = wire::lax_integer(*value);
    if (!number.ok() || number.value < min) {
      fail(fmt::format("{}{} must be an integer >= {}, got {}", prefix(), name, min,
                       wire::quote_value(*value)));
      return min;
    }
    return number.value;
  }

  // A finite number >= 0; `fallback` when absent.
  double non_negative_number(std::string_view name, double fallback) {
    const json::value* value = present(name, true);
    if (value == nullptr) return fallback;
    const wire::LaxNumber number = wire::lax_number(*value);
    if (!number.ok() || number.value < 0) {
      fail(fmt::format("{}{} must be a number >= 0, got {}", prefix(), name,
                       wire::quote_value(*value)));
      return fallback;
    }
    return number.value;
  }

  bool boolean(std::string_view name, bool fallback) {
    const json::value* value = present(name, true);
    if (value == nullptr) return fallback;
    if (const bool* flag = value->if_bool()) return *flag;
    fail(fmt::format("{}{} must be a boolean, got {}", prefix(), name, wire::quote_value(*value)));
    return fallback;
  }

  // An array; an empty one when absent.
  const json::array* array(std::string_view name) {
    static const json::array kEmpty;
    const json::value* value = present(name, true);
    if (value == nullptr) return &kEmpty;
    if (const json::array* items = value->if_array()) return items;
    fail(fmt::format("{}{} must be a list, got {}", prefix(), name, wire::quote_value(*value)));
    return &kEmpty;
  }

  // The raw value of a present field (nullptr when absent or after a fault).
  const json::value* raw(std::string_view name) { return present(name, true); }

  bool failed() const { return error_.has_value(); }
  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }

 private:
  const json::value* present(std::string_view name, bool optional) {
    if (error_) return nullptr;
    const json::value* value = object_.if_contains(name);
    if (value == nullptr && !optional) fail(fmt::format("{}{} is missing", prefix(), name));
    return value;
  }

  std::string prefix() const {
    return entry_ ? fmt::format("entries[{}].", *entry_) : std::string();
  }

  const json::object& object_;
  std::optional<size_t> entry_;
  std::optional<std::string>& error_;
};

std::optional<core::CacheEventType> event_type(std::string_view name) {
  if (name == "store") return core::CacheEventType::kStore;
  if (name == "delete") return core::CacheEventType::kDelete;
  if (name == "access") return core::CacheEventType::kAccess;
  if (name == "config") return core::CacheEventType::kConfig;
  return std::nullopt;
}

std::optional<core::CacheTier> tier(std::string_view name) {
  if (name == "l1") return core::CacheTier::kL1;
  if (name == "l2") return core::CacheTier::kL2;
  return std::nullopt;
}

// Keeps views of strings that repeat from entry to entry (model names, salts, ids) without a
// copy per entry: a string equal to the last one kept shares its copy.
class RepeatedString {
 public:
  std::string_view keep(std::string_view text, CacheEventRequest& request) {
    if (!has_ || text != last_) {
      last_ = request.keep(text);
      has_ = true;
    }
    return last_;
  }

 private:
  std::string_view last_;
  bool has_ = false;
};

struct RepeatedStrings {
  RepeatedString instance_id;
  RepeatedString backend;
  RepeatedString model;
  RepeatedString salt;
};

// Decodes entry `i` into `out`; returns the reason when it is invalid.
std::optional<std::string> decode_entry(const json::value& item, size_t i,
                                        CacheEventRequest& request, RepeatedStrings& strings,
                                        core::CacheEventEntry& out) {
  const json::object* entry = item.if_object();
  if (entry == nullptr) {
    return fmt::format("entries[{}] must be an object, got {}", i, wire::quote_value(item));
  }
  std::optional<std::string> error;
  Reader fields(*entry, i, error);
  const json::value* key_value = fields.raw("key");
  if (key_value == nullptr) return fmt::format("entries[{}].key is missing", i);
  wire::EncodedObjectKeyView key;
  if (auto key_error = wire::read_object_key(*key_value, key)) {
    return fmt::format("entries[{}].{}", i, key_error->message);
  }
  out.size_bytes = static_cast<uint64_t>(fields.integer("size_bytes", 0, 0));
  out.token_offset = fields.integer("token_offset", -1, -1);
  const json::array* tokens = fields.array("token_ids");
  if (fields.failed()) return error;

  if (!tokens->empty()) {
    int64_t* ids = request.allocate<int64_t>(tokens->size());
    for (size_t t = 0; t < tokens->size(); ++t) {
      const wire::LaxInteger token = wire::lax_integer((*tokens)[t]);
      if (!token.ok()) {
        return fmt::format("entries[{}].token_ids[{}] must be an integer, got {}", i, t,
                           wire::quote_value((*tokens)[t]));
      }
      ids[t] = token.value;
    }
    out.token_ids = {ids, tokens->size()};
  }

  const size_t hash_size = key.chunk_hash_hex.size() / 2;
  unsigned char* hash = request.allocate<unsigned char>(hash_size);
  core::decode_hex_into(key.chunk_hash_hex, hash);  // checked by read_object_key
  out.key = core::ObjectKeyView({reinterpret_cast<const char*>(hash), hash_size},
                                strings.model.keep(key.model_name, request), key.kv_rank,
                                key.object_group_id, strings.salt.keep(key.cache_salt, request));
  return std::nullopt;
}

// Decodes one batch into `out`; returns the reason when it is invalid.
std::optional<std::string> decode_batch(const json::value& item, CacheEventRequest& request,
                                        RepeatedStrings& strings, core::CacheEventBatch& out) {
  const json::object* batch = item.if_object();
  if (batch == nullptr) {
    return fmt::format("batch must be an object, got {}", wire::quote_value(item));
  }
  std::optional<std::string> error;
  Reader fields(*batch, std::nullopt, error);
  const std::string_view instance_id = fields.string("instance_id", std::nullopt);
  if (!fields.failed() && instance_id.empty()) fields.fail("instance_id must not be empty");
  out.incarnation = static_cast<uint64_t>(fields.integer("incarnation", std::nullopt, 0));
  out.seq = static_cast<uint64_t>(fields.integer("seq", std::nullopt, 1));
  const std::string_view type_name = fields.string("event_type", std::nullopt);
  const auto type = event_type(type_name);
  if (!fields.failed() && !type) {
    fields.fail(fmt::format("event_type must be 'store', 'delete', 'access' or 'config', got {}",
                            wire::quote_value(*batch->if_contains("event_type"))));
  }
  const std::string_view tier_name = fields.string("tier", std::nullopt);
  const auto batch_tier = tier(tier_name);
  if (!fields.failed() && !batch_tier) {
    fields.fail(fmt::format("tier must be 'l1' or 'l2', got {}",
                            wire::quote_value(*batch->if_contains("tier"))));
  }
  const std::string_view backend = fields.string("backend", "");
  if (!fields.failed() && backend.empty() && *type != core::CacheEventType::kAccess) {
    fields.fail(fmt::format("backend must not be empty in a {} batch", type_name));
  }
  out.shared = fields.boolean("shared", false);
  out.ts = fields.non_negative_number("ts", 0);
  out.capacity_bytes = static_cast<uint64_t>(fields.integer("capacity_bytes", 0, 0));
  out.capacity_revision = static_cast<uint64_t>(fields.integer("capacity_revision", 0, 0));
  const json::array* entries = fields.array("entries");
  if (fields.failed()) return error;
  if (*type == core::CacheEventType::kConfig && !entries->empty()) {
    return fmt::format("a config batch has no entries, got {}", entries->size());
  }

  out.type = *type;
  out.tier = *batch_tier;
  if (!entries->empty()) {
    core::CacheEventEntry* decoded = request.allocate<core::CacheEventEntry>(entries->size());
    for (size_t i = 0; i < entries->size(); ++i) {
      if (auto entry_error = decode_entry((*entries)[i], i, request, strings, decoded[i])) {
        return entry_error;
      }
    }
    out.entries = {decoded, entries->size()};
  }
  out.instance_id = strings.instance_id.keep(instance_id, request);
  out.backend = strings.backend.keep(backend, request);
  return std::nullopt;
}

}  // namespace

std::pmr::memory_resource& CacheEventRequest::storage() {
  if (!storage_) storage_ = std::make_unique<std::pmr::monotonic_buffer_resource>(kStorageBlock);
  return *storage_;
}

std::string_view CacheEventRequest::keep(std::string_view bytes) {
  if (bytes.empty()) return {};
  char* copy = allocate<char>(bytes.size());
  std::memcpy(copy, bytes.data(), bytes.size());
  return {copy, bytes.size()};
}

std::optional<CacheEventRequest> decode_cache_event_request(std::string_view body,
                                                            ValidationErrors& errors) {
  {
    CacheEventRequest request;
    if (decode_cache_event_request_fast(body, request)) return request;
  }
  return decode_cache_event_request_from_tree(body, errors);
}

std::optional<CacheEventRequest> decode_cache_event_request_from_tree(std::string_view body,
                                                                      ValidationErrors& errors) {
  const ArenaJsonBody parsed(body, errors);
  if (parsed.root() == nullptr) return std::nullopt;
  const json::value& root = *parsed.root();
  const json::object* object = body_object(root, errors);
  if (object == nullptr) return std::nullopt;
  const json::array* batches =
      FieldReader(*object, json::array{"body"}, errors).array("batches", true);
  if (batches == nullptr) return std::nullopt;

  CacheEventRequest request;
  request.batches.reserve(batches->size());
  RepeatedStrings strings;
  for (size_t i = 0; i < batches->size(); ++i) {
    core::CacheEventBatch batch;
    if (auto error = decode_batch((*batches)[i], request, strings, batch)) {
      request.rejected.push_back({i, std::move(*error)});
    } else {
      request.batches.push_back(batch);
    }
  }
  return request;
}

}  // namespace lmcache::http
