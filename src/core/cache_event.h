// CacheEventBatch: one decoded batch of `POST /events`, the cache-event stream of the current
// LMCache dialect ("v2"), as the domain reads it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/object_key.h"

namespace lmcache::core {

enum class CacheEventType : uint8_t { kStore, kDelete, kAccess, kConfig };
enum class CacheTier : uint8_t { kL1, kL2 };

// Wire names, for logs and answers.
std::string_view cache_event_type_name(CacheEventType type);
std::string_view cache_tier_name(CacheTier tier);

// One entry of a batch. Its strings and tokens belong to whatever decoded the batch.
struct CacheEventEntry {
  ObjectKeyView key;
  uint64_t size_bytes = 0;
  std::span<const int64_t> token_ids;  // as sent; [] when absent
  int64_t token_offset = -1;           // -1: unknown
};

// One valid batch: the stamp the admission gate reads (instance_id, incarnation, seq) and what
// the consumers apply. Views only; valid as long as the decoded request it came from.
struct CacheEventBatch {
  std::string_view instance_id;  // non-empty
  uint64_t incarnation = 0;      // grows when the MP server restarts
  uint64_t seq = 0;              // >= 1, per (instance_id, incarnation), all tiers and types
  CacheEventType type = CacheEventType::kStore;
  CacheTier tier = CacheTier::kL2;
  std::string_view backend;        // non-empty except for access
  bool shared = false;             // a placement any instance may report (e.g. a shared L2 store)
  double ts = 0;                   // MP server's wall clock, seconds
  uint64_t capacity_bytes = 0;     // config only; 0 = undeclared or unlimited
  uint64_t capacity_revision = 0;  // config only
  std::span<const CacheEventEntry> entries;  // empty for config
};

}  // namespace lmcache::core
