#include "core/sequence_tracker.h"

#include <functional>

namespace lmcache::core {

SequenceTracker::Verdict SequenceTracker::check(std::string_view instance_id, uint64_t seq) {
  auto it = last_.find(instance_id);
  if (it == last_.end()) {
    last_.emplace(std::string(instance_id), seq);
    return Verdict::kApply;
  }
  uint64_t& last = it->second;
  if (seq <= last) {
    ++duplicates_;
    return Verdict::kDuplicate;
  }
  const uint64_t skipped = seq - last - 1;
  last = seq;
  if (skipped == 0) return Verdict::kApply;
  ++gaps_;
  missed_ += skipped;
  return Verdict::kGap;
}

void SequenceTracker::reset(std::string_view instance_id) {
  auto it = last_.find(instance_id);
  if (it != last_.end()) last_.erase(it);
}

std::optional<uint64_t> SequenceTracker::last_seq(std::string_view instance_id) const {
  auto it = last_.find(instance_id);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

void SequenceTracker::save(SnapshotWriter& out) const {
  out.u64(last_.size());
  for (const auto& [instance_id, seq] : last_) {
    out.str(instance_id);
    out.u64(seq);
  }
}

bool SequenceTracker::load(SnapshotReader& in) {
  const uint64_t n = in.count(12);
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const std::string_view instance_id = in.str();
    const uint64_t seq = in.u64();
    if (in.ok()) last_.insert_or_assign(std::string(instance_id), seq);
  }
  return in.ok();
}

}  // namespace lmcache::core
