#include "core/cache_event_record.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/snapshot_stream.h"

namespace lmcache::core {
namespace {

constexpr uint8_t kNewModel = 1;  // the entry's model follows (else: the previous entry's)
constexpr uint8_t kNewSalt = 2;   // the entry's salt follows (else: the previous entry's)

// Host byte order, as core/snapshot_stream.h writes and reads.
template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put_str(std::string& out, std::string_view s) {
  put(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

}  // namespace

void append_cache_event_record(std::string& out, const CacheEventBatch& batch) {
  put_str(out, batch.instance_id);
  put(out, batch.incarnation);
  put(out, batch.seq);
  put(out, static_cast<uint8_t>(batch.type));
  put(out, static_cast<uint8_t>(batch.tier));
  put_str(out, batch.backend);
  put(out, static_cast<uint8_t>(batch.shared ? 1 : 0));
  put(out, batch.ts);
  put(out, batch.capacity_bytes);
  put(out, batch.capacity_revision);
  put(out, static_cast<uint64_t>(batch.entries.size()));
  const CacheEventEntry* previous = nullptr;
  for (const CacheEventEntry& entry : batch.entries) {
    const ObjectKeyView& key = entry.key;
    uint8_t flags = 0;
    if (previous == nullptr || previous->key.model_name != key.model_name) flags |= kNewModel;
    if (previous == nullptr || previous->key.cache_salt != key.cache_salt) flags |= kNewSalt;
    put(out, flags);
    put_str(out, key.chunk_hash);
    if ((flags & kNewModel) != 0) put_str(out, key.model_name);
    put(out, key.kv_rank);
    put(out, key.object_group_id);
    if ((flags & kNewSalt) != 0) put_str(out, key.cache_salt);
    put(out, entry.size_bytes);
    put(out, entry.token_offset);
    put(out, static_cast<uint64_t>(entry.token_ids.size()));
    out.append(reinterpret_cast<const char*>(entry.token_ids.data()),
               entry.token_ids.size() * sizeof(int64_t));
    previous = &entry;
  }
}

bool read_cache_event_record(std::string_view bytes,
                             const std::function<void(const CacheEventBatch&)>& visit) {
  SnapshotReader in(bytes);
  CacheEventBatch batch;
  batch.instance_id = in.str();
  batch.incarnation = in.u64();
  batch.seq = in.u64();
  const uint8_t type = in.u8();
  const uint8_t tier = in.u8();
  batch.backend = in.str();
  batch.shared = in.boolean();
  batch.ts = in.f64();
  batch.capacity_bytes = in.u64();
  batch.capacity_revision = in.u64();
  if (!in.ok() || batch.instance_id.empty() || batch.seq == 0 ||
      type > static_cast<uint8_t>(CacheEventType::kConfig) ||
      tier > static_cast<uint8_t>(CacheTier::kL2)) {
    return false;
  }
  batch.type = static_cast<CacheEventType>(type);
  batch.tier = static_cast<CacheTier>(tier);
  // An entry takes at least 37 bytes: flags, the hash's length, rank, group, size, offset and
  // token count.
  const uint64_t count = in.count(37);
  std::vector<CacheEventEntry> entries(count);
  // Token ids are copied out (the record's may be unaligned); spans are set once all are read.
  std::vector<int64_t> tokens;
  std::vector<std::pair<size_t, size_t>> token_ranges(count);
  std::string_view model;
  std::string_view salt;
  for (uint64_t i = 0; i < count && in.ok(); ++i) {
    CacheEventEntry& entry = entries[i];
    const uint8_t flags = in.u8();
    const std::string_view hash = in.str();
    if ((flags & kNewModel) != 0) model = in.str();
    const auto kv_rank = static_cast<int32_t>(in.u32());
    const uint32_t group = in.u32();
    if ((flags & kNewSalt) != 0) salt = in.str();
    if (i == 0 && flags != (kNewModel | kNewSalt)) return false;
    entry.key = ObjectKeyView(hash, model, kv_rank, group, salt);
    entry.size_bytes = in.u64();
    entry.token_offset = in.i64();
    const uint64_t n = in.count(sizeof(int64_t));
    const std::string_view raw = in.raw(n * sizeof(int64_t));
    if (!in.ok()) return false;
    token_ranges[i] = {tokens.size(), n};
    tokens.resize(tokens.size() + n);
    if (n > 0) std::memcpy(tokens.data() + token_ranges[i].first, raw.data(), raw.size());
  }
  if (!in.ok() || !in.at_end()) return false;
  for (uint64_t i = 0; i < count; ++i) {
    entries[i].token_ids =
        std::span<const int64_t>(tokens.data() + token_ranges[i].first, token_ranges[i].second);
  }
  batch.entries = entries;
  visit(batch);
  return true;
}

}  // namespace lmcache::core
