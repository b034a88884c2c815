// MutationLog: the leader's recent accepted soft-state mutations, numbered, for followers to
// replay (HA mode, warm takeover). Also the byte frames they travel in.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// What an entry's payload is, and so how a follower applies it. The values travel in frames:
// never renumber them.
enum class MutationKind : uint8_t {
  kCacheEventRecord = 1,      // one admitted POST /events batch (core/cache_event_record.h)
  kL2Events = 2,              // the body of an accepted POST /l2/events
  kBlendPublish = 3,          // the body of an accepted POST /blend/fingerprints
  kBlendRemove = 4,           // the body of an accepted DELETE /blend/fingerprints
  kInstanceRegistered = 5,    // an instance id: it (re-)registered
  kInstanceDeregistered = 6,  // an instance id: it deregistered
  kInstanceTimedOut = 7,      // an instance id: the health sweep dropped it
};
// Whether `value` names a MutationKind.
bool is_mutation_kind(uint8_t value);

struct Mutation {
  uint64_t seq = 0;  // 1, 2, 3, ... within one epoch
  MutationKind kind = MutationKind::kCacheEventRecord;
  std::string payload;  // as accepted; never re-encoded
};

// A bounded ring of the mutations one leader accepted in its epoch.
//
// Inactive until begin_epoch(); append() then numbers entries 1, 2, 3, ... and drops the oldest
// ones when their payloads exceed `max_bytes` in total (the newest entry is always kept). A
// reader asks for the entries after the last seq it applied and learns when some of those were
// dropped (a gap: it must rebuild, not go on) or when it follows another epoch.
//
// Thread-safe. append() is O(1) under a short lock (plus the drops it makes); read() copies
// only shared pointers under the lock.
class MutationLog {
 public:
  explicit MutationLog(size_t max_bytes);
  MutationLog(const MutationLog&) = delete;
  MutationLog& operator=(const MutationLog&) = delete;

  // Starts an epoch (this node won it): empties the ring; the next entry is seq 1.
  void begin_epoch(int64_t epoch) EXCLUDES(mu_);
  // This node no longer leads: empties the ring; append() does nothing until begin_epoch().
  void end_epoch() EXCLUDES(mu_);
  // Whether an epoch is open; one atomic load, for the request path.
  bool active() const { return active_.load(std::memory_order_acquire); }
  // Whether `epoch` is the open epoch.
  bool serves(int64_t epoch) const EXCLUDES(mu_);

  // Records one mutation; returns its seq, or 0 when inactive (nothing recorded).
  uint64_t append(MutationKind kind, std::string payload) EXCLUDES(mu_);
  // The seq of the newest entry (0: none yet). Lock-free, for long-polls.
  uint64_t last_seq() const { return last_seq_.load(std::memory_order_acquire); }

  struct Read {
    enum class Status {
      kOk,          // `entries` follow `after` without a hole (maybe none yet)
      kWrongEpoch,  // no epoch open, or another one than asked for
      kBehind,      // entries after `after` were dropped: the reader missed some
      kAhead,       // `after` is past the newest entry (the reader follows another history)
    };
    Status status = Status::kOk;
    int64_t epoch = 0;   // the open epoch (0: none)
    uint64_t first = 0;  // the oldest seq held (0: empty)
    uint64_t last = 0;   // the newest seq written in this epoch (0: none)
    std::vector<std::shared_ptr<const Mutation>> entries;
  };
  // The entries after `after` in `epoch`, oldest first, at least one when there is one, and no
  // more once their payloads reach `max_bytes`.
  Read read(int64_t epoch, uint64_t after, size_t max_bytes) const EXCLUDES(mu_);

  struct Counters {
    uint64_t entries = 0;  // held now
    uint64_t bytes = 0;    // their payloads
    uint64_t dropped = 0;  // dropped for room since start
  };
  Counters counters() const EXCLUDES(mu_);

 private:
  void clear() REQUIRES(mu_);

  const size_t max_bytes_;
  std::atomic<bool> active_{false};
  std::atomic<uint64_t> last_seq_{0};
  mutable Mutex mu_;
  int64_t epoch_ GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<const Mutation>> ring_ GUARDED_BY(mu_);
  size_t bytes_ GUARDED_BY(mu_) = 0;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
};

// Frames: each mutation as u64 seq, u8 kind, u32 payload length (little-endian), payload.
void append_mutation_frame(std::string& out, const Mutation& mutation);
// The mutations framed in `bytes`, in order; nullopt when a frame is cut short or names an
// unknown kind.
std::optional<std::vector<Mutation>> decode_mutation_frames(std::string_view bytes);

}  // namespace lmcache::core
