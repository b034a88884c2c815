#include "http/cache_event_fast_decoder.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/object_key.h"
#include "http/recent_strings.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace {

namespace json = boost::json;
using error_code = boost::system::error_code;

// Fields the fast path reads; every other name is skipped. At most 32 (a bit set per object).
enum class Field : uint8_t {
  kUnknown,
  // root
  kBatches,
  // batch
  kInstanceId,
  kIncarnation,
  kSeq,
  kEventType,
  kTier,
  kBackend,
  kShared,
  kTs,
  kCapacityBytes,
  kCapacityRevision,
  kEntries,
  // entry
  kKey,
  kSizeBytes,
  kTokenIds,
  kTokenOffset,
  // key
  kChunkHashHex,
  kModelName,
  kKvRank,
  kObjectGroupId,
  kCacheSalt,
};

// Where the parser is, as far as the fast path cares.
enum class Where : uint8_t {
  kDocument,
  kRoot,
  kBatches,
  kBatch,
  kEntries,
  kEntry,
  kKey,
  kTokens,
  kDone,
};

Field batch_field(std::string_view name) {
  switch (name.size()) {
    case 2:
      if (name == "ts") return Field::kTs;
      break;
    case 3:
      if (name == "seq") return Field::kSeq;
      break;
    case 4:
      if (name == "tier") return Field::kTier;
      break;
    case 6:
      if (name == "shared") return Field::kShared;
      break;
    case 7:
      if (name == "backend") return Field::kBackend;
      if (name == "entries") return Field::kEntries;
      break;
    case 10:
      if (name == "event_type") return Field::kEventType;
      break;
    case 11:
      if (name == "instance_id") return Field::kInstanceId;
      if (name == "incarnation") return Field::kIncarnation;
      break;
    case 14:
      if (name == "capacity_bytes") return Field::kCapacityBytes;
      break;
    case 17:
      if (name == "capacity_revision") return Field::kCapacityRevision;
      break;
    default:
      break;
  }
  return Field::kUnknown;
}

