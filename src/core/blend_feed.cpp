#include "core/blend_feed.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/object_key.h"

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

bool BlendFeed::Placement::same_as(const Placement& other) const {
  return kv_rank == other.kv_rank && object_group_id == other.object_group_id &&
         tier == other.tier && shared == other.shared && backend == other.backend &&
         (shared || instance_id == other.instance_id);
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
  const uint32_t world_size = world_size_of(entry.key.kv_rank);
  if (world_size == 0) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string key = object_key(scope(entry.key.model_name, entry.key.cache_salt, world_size),
                               entry.key.chunk_hash);
  Placement placement{
      entry.key.kv_rank, entry.key.object_group_id,  batch.tier,
      batch.shared,      std::string(batch.backend), std::string(batch.instance_id)};
  if (auto it = live_.find(key); it != live_.end()) {
    auto same = std::find_if(it->second.begin(), it->second.end(),
                             [&](const Placement& p) { return p.same_as(placement); });
    if (same == it->second.end()) {
      it->second.push_back(std::move(placement));
    } else {
      same->instance_id = std::move(placement.instance_id);  // a shared one's last reporter
    }
    return;
  }
  std::vector<uint64_t> tokens = chunk_tokens(entry.token_ids, index_.chunk_size());
  if (entry.token_offset < 0 || tokens.empty()) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const BlendRange range{scope(entry.key.model_name, entry.key.cache_salt, world_size),
                         std::move(tokens),
                         {key},
                         static_cast<uint64_t>(entry.token_offset)};
  const BlendPublishResult published = index_.publish(std::span(&range, 1));
  if (published.skipped_ranges > 0) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  live_.emplace(std::move(key), std::vector<Placement>{std::move(placement)});
  indexed_.fetch_add(1, std::memory_order_relaxed);
}

void BlendFeed::remove(const CacheEventBatch& batch, const CacheEventEntry& entry) {
  const uint32_t world_size = world_size_of(entry.key.kv_rank);
  if (world_size == 0) return;
  const std::string key = object_key(scope(entry.key.model_name, entry.key.cache_salt, world_size),
                                     entry.key.chunk_hash);
  auto it = live_.find(key);
  if (it == live_.end()) return;
  const Placement gone{
      entry.key.kv_rank, entry.key.object_group_id,  batch.tier,
      batch.shared,      std::string(batch.backend), std::string(batch.instance_id)};
  std::erase_if(it->second, [&](const Placement& p) { return p.same_as(gone); });
  if (!it->second.empty()) return;
  index_.remove(std::span(&it->first, 1));
  live_.erase(it);
  removed_.fetch_add(1, std::memory_order_relaxed);
}

void BlendFeed::fence(std::string_view instance_id) {
  MutexLock lock(mu_);
  std::vector<std::string> emptied;
  for (auto& [key, placements] : live_) {
    std::erase_if(placements, [&](const Placement& p) {
      return p.tier == CacheTier::kL1 && p.instance_id == instance_id;
    });
    if (placements.empty()) emptied.push_back(key);
  }
  if (emptied.empty()) return;
  index_.remove(emptied);
  for (const std::string& key : emptied) live_.erase(key);
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

}  // namespace lmcache::core
