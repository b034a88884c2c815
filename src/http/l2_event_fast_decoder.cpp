#include "http/l2_event_fast_decoder.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>
#include <string_view>

#include "core/l2_accounting.h"
#include "http/sax_fast_path.h"

namespace lmcache::http {
namespace {

namespace json = boost::json;

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
enum class Where : uint8_t { kDocument, kRoot, kEvents, kEvent, kDone };

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

// The basic_parser handler: the batch's own fields here, the rest (keys included) in
// SaxFastPath.
class Handler : public SaxFastPath<Handler, Field> {
 public:
  // Starts a new document decoded into `out`.
  void reset(L2EventBatch* out) {
    out_ = out;
    where_ = Where::kDocument;
    reset_parse();
    root_seen_ = 0;
    seq_ = 0;
  }

  // True when the document ended with every required root field present.
  bool complete() const {
    return where_ == Where::kDone && has(root_seen_, Field::kInstanceId) &&
           has(root_seen_, Field::kSeq) && has(root_seen_, Field::kEvents);
  }

  uint64_t seq() const { return seq_; }

 private:
  friend class SaxFastPath<Handler, Field>;

  bool enter_object() {
    switch (where_) {
      case Where::kDocument:
        where_ = Where::kRoot;
        return true;
      case Where::kEvents:
        where_ = Where::kEvent;
        event_seen_ = 0;
        event_ = core::L2Event{};
        return true;
      default:
        return false;
    }
  }

  bool leave_object() {
    switch (where_) {
      case Where::kRoot:
        where_ = Where::kDone;
        return true;
      case Where::kEvent:
        where_ = Where::kEvents;
        return finish_event();
      default:
        return false;
    }
  }

  bool enter_array() {
    if (where_ != Where::kRoot || pending_ != Field::kEvents) return false;
    where_ = Where::kEvents;
    return true;
  }

  bool leave_array() {
    if (where_ != Where::kEvents) return false;
    where_ = Where::kRoot;
    return true;
  }

  uint32_t* fields_of(std::string_view name) {
    switch (where_) {
      case Where::kRoot:
        pending_ = root_field(name);
        return &root_seen_;
      case Where::kEvent:
        pending_ = event_field(name);
        return &event_seen_;
      default:
        return nullptr;
    }
  }

  core::ObjectKeyView* key_target() { return where_ == Where::kEvent ? &event_.key : nullptr; }
  auto& string_storage() { return *out_; }
  unsigned char* allocate_bytes(size_t size) { return out_->allocate(size); }

  bool in_list() const { return where_ == Where::kEvents; }
  bool outside() const { return where_ == Where::kDocument || where_ == Where::kDone; }

  bool take_string(std::string_view value) {
    switch (pending_) {
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
      default:
        return false;  // a string where another type belongs: lax rules, not ours
    }
  }

  bool take_integer(int64_t value) {
    switch (pending_) {
      case Field::kSeq:
        if (value < 1) return false;
        seq_ = static_cast<uint64_t>(value);
        return true;
      case Field::kBytes:
        if (value < 0) return false;
        event_.bytes = static_cast<uint64_t>(value);
        return true;
      default:
        return false;
    }
  }

  bool finish_event() const {
    if (!has(event_seen_, Field::kType) || !has(event_seen_, Field::kKey)) return false;
    // A store without bytes is rejected; the general decoder words it.
    if (event_.type == core::L2EventType::kStore && !has(event_seen_, Field::kBytes)) {
      return false;
    }
    out_->events.push_back(event_);
    return true;
  }

  L2EventBatch* out_ = nullptr;
  Where where_ = Where::kDocument;
  uint32_t root_seen_ = 0;  // bit(field) of the fields seen in the current object
  uint32_t event_seen_ = 0;
  uint64_t seq_ = 0;
  core::L2Event event_;  // the event being read
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

  boost::system::error_code ec;
  const size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (ec || used != body.size() || !handler.complete()) return false;
  out.seq = handler.seq();
  return true;
}

}  // namespace lmcache::http
