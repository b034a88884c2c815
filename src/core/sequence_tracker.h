// SequenceTracker: detects replayed and lost L2 event batches per MP server.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/snapshot_stream.h"
#include "core/string_hash.h"

namespace lmcache::core {

// Remembers, per instance_id, the seq of the last batch applied, and classifies each new batch.
//
// After reset() (called on every (re-)registration) the next batch is accepted as a first batch
// whatever its seq: a restarted server starts again at 1, and a server that only re-registered
// (the coordinator restarted or dropped it) carries on with its own numbering. Accepting rather
// than rejecting is the safe side: L2 events are idempotent (store replaces, delete forgets),
// while dropping a batch loses stores for good. A first batch is never counted as a gap.
//
// Not thread-safe: the caller serialises calls (the L2 mutex).
class SequenceTracker {
 public:
  enum class Verdict {
    kApply,      // first batch, or the next one: apply
    kDuplicate,  // seq <= last applied: a replay, acknowledge without applying
    kGap,        // seq > last + 1: apply, but batches in between were lost
  };

  // Classifies the batch `seq` of `instance_id` and, unless it is a duplicate, records it as the
  // last applied. Counts duplicates and gaps.
  Verdict check(std::string_view instance_id, uint64_t seq);

  // Forgets an instance's sequence: its next batch is accepted as a first batch.
  void reset(std::string_view instance_id);

  // Last seq applied for an instance, or nullopt when none since its last reset.
  std::optional<uint64_t> last_seq(std::string_view instance_id) const;

  uint64_t duplicates() const { return duplicates_; }  // batches acknowledged as replays
  uint64_t gaps() const { return gaps_; }              // batches that followed a gap
  uint64_t missed_batches() const { return missed_; }  // seq numbers skipped over all gaps
  size_t instances() const { return last_.size(); }

  // The cursors (instance -> last seq) for a checkpoint; counters are not saved.
  void save(SnapshotWriter& out) const;
  // Adds the cursors a save() wrote. False on malformed input (some may have been added).
  bool load(SnapshotReader& in);
  // Forgets every cursor, as a freshly constructed tracker; the counters (since start, for
  // metrics) are kept.
  void clear() { last_.clear(); }

 private:
  boost::unordered_flat_map<std::string, uint64_t, StringHash, StringEqual>
      last_;  // instance -> last seq
  uint64_t duplicates_ = 0;
  uint64_t gaps_ = 0;
  uint64_t missed_ = 0;
};

}  // namespace lmcache::core
