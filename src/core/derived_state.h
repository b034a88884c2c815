// DerivedState: everything a checkpoint holds, as one object to freeze, save and load.
#pragma once

#include <functional>
#include <memory>

#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/mutex.h"
#include "core/snapshot_stream.h"

namespace lmcache::core {

// The state the coordinator derives from what instances report: the event ingest (cursors,
// capacity declarations, the L2 ledger and key directory behind it), the blend index and the
// blend feed's placements. The parts are referenced, not owned; they must outlive this object.
// Copies refer to the same parts and share one rebuild lock, so freeze() and rebuild() exclude
// each other across copies: make one DerivedState per set of parts and copy that one.
//
// The body of a checkpoint is, in this order: EventIngest::save, BlendIndex::save,
// BlendFeed::save. Each part's layout is self-contained, so a part can be sent on its own.
class DerivedState {
 public:
  DerivedState(EventIngest& events, BlendIndex& blend, BlendFeed& blend_feed)
      : events_(events),
        blend_(blend),
        blend_feed_(blend_feed),
        rebuilding_(std::make_shared<Mutex>()) {}

  // Runs `during` with every part frozen, after any rebuild() in progress, in the lock order of
  // an admitted batch: the rebuild lock, the ingest's locks, then the blend feed's, then the
  // blend index's. Nothing changes meanwhile.
  void freeze(const std::function<void()>& during);
  // Writes every part. Only inside freeze()'s `during` (a forked child holds the locks), or
  // when no other thread can reach the parts.
  void save(SnapshotWriter& out) const;
  // Loads what save() wrote into empty parts at start-up, before any request. False on
  // malformed input; the parts are then partial and must be discarded.
  bool load(SnapshotReader& in);
  // Replaces the state with what save() wrote (an HA follower's snapshot of the leader after a
  // gap): empties every part (each part's clear()), then loads. On success the parts equal the
  // saved ones: what the snapshot lacks is gone. Durable state (quotas, pins) is not derived
  // and not touched. False on malformed input, as load().
  //
  // Atomic only towards freeze() (a checkpoint never holds half a rebuild): each part is emptied
  // and loaded under its own locks, so another reader meanwhile (a metric) may see an empty or
  // partly loaded state, and a mutation running meanwhile may be lost or survive. Call it only
  // where nothing else mutates the parts: on an HA follower every mutation is the replication
  // apply, serial with this on one strand, and the routes that read the state are forwarded to
  // the leader.
  bool rebuild(SnapshotReader& in);

 private:
  EventIngest& events_;
  BlendIndex& blend_;
  BlendFeed& blend_feed_;
  std::shared_ptr<Mutex> rebuilding_;  // held by freeze() and rebuild(); shared by copies
};

}  // namespace lmcache::core
