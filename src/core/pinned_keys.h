// PinnedKeys: the pin count of every pinned L2 key, in memory, safe to read from any thread.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/mutex.h"
#include "core/object_key.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// One key's pin count (> 0 while it is pinned; 0 in a change means "no longer pinned").
struct PinCount {
  ObjectKey key;
  uint64_t count = 0;

  bool operator==(const PinCount&) const = default;
};

// The table of pinned keys: what eviction planning asks (contains) and what GET /cache/pins
// lists. It only mirrors counts decided elsewhere (Pins, which makes them durable first), so it
// has no pin/unpin arithmetic of its own.
//
// Thread-safe: lookups take a shared lock, apply() an exclusive one. empty() reads an atomic, so a
// caller with nothing pinned pays no lock at all.
class PinnedKeys {
 public:
  // True when no key is pinned. Lock-free.
  bool empty() const { return size_.load(std::memory_order_acquire) == 0; }

  // The number of pinned keys. Lock-free.
  size_t size() const { return size_.load(std::memory_order_acquire); }

  bool contains(const ObjectKeyView& key) const;

  // The key's pin count; 0 when it is not pinned.
  uint64_t count(const ObjectKeyView& key) const;

  // Every pinned key with its count, sorted by model name, cache salt, chunk hash bytes, wire
  // kv_rank, object group id: the same order for the same pins.
  std::vector<PinCount> sorted() const;

  // Sets each key's count; a count of 0 removes the key.
  void apply(std::span<const PinCount> counts);

 private:
  mutable SharedMutex mu_;
  boost::unordered_flat_map<ObjectKey, uint64_t, ObjectKeyViewHash, ObjectKeyViewEqual> counts_
      GUARDED_BY(mu_);
  std::atomic<size_t> size_{0};  // counts_.size(), readable without the lock
};

}  // namespace lmcache::core
