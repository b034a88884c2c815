#include "core/blend_feed.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/token_chain_hasher.h"

namespace lmcache::core {
namespace {

// The world size an upstream kv_rank packing names, or 0 when the rank is not one.
uint32_t world_size_of(int32_t kv_rank) {
  const auto bits = static_cast<uint32_t>(kv_rank);
  return is_packed_kv_rank(bits) ? bits >> 24 : 0;
}

// The entry's tokens as one chunk, or empty when they are not exactly `chunk_size` tokens in
// [0, 2^32) (upstream leaves the binding unchanged for tokens outside uint32).
std::vector<uint64_t> chunk_tokens(std::span<const int64_t> tokens, size_t chunk_size) {
  if (tokens.size() != chunk_size) return {};
  std::vector<uint64_t> out;
  out.reserve(tokens.size());
  for (const int64_t token : tokens) {
    if (token < 0 || token > int64_t{std::numeric_limits<uint32_t>::max()}) return {};
    out.push_back(static_cast<uint64_t>(token));
  }
  return out;
}

}  // namespace

bool BlendFeed::is_placement_of(const Placement& p, const CacheEventBatch& batch,
                                const CacheEventEntry& entry) {
  return p.kv_rank == entry.key.kv_rank && p.object_group_id == entry.key.object_group_id &&
         p.tier == batch.tier && p.shared == batch.shared && p.backend == batch.backend &&
         (batch.shared || p.instance_id == batch.instance_id);
}

std::optional<ObjectKeyView> BlendFeed::chunk_of(const ObjectKeyView& key) {
  const uint32_t world_size = world_size_of(key.kv_rank);
  if (world_size == 0) return std::nullopt;
  return ObjectKeyView(key.chunk_hash, key.model_name,
                       kv_rank_from_wire(pack_kv_rank(world_size, 0)), 0, key.cache_salt);
}

std::string BlendFeed::index_key(const ObjectKey& chunk) {
  return object_key(scope(chunk.model_name, chunk.cache_salt, world_size_of(chunk.kv_rank)),
                    chunk.chunk_hash);
}

std::string BlendFeed::scope(std::string_view model_name, std::string_view cache_salt,
                             uint32_t world_size) {
  // Model names and salts never contain '@' (check_model_name, check_cache_salt), so the three
  // fields are recoverable and two namespaces never share a scope.
  std::string out =
      "\x1f"
      "v2@";
  out += model_name;
  out += '@';
  out += cache_salt;
  out += '@';
  out += std::to_string(world_size);
  return out;
}

std::string BlendFeed::object_key(std::string_view scope, std::string_view chunk_hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(scope);
  out.reserve(scope.size() + 1 + 2 * chunk_hash.size());
  out += '@';
  for (const char c : chunk_hash) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0F];
  }
  return out;
}

std::string_view BlendFeed::chunk_hash_hex(std::string_view object_key) {
  const size_t at = object_key.rfind('@');
  return at == std::string_view::npos ? object_key : object_key.substr(at + 1);
}

void BlendFeed::apply(const CacheEventBatch& batch) {
  if (batch.type != CacheEventType::kStore && batch.type != CacheEventType::kDelete) return;
  MutexLock lock(mu_);
  for (const CacheEventEntry& entry : batch.entries) {
    if (batch.type == CacheEventType::kStore) {
      store(batch, entry);
    } else {
      remove(batch, entry);
    }
  }
}

void BlendFeed::store(const CacheEventBatch& batch, const CacheEventEntry& entry) {
  const std::optional<ObjectKeyView> chunk = chunk_of(entry.key);
  if (!chunk) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (auto it = live_.find(*chunk); it != live_.end()) {
    auto same = std::find_if(it->second.begin(), it->second.end(),
                             [&](const Placement& p) { return is_placement_of(p, batch, entry); });
    if (same == it->second.end()) {
      it->second.push_back({entry.key.kv_rank, entry.key.object_group_id, batch.tier, batch.shared,
                            std::string(batch.backend), std::string(batch.instance_id)});
    } else if (same->instance_id != batch.instance_id) {
      same->instance_id = batch.instance_id;  // a shared placement's last reporter
    }
    return;
  }
  std::vector<uint64_t> tokens = chunk_tokens(entry.token_ids, index_.chunk_size());
  if (entry.token_offset < 0 || tokens.empty()) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ObjectKey key = chunk->to_key();
  const BlendRange range{scope(key.model_name, key.cache_salt, world_size_of(key.kv_rank)),
                         std::move(tokens),
                         {index_key(key)},
                         static_cast<uint64_t>(entry.token_offset)};
  const BlendPublishResult published = index_.publish(std::span(&range, 1));
  if (published.skipped_ranges > 0) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  live_.emplace(std::move(key),
                std::vector<Placement>{{entry.key.kv_rank, entry.key.object_group_id, batch.tier,
                                        batch.shared, std::string(batch.backend),
                                        std::string(batch.instance_id)}});
  indexed_.fetch_add(1, std::memory_order_relaxed);
}

