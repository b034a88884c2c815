#include "core/derived_state.h"

namespace lmcache::core {

void DerivedState::freeze(const std::function<void()>& during) {
  MutexLock lock(*rebuilding_);
  events_.freeze([&] { blend_feed_.freeze([&] { blend_.freeze(during); }); });
}

void DerivedState::save(SnapshotWriter& out) const {
  events_.save(out);
  blend_.save(out);
  blend_feed_.save(out);
}

bool DerivedState::rebuild(SnapshotReader& in) {
  MutexLock lock(*rebuilding_);
  // The feed's placements refer to the index's chunks: empty the feed first.
  blend_feed_.clear();
  blend_.clear();
  events_.clear();
  return load(in);
}

bool DerivedState::load(SnapshotReader& in) {
  // The feed's chunks are checked against the index, so the index comes first.
  return events_.load(in) && blend_.load(in) && blend_feed_.load(in);
}

}  // namespace lmcache::core
