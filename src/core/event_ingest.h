// EventIngest: the v2 cache-event stream (`POST /events`) from admission to the state it feeds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "core/blend_feed.h"
#include "core/cache_event.h"
#include "core/capacity_declarations.h"
#include "core/event_gate.h"
#include "core/l2_accounting.h"
#include "core/snapshot_stream.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// Admits each batch through an EventGate and hands the admitted ones to their consumers:
//   - store/delete/access of both tiers: the key directory, and through it (tier l2) the L2
//     ledger and LRU shared with the seed-era `/l2/events` (a key stored through one dialect and
//     deleted through the other is the same key);
//   - config: the capacity declarations.
// A restart, deregistration or timeout fences the instance: its L1 placements and L1 bytes are
// removed from the directory; L2 survives fences.
//
// Thread-safe. Lock order: the gate's lock, then the L2 accounting's or the declarations'.
class EventIngest {
 public:
  struct Counters {
    EventGate::Counters batches;  // by gate outcome, fences and gaps
    uint64_t rejected = 0;        // batches rejected by validation before the gate
  };

  // `l2` must outlive this object.
  explicit EventIngest(L2Accounting& l2);
  EventIngest(const EventIngest&) = delete;
  EventIngest& operator=(const EventIngest&) = delete;

  // Offers one valid batch; its consumers have applied it when this returns, if admitted.
  EventGate::Decision ingest(const CacheEventBatch& batch);

  // Counts batches that failed validation (and never reached the gate).
  void record_rejected(uint64_t count) { rejected_.fetch_add(count, std::memory_order_relaxed); }

  // The instance deregistered: its cursor and its capacity declaration are forgotten.
  void on_instance_deregistered(std::string_view instance_id);
  // The health sweep dropped the instance: its cursor is forgotten, its capacity declaration kept
  // (as upstream: a timed-out server re-registers and carries on).
  void on_instance_timed_out(std::string_view instance_id);

  // True when the instance speaks the v2 dialect: a batch naming it has reached the gate
  // (admitted, duplicate or stale) since its cursor was last forgotten, i.e. it has a cursor.
  // Eviction sends such an instance DELETE /cache/objects, others DELETE /l2. Deregistration and
  // the health sweep forget it with the cursor; a batch rejected by validation does not count.
  bool speaks_v2(std::string_view instance_id) const {
    return gate_.cursor(instance_id).has_value();
  }

  // Also hands every admitted batch, and every fence, to `feed` (the blend index's), which must
  // outlive this object. Call before the first ingest().
  void set_blend_feed(BlendFeed* feed) { blend_feed_ = feed; }

  // Also hands every admitted batch to `observer`, under the gate's lock and so in admission
  // order (the HA leader's replication log). Call before the first ingest().
  void set_admitted_observer(std::function<void(const CacheEventBatch&)> observer) {
    admitted_observer_ = std::move(observer);
  }

  Counters counters() const;

  // Runs `during` with every lock of the derived state held (the gate's, the L2 accounting's,
  // the declarations'), so none of it can change meanwhile. A checkpoint forks inside `during`:
  // the child owns a still copy to save() while this process goes on once `during` returns.
  void freeze(const std::function<void()>& during);
  // Writes the derived state: cursors, capacity declarations and the L2 accounting. Only inside
  // freeze()'s `during` (the forked child holds the locks), or when no other thread can reach
  // this object.
  void save(SnapshotWriter& out) const NO_THREAD_SAFETY_ANALYSIS;
  // Loads what save() wrote into this empty object and its L2 accounting: at start-up, before
  // any request, or after clear(). False on malformed input; the state is then partial and must
  // be discarded (or cleared).
  bool load(SnapshotReader& in);
  // Empties what save() covers to the state of a freshly constructed object: the cursors, the
  // capacity declarations and the L2 accounting (EventGate::clear, CapacityDeclarations::clear,
  // L2Accounting::clear). Nothing is fenced and nothing reaches the blend feed or the admitted
  // observer. Counters are kept. Each part is emptied under its own lock, one after the other,
  // so a batch ingested meanwhile may be kept by one part and dropped by another: call it only
  // when nothing else ingests (see DerivedState::rebuild).
  void clear();
  const EventGate& gate() const { return gate_; }
  const CapacityDeclarations& capacity() const { return capacity_; }

 private:
  // The consumers of an admitted batch, called under the gate's lock.
  void consume(const CacheEventBatch& batch);
  // The instance's state from an earlier incarnation is void. Called under the gate's lock on a
  // restart and when the instance is forgotten: the directory drops the instance's L1
  // placements, including shared L1 placements it reported last. L2 survives fences, and the
  // capacity registry ignores them.
  void fence(std::string_view instance_id);

  L2Accounting& l2_;
  CapacityDeclarations capacity_;
  EventGate gate_;  // after the consumers: its fence hook calls into them
  std::atomic<uint64_t> rejected_{0};
  BlendFeed* blend_feed_ = nullptr;  // set_blend_feed(); null: no blend feed
  std::function<void(const CacheEventBatch&)> admitted_observer_;  // empty: none
};

}  // namespace lmcache::core
