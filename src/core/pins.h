// Pins: reference-counted pins of L2 keys (protocol-v2.md Part B 2.5), durable in the state file.
#pragma once

#include <cstddef>
#include <span>

#include "core/mutex.h"
#include "core/object_key.h"
#include "core/pinned_keys.h"
#include "core/quota_store.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// What one pin or unpin request changed.
struct PinOutcome {
  size_t affected = 0;  // distinct keys whose count changed
};

// Pins and unpins keys. Each pin adds one to a key's count, each unpin takes one away, flooring at
// 0; a key at 0 is no longer pinned and leaves the table. A key listed twice in one request counts
// twice. Every change is written to the state file (QuotaStore) before it shows in keys() and
// before the call returns, so an answered request survives a restart; the counts are loaded from
// the file at construction.
//
// Thread-safe: pin and unpin are serialised with each other; readers of keys() (eviction
// planning) never wait for the disk write, only for the brief in-memory apply.
class Pins {
 public:
  // Loads the stored counts. Throws QuotaStoreError when they cannot be read.
  explicit Pins(QuotaStore& store);
  Pins(const Pins&) = delete;
  Pins& operator=(const Pins&) = delete;

  // Throws QuotaStoreError when the write fails; nothing is changed then.
  PinOutcome pin(std::span<const ObjectKey> keys);
  PinOutcome unpin(std::span<const ObjectKey> keys);
  // Unpins the keys whatever their counts (a forced delete of their objects); affected counts the
  // distinct keys that were pinned.
  PinOutcome drop(std::span<const ObjectKey> keys);

  // Makes `counts` (each > 0, keys distinct) the whole pin table: keys not listed are unpinned.
  // HA mode loads the table from etcd with it, and undoes a write etcd refused. Throws like pin().
  void replace_all(std::span<const PinCount> counts);

  // The current counts, for lookups and listing.
  const PinnedKeys& keys() const { return keys_; }

 private:
  // Adds `delta` (+1 or -1) per occurrence of each key, flooring at 0; writes, then applies.
  PinOutcome change(std::span<const ObjectKey> keys, int delta);

  QuotaStore& store_;
  Mutex writer_mu_;  // one pin/unpin at a time, across its read, write and apply
  PinnedKeys keys_;
};

}  // namespace lmcache::core