void BlendFeed::remove(const CacheEventBatch& batch, const CacheEventEntry& entry) {
  const std::optional<ObjectKeyView> chunk = chunk_of(entry.key);
  if (!chunk) return;
  auto it = live_.find(*chunk);
  if (it == live_.end()) return;
  std::erase_if(it->second, [&](const Placement& p) { return is_placement_of(p, batch, entry); });
  if (!it->second.empty()) return;
  const std::string gone = index_key(it->first);
  index_.remove(std::span(&gone, 1));
  live_.erase(it);
  removed_.fetch_add(1, std::memory_order_relaxed);
}

void BlendFeed::fence(std::string_view instance_id) {
  MutexLock lock(mu_);
  std::vector<std::string> emptied;
  boost::unordered::erase_if(live_, [&](auto& chunk) {
    std::erase_if(chunk.second, [&](const Placement& p) {
      return p.tier == CacheTier::kL1 && p.instance_id == instance_id;
    });
    if (!chunk.second.empty()) return false;
    emptied.push_back(index_key(chunk.first));
    return true;
  });
  if (emptied.empty()) return;
  index_.remove(emptied);
  removed_.fetch_add(emptied.size(), std::memory_order_relaxed);
}

BlendFeed::Counters BlendFeed::counters() const {
  return {indexed_.load(std::memory_order_relaxed), removed_.load(std::memory_order_relaxed),
          ignored_.load(std::memory_order_relaxed)};
}

size_t BlendFeed::chunk_count() const {
  MutexLock lock(mu_);
  return live_.size();
}

void BlendFeed::freeze(const std::function<void()>& during) {
  MutexLock lock(mu_);
  during();
}

void BlendFeed::save(SnapshotWriter& out) const {
  InternedStringWriter strings;
  out.u64(live_.size());
  for (const auto& [chunk, placements] : live_) {
    out.str(chunk.chunk_hash);
    strings.put(out, chunk.model_name);
    out.u32(static_cast<uint32_t>(chunk.kv_rank));
    strings.put(out, chunk.cache_salt);
    out.u32(static_cast<uint32_t>(placements.size()));
    for (const Placement& p : placements) {
      out.u32(static_cast<uint32_t>(p.kv_rank));
      out.u32(p.object_group_id);
      out.u8(static_cast<uint8_t>(p.tier));
      out.boolean(p.shared);
      strings.put(out, p.backend);
      strings.put(out, p.instance_id);
    }
  }
}

void BlendFeed::clear() {
  MutexLock lock(mu_);
  live_.clear();
}

bool BlendFeed::load(SnapshotReader& in) {
  MutexLock lock(mu_);
  if (!live_.empty()) return false;
  InternedStringReader strings;
  // A chunk takes at least 20 bytes: its hash's length, model, rank, salt and placement count.
  const uint64_t chunks = in.count(20);
  for (uint64_t i = 0; i < chunks && in.ok(); ++i) {
    const std::string_view hash = in.str();
    const std::string_view model = strings.get(in);
    const auto kv_rank = static_cast<int32_t>(in.u32());
    const std::string_view salt = strings.get(in);
    const uint32_t count = in.u32();
    // A placement takes at least 18 bytes: rank, group, tier, shared, backend and instance ids.
    if (!in.ok() || count == 0 || count > in.remaining() / 18) return false;
    const ObjectKeyView view(hash, model, kv_rank, 0, salt);
    const std::optional<ObjectKeyView> chunk = chunk_of(view);
    if (!chunk || chunk->kv_rank != kv_rank || live_.contains(view)) return false;
    ObjectKey key = view.to_key();
    const std::string indexed = index_key(key);
    if (!index_.contains(scope(key.model_name, key.cache_salt, world_size_of(key.kv_rank)),
                         indexed)) {
      return false;
    }
    std::vector<Placement> placements;
    placements.reserve(count);
    for (uint32_t p = 0; p < count; ++p) {
      Placement placement;
      placement.kv_rank = static_cast<int32_t>(in.u32());
      placement.object_group_id = in.u32();
      const uint8_t tier = in.u8();
      placement.shared = in.boolean();
      placement.backend = strings.get(in);
      placement.instance_id = strings.get(in);
      if (!in.ok() || tier > static_cast<uint8_t>(CacheTier::kL2)) return false;
      placement.tier = static_cast<CacheTier>(tier);
      placements.push_back(std::move(placement));
    }
    live_.emplace(std::move(key), std::move(placements));
  }
  return in.ok();
}

}  // namespace lmcache::core
