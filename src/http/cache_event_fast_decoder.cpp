#include "http/cache_event_fast_decoder.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/cache_event.h"
#include "http/recent_strings.h"
#include "http/sax_fast_path.h"

namespace lmcache::http {
namespace {

namespace json = boost::json;

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

// The basic_parser handler: the request's own fields here, the rest (keys included) in
// SaxFastPath.
class Handler : public SaxFastPath<Handler, Field> {
 public:
  // Starts a new document decoded into `out`.
  void reset(CacheEventRequest* out) {
    out_ = out;
    where_ = Where::kDocument;
    reset_parse();
    root_seen_ = 0;
    instance_id_.reset();
    backend_.reset();
  }

  // True when the document ended with its `batches` list.
  bool complete() const { return where_ == Where::kDone && has(root_seen_, Field::kBatches); }

 private:
  friend class SaxFastPath<Handler, Field>;

  bool enter_object() {
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
      default:
        return false;
    }
  }

  bool leave_object() {
    switch (where_) {
      case Where::kRoot:
        where_ = Where::kDone;
        return true;
      case Where::kBatch:
        where_ = Where::kBatches;
        return finish_batch();
      case Where::kEntry:
        where_ = Where::kEntries;
        if (!has(entry_seen_, Field::kKey)) return false;
        entries_.push_back(entry_);
        return true;
      default:
        return false;
    }
  }

  bool enter_array() {
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
    return false;
  }

  bool leave_array() {
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
        return false;
    }
  }

  uint32_t* fields_of(std::string_view name) {
    switch (where_) {
      case Where::kRoot:
        pending_ = name == "batches" ? Field::kBatches : Field::kUnknown;
        return &root_seen_;
      case Where::kBatch:
        pending_ = batch_field(name);
        return &batch_seen_;
      case Where::kEntry:
        pending_ = entry_field(name);
        return &entry_seen_;
      default:
        return nullptr;
    }
  }

  core::ObjectKeyView* key_target() { return where_ == Where::kEntry ? &entry_.key : nullptr; }
  auto& string_storage() { return *out_; }
  unsigned char* allocate_bytes(size_t size) { return out_->allocate<unsigned char>(size); }

  // Inside a list the fast path reads, where every item is a batch, an entry or a token.
  bool in_list() const {
    return where_ == Where::kBatches || where_ == Where::kEntries || where_ == Where::kTokens;
  }
  bool outside() const { return where_ == Where::kDocument || where_ == Where::kDone; }

  // A token; a batch or entry that is an integer leaves the fast path.
  bool take_list_integer(int64_t value) {
    if (where_ != Where::kTokens) return false;
    tokens_.push_back(value);
    return true;
  }

  // Beyond int64: only ts takes it (any JSON number is a number).
  bool take_uint64(uint64_t value) {
    if (where_ != Where::kBatch || pending_ != Field::kTs) return false;
    batch_.ts = static_cast<double>(value);
    return true;
  }

  // A float is only ever a valid ts here (an integral float elsewhere is a lax value: the tree
  // decoder decides).
  bool take_double(double value) {
    if (where_ != Where::kBatch || pending_ != Field::kTs) return false;
    if (!std::isfinite(value) || value < 0) return false;
    batch_.ts = value;
    return true;
  }

  bool take_bool(bool value) {
    if (where_ != Where::kBatch || pending_ != Field::kShared) return false;
    batch_.shared = value;
    return true;
  }

  bool take_string(std::string_view value) {
    const auto any = [](std::string_view) { return true; };
    switch (pending_) {
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
      default:
        return false;  // a string where another type belongs: lax rules, not ours
    }
  }

  bool take_integer(int64_t value) {
    switch (pending_) {
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
  uint32_t root_seen_ = 0;  // bit(field) of the fields seen in the current object
  uint32_t batch_seen_ = 0;
  uint32_t entry_seen_ = 0;
  core::CacheEventBatch batch_;                 // the batch being read
  core::CacheEventEntry entry_;                 // the entry being read
  std::vector<core::CacheEventEntry> entries_;  // the batch's entries so far
  std::vector<int64_t> tokens_;                 // the entry's token_ids so far
  RecentStrings instance_id_;                   // in out_'s storage, already checked
  RecentStrings backend_;
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

  boost::system::error_code ec;
  const size_t used = parser.write_some(false, body.data(), body.size(), ec);
  return !ec && used == body.size() && handler.complete();
}

}  // namespace lmcache::http
