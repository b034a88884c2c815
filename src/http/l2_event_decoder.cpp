#include "http/l2_event_decoder.h"

#include <fmt/format.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>

#include "http/l2_event_fast_decoder.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// First-chunk size of the per-thread parse arena. A batch of 256 events (~60 KB of JSON) builds
// a tree of roughly 200 KB; larger batches spill into the heap through the monotonic resource.
constexpr size_t kArenaBytes = size_t{512} * 1024;

// First block of a batch's storage: the decoded hashes of ~100 events.
constexpr size_t kStorageBlock = 4096;

// A rejected value is quoted in the error, cut to this many characters.
constexpr size_t kQuotedValueChars = 64;

std::string quote(const json::value& value) {
  std::string text = json::serialize(value);
  if (text.size() > kQuotedValueChars) {
    text.resize(kQuotedValueChars);
    text += "...";
  }
  return text;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// An integer under the API's lax rules (JSON integer, integral float, numeric string); on
// failure sets `error` naming `field`.
std::optional<int64_t> lax_integer(const json::value& value, std::string_view field,
                                   std::string& error) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_double()) {
    const double d = value.get_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9.0e18) {
      return static_cast<int64_t>(d);
    }
  } else if (value.is_string()) {
    const std::string_view text = trim(value.get_string());
    int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return parsed;
  }
  error = fmt::format("{} must be an integer, got {}", field, quote(value));
  return std::nullopt;
}

// A string field of `object`; nullopt with `error` set when missing (and no fallback) or not a
// string. A JSON null takes the fallback, as elsewhere in the API.
std::optional<std::string_view> string_field(const json::object& object, std::string_view name,
                                             std::string_view label,
                                             std::optional<std::string_view> fallback,
                                             std::string& error) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || (fallback && value->is_null())) {
    if (fallback) return fallback;
    error = fmt::format("{} is missing", label);
    return std::nullopt;
  }
  if (const json::string* text = value->if_string()) return std::string_view(*text);
  error = fmt::format("{} must be a string, got {}", label, quote(*value));
  return std::nullopt;
}

// An integer field of `object`, like string_field.
std::optional<int64_t> integer_field(const json::object& object, std::string_view name,
                                     std::string_view label, std::optional<int64_t> fallback,
                                     std::string& error) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || (fallback && value->is_null())) {
    if (fallback) return fallback;
    error = fmt::format("{} is missing", label);
    return std::nullopt;
  }
  return lax_integer(*value, label, error);
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
  if (event == nullptr) return fmt::format("event must be an object, got {}", quote(item));

  std::string error;
  const auto type_name = string_field(*event, "type", "type", std::nullopt, error);
  if (!type_name) return error;
  const auto type = event_type(*type_name);
  if (!type) {
    return fmt::format("type must be 'store', 'lookup' or 'delete', got {}",
                       quote(*event->if_contains("type")));
  }

  const json::value* key_value = event->if_contains("key");
  if (key_value == nullptr) return std::string("key is missing");
  const json::object* key = key_value->if_object();
  if (key == nullptr) return fmt::format("key must be an object, got {}", quote(*key_value));

  const auto hash = string_field(*key, "chunk_hash_hex", "key.chunk_hash_hex", std::nullopt, error);
  if (!hash) return error;
  const auto model = string_field(*key, "model_name", "key.model_name", std::nullopt, error);
  if (!model) return error;
  const auto rank = integer_field(*key, "kv_rank", "key.kv_rank", std::nullopt, error);
  if (!rank) return error;
  const auto group = integer_field(*key, "object_group_id", "key.object_group_id", 0, error);
  if (!group) return error;
  const auto salt = string_field(*key, "cache_salt", "key.cache_salt", "", error);
  if (!salt) return error;
  const auto bytes = integer_field(*event, "bytes", "bytes", 0, error);
  if (!bytes) return error;
  if (*bytes < 0) return fmt::format("bytes must be >= 0, got {}", *bytes);

  core::ObjectKeyResult parsed = core::parse_object_key(*hash, *model, *rank, *group, *salt);
  if (!parsed.ok()) return "invalid key: " + parsed.error.message;
  const core::ObjectKey& valid = *parsed.key;
  out.type = *type;
  out.key = core::ObjectKeyView(batch.keep(valid.chunk_hash), batch.keep(valid.model_name),
                                valid.kv_rank, valid.object_group_id, batch.keep(valid.cache_salt));
  out.bytes = static_cast<uint64_t>(*bytes);
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

// Per-thread parse state: an arena for the tree and a parser whose internal stack keeps its
// capacity between requests.
struct ParseState {
  std::unique_ptr<unsigned char[]> arena{new unsigned char[kArenaBytes]};
  json::parser parser{json::storage_ptr(), parse_options()};

  static json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 64;
    return options;
  }
};

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
  thread_local ParseState state;
  json::monotonic_resource arena(state.arena.get(), kArenaBytes);
  json::parser& parser = state.parser;
  parser.reset(json::storage_ptr(&arena));

  boost::system::error_code ec;
  parser.write(body.data(), body.size(), ec);
  if (ec) {
    // Let the shared helper describe the failure (empty body, offset, extra data) in the same
    // shape as every other route; this re-parse only happens for malformed bodies.
    parser.reset();
    parse_json_body(body, errors);
    if (errors.empty()) errors.add("json_invalid", json::array{"body", 0}, "JSON decode error", {});
    return std::nullopt;
  }
  const json::value root = parser.release();
  parser.reset();  // drop the parser's reference to this call's arena

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
