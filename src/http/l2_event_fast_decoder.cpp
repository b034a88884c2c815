#include "http/l2_event_fast_decoder.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "core/object_key.h"
#include "http/recent_strings.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace {

namespace json = boost::json;
using error_code = boost::system::error_code;

// Fields the fast path reads; every other name is skipped.
enum class Field : uint8_t {
  kUnknown,
  // root
  kInstanceId,
  kSeq,
  kEvents,
  // event
  kType,
  kKey,
  kBytes,
  // key
  kChunkHashHex,
  kModelName,
  kKvRank,
  kObjectGroupId,
  kCacheSalt,
};

// Where the parser is, as far as the fast path cares.
enum class Where : uint8_t { kDocument, kRoot, kEvents, kEvent, kKey, kDone };

Field root_field(std::string_view name) {
  if (name == "instance_id") return Field::kInstanceId;
  if (name == "seq") return Field::kSeq;
  if (name == "events") return Field::kEvents;
  return Field::kUnknown;
}

Field event_field(std::string_view name) {
  if (name == "type") return Field::kType;
  if (name == "key") return Field::kKey;
  if (name == "bytes") return Field::kBytes;
  return Field::kUnknown;
}

Field key_field(std::string_view name) {
  if (name == wire::kChunkHashHexField) return Field::kChunkHashHex;
  if (name == wire::kModelNameField) return Field::kModelName;
  if (name == wire::kKvRankField) return Field::kKvRank;
  if (name == wire::kObjectGroupIdField) return Field::kObjectGroupId;
  if (name == wire::kCacheSaltField) return Field::kCacheSalt;
  return Field::kUnknown;
}

// The basic_parser handler. Every callback returns false (with `ec` set) to leave the fast path;
// the general decoder then starts over, so no callback needs to say why.
class Handler {
 public:
  static constexpr size_t max_object_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_array_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_key_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_string_size = std::numeric_limits<size_t>::max();

  // Starts a new document decoded into `out`.
  void reset(L2EventBatch* out) {
    out_ = out;
    where_ = Where::kDocument;
    skip_depth_ = 0;
    pending_ = Field::kUnknown;
    root_seen_ = 0;
    seq_ = 0;
    models_.reset();
    salts_.reset();
    name_.clear();  // a parse that left the fast path may have stopped inside a string
    text_.clear();
  }

  // True when the document ended with every required root field present.
  bool complete() const {
    return where_ == Where::kDone && has(root_seen_, Field::kInstanceId) &&
           has(root_seen_, Field::kSeq) && has(root_seen_, Field::kEvents);
  }