Field entry_field(std::string_view name) {
  if (name == "key") return Field::kKey;
  if (name == "size_bytes") return Field::kSizeBytes;
  if (name == "token_ids") return Field::kTokenIds;
  if (name == "token_offset") return Field::kTokenOffset;
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
// the tree decoder then starts over, so no callback needs to say why.
class Handler {
 public:
  static constexpr size_t max_object_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_array_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_key_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_string_size = std::numeric_limits<size_t>::max();

  // Starts a new document decoded into `out`.
  void reset(CacheEventRequest* out) {
    out_ = out;
    where_ = Where::kDocument;
    skip_depth_ = 0;
    pending_ = Field::kUnknown;
    root_seen_ = 0;
    instance_id_.reset();
    backend_.reset();
    model_.reset();
    salt_.reset();
    name_.clear();  // a parse that left the fast path may have stopped inside a string
    text_.clear();
  }

  // True when the document ended with its `batches` list.
  bool complete() const { return where_ == Where::kDone && has(root_seen_, Field::kBatches); }

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
      case Where::kBatches:
        where_ = Where::kBatch;
        batch_seen_ = 0;
        batch_ = core::CacheEventBatch{};
        entries_.clear();
        return true;
      case Where::kEntries:
        where_ = Where::kEntry;
        entry_seen_ = 0;
        entry_ = core::CacheEventEntry{};
        return true;
      case Where::kEntry:
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
      case Where::kBatch:
        where_ = Where::kBatches;
        return finish_batch() || leave(ec);
      case Where::kEntry:
        where_ = Where::kEntries;
        if (!has(entry_seen_, Field::kKey)) return leave(ec);
        entries_.push_back(entry_);
        return true;
      case Where::kKey:
        where_ = Where::kEntry;
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
    if (where_ == Where::kRoot && pending_ == Field::kBatches) {
      where_ = Where::kBatches;
      return true;
    }
    if (where_ == Where::kBatch && pending_ == Field::kEntries) {
      where_ = Where::kEntries;
      return true;
    }
    if (where_ == Where::kEntry && pending_ == Field::kTokenIds) {
      where_ = Where::kTokens;
      tokens_.clear();
      return true;
    }
    return skip_or_leave(ec);
  }

  bool on_array_end(size_t, error_code& ec) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    switch (where_) {
      case Where::kBatches:
        where_ = Where::kRoot;
        return true;
      case Where::kEntries:
        where_ = Where::kBatch;
        return true;
      case Where::kTokens:
        where_ = Where::kEntry;
        if (!tokens_.empty()) {
          int64_t* ids = out_->allocate<int64_t>(tokens_.size());
          std::copy(tokens_.begin(), tokens_.end(), ids);
          entry_.token_ids = {ids, tokens_.size()};
        }
        return true;
      default:
        return leave(ec);
    }
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
        pending_ = name == "batches" ? Field::kBatches : Field::kUnknown;
        seen = &root_seen_;
        break;
      case Where::kBatch:
        pending_ = batch_field(name);
        seen = &batch_seen_;
        break;
      case Where::kEntry:
        pending_ = entry_field(name);
        seen = &entry_seen_;
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
    // A repeated field: the tree decoder knows which occurrence wins.
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
    if (in_list()) return leave(ec);  // a batch, entry or token that is a string
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
    if (where_ == Where::kTokens) {
      tokens_.push_back(value);
      return true;
    }
    if (in_list()) return leave(ec);
    return take_integer(value) || leave(ec);
  }

  // Beyond int64: only ts takes it (any JSON number is a number).
  bool on_uint64(uint64_t value, json::string_view, error_code& ec) {
    if (skip_depth_ == 0 && where_ == Where::kBatch && pending_ == Field::kTs) {
      batch_.ts = static_cast<double>(value);
      return true;
    }
    return other_scalar(ec);
  }

  // A float is only ever a valid ts here (an integral float elsewhere is a lax value: the tree
  // decoder decides).
  bool on_double(double value, json::string_view, error_code& ec) {
    if (skip_depth_ == 0 && where_ == Where::kBatch && pending_ == Field::kTs) {
      if (!std::isfinite(value) || value < 0) return leave(ec);
      batch_.ts = value;
      return true;
    }
    return other_scalar(ec);
  }

  bool on_bool(bool value, error_code& ec) {
    if (skip_depth_ == 0 && where_ == Where::kBatch && pending_ == Field::kShared) {
      batch_.shared = value;
      return true;
    }
    return other_scalar(ec);
  }

  // A null is no field's value (the tree decoder gives some keys' fields their default).
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

  // Inside a list the fast path reads, where every item is a batch, an entry or a token.
  bool in_list() const {
    return where_ == Where::kBatches || where_ == Where::kEntries || where_ == Where::kTokens;
  }

  // An object or array as a field value: skipped when the field is unknown.
  bool skip_or_leave(error_code& ec) {
    if (in_list() || where_ == Where::kDocument || where_ == Where::kDone ||
        pending_ != Field::kUnknown) {
      return leave(ec);
    }
    skip_depth_ = 1;
    return true;
  }

  bool other_scalar(error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (in_list() || pending_ != Field::kUnknown) return leave(ec);
    return true;
  }

  bool take_string(std::string_view value) {
    const auto any = [](std::string_view) { return true; };
    switch (pending_) {
      case Field::kUnknown:
        return true;
      case Field::kInstanceId:
        return !value.empty() && instance_id_.keep(value, *out_, any, batch_.instance_id);
      case Field::kEventType:
        if (value == "store") {
          batch_.type = core::CacheEventType::kStore;
        } else if (value == "access") {
          batch_.type = core::CacheEventType::kAccess;
        } else if (value == "delete") {
          batch_.type = core::CacheEventType::kDelete;
        } else if (value == "config") {
          batch_.type = core::CacheEventType::kConfig;
        } else {
          return false;
        }
        return true;
      case Field::kTier:
        if (value == "l2") {
          batch_.tier = core::CacheTier::kL2;
        } else if (value == "l1") {
          batch_.tier = core::CacheTier::kL1;
        } else {
          return false;
        }
        return true;
      case Field::kBackend:
        return backend_.keep(value, *out_, any, batch_.backend);
      case Field::kChunkHashHex: {
        const size_t size = value.size() / 2;
        unsigned char* bytes = out_->allocate<unsigned char>(size);
        if (!core::decode_hex_into(value, bytes)) return false;
        entry_.key.chunk_hash = {reinterpret_cast<const char*>(bytes), size};
        return true;
      }
      case Field::kModelName:
        // Consecutive entries nearly always share a model and a salt: check and copy once.
        return model_.keep(
            value, *out_, [](std::string_view text) { return !core::check_model_name(text); },
            entry_.key.model_name);
      case Field::kCacheSalt:
        return salt_.keep(
            value, *out_, [](std::string_view text) { return !core::check_cache_salt(text); },
            entry_.key.cache_salt);
      default:
        return false;  // a string where another type belongs: lax rules, not ours
    }
  }

  bool take_integer(int64_t value) {
    switch (pending_) {
      case Field::kUnknown:
        return true;
      case Field::kIncarnation:
        if (value < 0) return false;
        batch_.incarnation = static_cast<uint64_t>(value);
        return true;
      case Field::kSeq:
        if (value < 1) return false;
        batch_.seq = static_cast<uint64_t>(value);
        return true;
      case Field::kTs:
        if (value < 0) return false;
        batch_.ts = static_cast<double>(value);
        return true;
      case Field::kCapacityBytes:
        if (value < 0) return false;
        batch_.capacity_bytes = static_cast<uint64_t>(value);
        return true;
      case Field::kCapacityRevision:
        if (value < 0) return false;
        batch_.capacity_revision = static_cast<uint64_t>(value);
        return true;
      case Field::kSizeBytes:
        if (value < 0) return false;
        entry_.size_bytes = static_cast<uint64_t>(value);
        return true;
      case Field::kTokenOffset:
        if (value < -1) return false;
        entry_.token_offset = value;
        return true;
      case Field::kKvRank:
        if (value < core::kMinWireKvRank || value > core::kMaxWireKvRank) return false;
        entry_.key.kv_rank = core::kv_rank_from_wire(value);
        return true;
      case Field::kObjectGroupId:
        if (value < 0 || value > std::numeric_limits<uint32_t>::max()) return false;
        entry_.key.object_group_id = static_cast<uint32_t>(value);
        return true;
      default:
        return false;
    }
  }

  // The batch's rules that need all its fields; then it joins the request.
  bool finish_batch() {
    constexpr uint32_t kRequired = (1u << static_cast<unsigned>(Field::kInstanceId)) |
                                   (1u << static_cast<unsigned>(Field::kIncarnation)) |
                                   (1u << static_cast<unsigned>(Field::kSeq)) |
                                   (1u << static_cast<unsigned>(Field::kEventType)) |
                                   (1u << static_cast<unsigned>(Field::kTier));
    if ((batch_seen_ & kRequired) != kRequired) return false;
    if (batch_.backend.empty() && batch_.type != core::CacheEventType::kAccess) return false;
    if (!entries_.empty()) {
      if (batch_.type == core::CacheEventType::kConfig) return false;
      core::CacheEventEntry* entries = out_->allocate<core::CacheEventEntry>(entries_.size());
      std::copy(entries_.begin(), entries_.end(), entries);
      batch_.entries = {entries, entries_.size()};
    }
    out_->batches.push_back(batch_);
    return true;
  }

  CacheEventRequest* out_ = nullptr;
  Where where_ = Where::kDocument;
  size_t skip_depth_ = 0;            // > 0 inside a value that is skipped: its nesting depth
  Field pending_ = Field::kUnknown;  // the field whose value comes next
  uint32_t root_seen_ = 0;           // bit(field) of the fields seen in the current object
  uint32_t batch_seen_ = 0;
  uint32_t entry_seen_ = 0;
  uint32_t key_seen_ = 0;
  core::CacheEventBatch batch_;                 // the batch being read
  core::CacheEventEntry entry_;                 // the entry being read
  std::vector<core::CacheEventEntry> entries_;  // the batch's entries so far
  std::vector<int64_t> tokens_;                 // the entry's token_ids so far
  RecentStrings instance_id_;                   // in out_'s storage, already checked
  RecentStrings backend_;
  RecentStrings model_;
  RecentStrings salt_;
  std::string name_;  // a key that arrived in parts
  std::string text_;  // a string value that arrived in parts
};

json::parse_options parse_options() {
  json::parse_options options;
  options.max_depth = 64;  // as the tree decoder (arena_json_body.cpp)
  return options;
}

}  // namespace

bool decode_cache_event_request_fast(std::string_view body, CacheEventRequest& out) {
  // One parser per thread: its stack and the handler's buffers keep their capacity.
  thread_local json::basic_parser<Handler> parser(parse_options());
  parser.reset();
  Handler& handler = parser.handler();
  handler.reset(&out);

  error_code ec;
  const size_t used = parser.write_some(false, body.data(), body.size(), ec);
  return !ec && used == body.size() && handler.complete();
}

}  // namespace lmcache::http
