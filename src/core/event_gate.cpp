#include "core/event_gate.h"

#include <utility>

namespace lmcache::core {

EventGate::EventGate(FenceHook on_fence) : on_fence_(std::move(on_fence)) {}

EventGate::Decision EventGate::judge(std::string_view instance_id, uint64_t incarnation,
                                     uint64_t seq) {
  Decision decision;
  auto it = cursors_.find(instance_id);
  if (it == cursors_.end()) {
    it = cursors_.emplace(std::string(instance_id), Cursor{incarnation, 0, false}).first;
  } else if (incarnation < it->second.incarnation) {
    decision.verdict = Verdict::kStale;
    ++counters_.stale;
    return decision;
  } else if (incarnation > it->second.incarnation) {
    // The MP server restarted: what its previous incarnation reported about its memory is void.
    ++counters_.fences;
    decision.fenced = true;
    if (on_fence_) on_fence_(instance_id);
    it->second = Cursor{incarnation, 0, false};
  }
  Cursor& cursor = it->second;
  decision.last_seq = cursor.last_seq;
  if (seq <= cursor.last_seq) {
    decision.verdict = Verdict::kDuplicate;
    ++counters_.duplicates;
    return decision;
  }
  if (seq > cursor.last_seq + 1) {
    decision.gap = true;
    decision.first_gap = !cursor.gap_detected;
    cursor.gap_detected = true;
    ++counters_.gaps;
  }
  cursor.last_seq = seq;
  ++counters_.admitted;
  return decision;
}

void EventGate::forget(std::string_view instance_id) {
  MutexLock lock(mutex_);
  auto it = cursors_.find(instance_id);
  if (it == cursors_.end()) return;
  ++counters_.fences;
  if (on_fence_) on_fence_(instance_id);
  cursors_.erase(it);
}

std::optional<EventGate::Cursor> EventGate::cursor(std::string_view instance_id) const {
  MutexLock lock(mutex_);
  auto it = cursors_.find(instance_id);
  if (it == cursors_.end()) return std::nullopt;
  return it->second;
}

size_t EventGate::cursor_count() const {
  MutexLock lock(mutex_);
  return cursors_.size();
}

EventGate::Counters EventGate::counters() const {
  MutexLock lock(mutex_);
  return counters_;
}

void EventGate::save(SnapshotWriter& out) const {
  out.u64(cursors_.size());
  for (const auto& [instance_id, cursor] : cursors_) {
    out.str(instance_id);
    out.u64(cursor.incarnation);
    out.u64(cursor.last_seq);
    out.boolean(cursor.gap_detected);
  }
}

void EventGate::clear() {
  MutexLock lock(mutex_);
  cursors_.clear();
}

bool EventGate::load(SnapshotReader& in) {
  MutexLock lock(mutex_);
  const uint64_t n = in.count(21);
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const std::string_view instance_id = in.str();
    Cursor cursor;
    cursor.incarnation = in.u64();
    cursor.last_seq = in.u64();
    cursor.gap_detected = in.boolean();
    if (in.ok()) cursors_.insert_or_assign(std::string(instance_id), cursor);
  }
  return in.ok();
}

}  // namespace lmcache::core