  uint64_t seq() const { return seq_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code& ec) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    switch (where_) {
      case Where::kDocument:
        where_ = Where::kRoot;
        return true;
      case Where::kEvents:
        where_ = Where::kEvent;
        event_seen_ = 0;
        event_ = core::L2Event{};
        return true;
      case Where::kEvent:
        if (pending_ == Field::kKey) {
          where_ = Where::kKey;
          key_seen_ = 0;
          return true;
        }
        break;
      default:
        break;
    }
    return skip_or_leave(ec);
  }

  bool on_object_end(size_t, error_code& ec) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    switch (where_) {
      case Where::kRoot:
        where_ = Where::kDone;
        return true;
      case Where::kEvent:
        where_ = Where::kEvents;
        return finish_event(ec);
      case Where::kKey:
        where_ = Where::kEvent;
        // chunk_hash_hex, model_name and kv_rank have no default.
        if (!has(key_seen_, Field::kChunkHashHex) || !has(key_seen_, Field::kModelName) ||
            !has(key_seen_, Field::kKvRank)) {
          return leave(ec);
        }
        return true;
      default:
        return leave(ec);
    }
  }

  bool on_array_begin(error_code& ec) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (where_ == Where::kRoot && pending_ == Field::kEvents) {
      where_ = Where::kEvents;
      return true;
    }
    return skip_or_leave(ec);
  }

  bool on_array_end(size_t, error_code& ec) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    if (where_ != Where::kEvents) return leave(ec);
    where_ = Where::kRoot;
    return true;
  }

  bool on_key_part(json::string_view part, size_t, error_code&) {
    if (skip_depth_ == 0) name_.append(part.data(), part.size());
    return true;
  }

  bool on_key(json::string_view last, size_t, error_code& ec) {
    if (skip_depth_ > 0) return true;
    std::string_view name(last.data(), last.size());
    if (!name_.empty()) {
      name_.append(last.data(), last.size());
      name = name_;
    }
    uint32_t* seen = nullptr;
    switch (where_) {
      case Where::kRoot:
        pending_ = root_field(name);
        seen = &root_seen_;
        break;
      case Where::kEvent:
        pending_ = event_field(name);
        seen = &event_seen_;
        break;
      case Where::kKey:
        pending_ = key_field(name);
        seen = &key_seen_;
        break;
      default:
        return leave(ec);
    }
    name_.clear();
    if (pending_ == Field::kUnknown) return true;
    // A repeated field: the general decoder knows which occurrence wins.
    if (has(*seen, pending_)) return leave(ec);
    *seen |= bit(pending_);
    return true;
  }

  bool on_string_part(json::string_view part, size_t, error_code&) {
    if (skip_depth_ == 0 && pending_ != Field::kUnknown) text_.append(part.data(), part.size());
    return true;
  }

  bool on_string(json::string_view last, size_t, error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (where_ == Where::kEvents) return leave(ec);  // an event that is not an object
    std::string_view value(last.data(), last.size());
    if (!text_.empty()) {
      text_.append(last.data(), last.size());
      value = text_;
    }
    const bool ok = take_string(value);
    text_.clear();
    return ok || leave(ec);
  }

  bool on_number_part(json::string_view, error_code&) { return true; }

  bool on_int64(int64_t value, json::string_view, error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (where_ == Where::kEvents) return leave(ec);
    return take_integer(value) || leave(ec);
  }

  // Integers beyond int64, floats, booleans and nulls are never a valid value of a field the
  // fast path reads (a float or null may be under the lax rules: the general decoder decides).
  bool on_uint64(uint64_t, json::string_view, error_code& ec) { return other_scalar(ec); }
  bool on_double(double, json::string_view, error_code& ec) { return other_scalar(ec); }
  bool on_bool(bool, error_code& ec) { return other_scalar(ec); }
  bool on_null(error_code& ec) { return other_scalar(ec); }

  bool on_comment_part(json::string_view, error_code& ec) { return leave(ec); }
  bool on_comment(json::string_view, error_code& ec) { return leave(ec); }

 private:
  static uint32_t bit(Field field) { return 1u << static_cast<unsigned>(field); }
  static bool has(uint32_t seen, Field field) { return (seen & bit(field)) != 0; }

  static bool leave(error_code& ec) {
    ec = boost::system::errc::make_error_code(boost::system::errc::not_supported);
    return false;
  }

  // An object or array as a field value: skipped when the field is unknown.
  bool skip_or_leave(error_code& ec) {
    if (where_ == Where::kEvents || where_ == Where::kDocument || where_ == Where::kDone ||
        pending_ != Field::kUnknown) {
      return leave(ec);
    }
    skip_depth_ = 1;
    return true;
  }

  bool other_scalar(error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (where_ == Where::kEvents || pending_ != Field::kUnknown) return leave(ec);
    return true;
  }

  bool take_string(std::string_view value) {
    switch (pending_) {
      case Field::kUnknown:
        return true;
      case Field::kInstanceId:
        if (value.empty()) return false;
        out_->instance_id.assign(value.data(), value.size());
        return true;
      case Field::kType:
        if (value == "store") {
          event_.type = core::L2EventType::kStore;
        } else if (value == "lookup") {
          event_.type = core::L2EventType::kLookup;
        } else if (value == "delete") {
          event_.type = core::L2EventType::kDelete;
        } else {
          return false;
        }
        return true;
      case Field::kChunkHashHex: {
        unsigned char* bytes = out_->allocate(value.size() / 2);
        if (!core::decode_hex_into(value, bytes)) return false;
        event_.key.chunk_hash = {reinterpret_cast<const char*>(bytes), value.size() / 2};
        return true;
      }
      case Field::kModelName:
        // Consecutive events nearly always share a model and one of a few salts: each is
        // checked and copied once.
        return models_.keep(
            value, *out_, [](std::string_view text) { return !core::check_model_name(text); },
            event_.key.model_name);
      case Field::kCacheSalt:
        return salts_.keep(
            value, *out_, [](std::string_view text) { return !core::check_cache_salt(text); },
            event_.key.cache_salt);
      default:
        return false;  // a string where an integer belongs: lax rules, not ours
    }
  }

  bool take_integer(int64_t value) {
    switch (pending_) {
      case Field::kUnknown:
        return true;
      case Field::kSeq:
        if (value < 1) return false;
        seq_ = static_cast<uint64_t>(value);
        return true;
      case Field::kBytes:
        if (value < 0) return false;
        event_.bytes = static_cast<uint64_t>(value);
        return true;
      case Field::kKvRank:
        if (value < core::kMinWireKvRank || value > core::kMaxWireKvRank) return false;
        event_.key.kv_rank = core::kv_rank_from_wire(value);
        return true;
      case Field::kObjectGroupId:
        if (value < 0 || value > std::numeric_limits<uint32_t>::max()) return false;
        event_.key.object_group_id = static_cast<uint32_t>(value);
        return true;
      default:
        return false;
    }
  }

  bool finish_event(error_code& ec) {
    if (!has(event_seen_, Field::kType) || !has(event_seen_, Field::kKey)) return leave(ec);
    // A store without bytes is rejected; the general decoder words it.
    if (event_.type == core::L2EventType::kStore && !has(event_seen_, Field::kBytes)) {
      return leave(ec);
    }
    out_->events.push_back(event_);
    return true;
  }

  L2EventBatch* out_ = nullptr;
  Where where_ = Where::kDocument;
  size_t skip_depth_ = 0;            // > 0 inside a value that is skipped: its nesting depth
  Field pending_ = Field::kUnknown;  // the field whose value comes next
  uint32_t root_seen_ = 0;           // bit(field) of the fields seen in the current object
  uint32_t event_seen_ = 0;
  uint32_t key_seen_ = 0;
  uint64_t seq_ = 0;
  core::L2Event event_;   // the event being read
  RecentStrings models_;  // in out_'s storage, already checked
  RecentStrings salts_;
  std::string name_;  // a key that arrived in parts
  std::string text_;  // a string value that arrived in parts
};

json::parse_options parse_options() {
  json::parse_options options;
  options.max_depth = 64;  // as the general decoder
  return options;
}

}  // namespace

bool decode_l2_event_batch_fast(std::string_view body, L2EventBatch& out) {
  // One parser per thread: its stack and the handler's buffers keep their capacity.
  thread_local json::basic_parser<Handler> parser(parse_options());
  parser.reset();
  Handler& handler = parser.handler();
  handler.reset(&out);
  out.events.reserve(body.size() / 160 + 1);  // a typical event is ~220 bytes of JSON

  error_code ec;
  const size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (ec || used != body.size() || !handler.complete()) return false;
  out.seq = handler.seq();
  return true;
}

}  // namespace lmcache::http
