// DerivedState: everything a checkpoint holds, as one object to freeze, save and load.
#pragma once

#include <functional>

#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/snapshot_stream.h"

namespace lmcache::core {

// The state the coordinator derives from what instances report: the event ingest (cursors,
// capacity declarations, the L2 ledger and key directory behind it), the blend index and the
// blend feed's placements. The parts are referenced, not owned; they must outlive this object.
//
// The body of a checkpoint is, in this order: EventIngest::save, BlendIndex::save,
// BlendFeed::save. Each part's layout is self-contained, so a part can be sent on its own.
class DerivedState {
 public:
  DerivedState(EventIngest& events, BlendIndex& blend, BlendFeed& blend_feed)
      : events_(events), blend_(blend), blend_feed_(blend_feed) {}

  // Runs `during` with every part frozen, in the lock order of an admitted batch: the ingest's
  // locks, then the blend feed's, then the blend index's. Nothing changes meanwhile.
  void freeze(const std::function<void()>& during);
  // Writes every part. Only inside freeze()'s `during` (a forked child holds the locks), or
  // when no other thread can reach the parts.
  void save(SnapshotWriter& out) const;
  // Loads what save() wrote into empty parts at start-up, before any request. False on
  // malformed input; the parts are then partial and must be discarded.
  bool load(SnapshotReader& in);

 private:
  EventIngest& events_;
  BlendIndex& blend_;
  BlendFeed& blend_feed_;
};

}  // namespace lmcache::core
