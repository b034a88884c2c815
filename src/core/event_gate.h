// EventGate: admission of `POST /events` batches, one stream cursor per instance.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/mutex.h"
#include "core/snapshot_stream.h"
#include "core/string_hash.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// Decides which batches of the v2 event stream reach the consumers, and hands them over in
// admission order.
//
// One cursor per instance_id `(incarnation, last_seq, gap_detected)` covers every tier and event
// type. A batch `(incarnation, seq)` is judged by these rules, in order:
//   1. stale:     incarnation < the cursor's: dropped and counted;
//   2. restart:   incarnation > the cursor's: the instance is fenced (the fence hook runs), and a
//                 fresh cursor (last_seq 0) judges the batch;
//   3. duplicate: seq <= last_seq: dropped and counted (a replay);
//   4. gap:       seq > last_seq + 1: batches were lost; the cursor is flagged (reported once per
//                 cursor through Decision::first_gap) and the batch is still admitted;
//   5. admit:     last_seq = seq, the batch is consumed.
// An instance without a cursor (never seen, or forgotten) starts a fresh cursor at whatever
// incarnation it sends. No registration is needed.
//
// Thread-safe. One lock is held from judging a batch to the end of its consumption, so the
// batches of an instance reach the consumers in the order they were admitted even when they
// arrive on several connections. Consumers and the fence hook must not call back into the gate.
class EventGate {
 public:
  enum class Verdict : uint8_t { kAdmitted, kDuplicate, kStale };

  struct Decision {
    Verdict verdict = Verdict::kAdmitted;
    bool fenced = false;     // a restart fenced the instance before the batch was judged
    bool gap = false;        // admitted after a gap
    bool first_gap = false;  // ... and the first gap of this cursor (log it)
    uint64_t last_seq = 0;   // the cursor's last_seq before this batch
  };

  struct Cursor {
    uint64_t incarnation = 0;
    uint64_t last_seq = 0;
    bool gap_detected = false;
  };

  // Batches judged since start, by outcome.
  struct Counters {
    uint64_t admitted = 0;
    uint64_t duplicates = 0;
    uint64_t stale = 0;
    uint64_t fences = 0;  // restarts and forget() of an instance that had a cursor
    uint64_t gaps = 0;    // admitted batches that followed a gap
  };

  // Called with the instance id when its state from an earlier incarnation is void: on a restart
  // and when the instance is forgotten. Runs under the gate's lock.
  using FenceHook = std::function<void(std::string_view instance_id)>;

  explicit EventGate(FenceHook on_fence = {});
  EventGate(const EventGate&) = delete;
  EventGate& operator=(const EventGate&) = delete;

  // Judges the batch `(incarnation, seq)` of `instance_id` and, when it is admitted, calls
  // `consume()` before any other batch is judged.
  template <typename Consume>
  Decision admit(std::string_view instance_id, uint64_t incarnation, uint64_t seq,
                 Consume&& consume) EXCLUDES(mutex_) {
    MutexLock lock(mutex_);
    const Decision decision = judge(instance_id, incarnation, seq);
    if (decision.verdict == Verdict::kAdmitted) consume();
    return decision;
  }

  // Fences the instance (when it has a cursor) and forgets its cursor: its next batch starts
  // fresh at any incarnation. For deregistration and the health sweep's removals.
  void forget(std::string_view instance_id) EXCLUDES(mutex_);

  std::optional<Cursor> cursor(std::string_view instance_id) const EXCLUDES(mutex_);
  size_t cursor_count() const EXCLUDES(mutex_);
  Counters counters() const EXCLUDES(mutex_);

  // The lock that freezes the cursors (for a checkpoint; see EventIngest::freeze).
  Mutex& mutex() const RETURN_CAPABILITY(mutex_) { return mutex_; }
  // The cursors, for a checkpoint; counters are not saved.
  void save(SnapshotWriter& out) const REQUIRES(mutex_);
  // Adds the cursors a save() wrote, without fencing anything. False on malformed input.
  bool load(SnapshotReader& in) EXCLUDES(mutex_);
  // Empties the gate to the state of a freshly constructed one as far as save() and load() see
  // it: every cursor is forgotten, without fencing anything (the whole derived state is being
  // rebuilt). The counters are kept: they count batches since start, for metrics. Takes its own
  // lock.
  void clear() EXCLUDES(mutex_);

 private:
  Decision judge(std::string_view instance_id, uint64_t incarnation, uint64_t seq) REQUIRES(mutex_);

  const FenceHook on_fence_;
  mutable Mutex mutex_;
  boost::unordered_flat_map<std::string, Cursor, StringHash, StringEqual> cursors_
      GUARDED_BY(mutex_);
  Counters counters_ GUARDED_BY(mutex_);
};

}  // namespace lmcache::core
