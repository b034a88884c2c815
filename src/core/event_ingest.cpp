#include "core/event_ingest.h"

namespace lmcache::core {

EventIngest::EventIngest(L2Accounting& l2)
    : l2_(l2), gate_([this](std::string_view instance_id) { fence(instance_id); }) {}

EventGate::Decision EventIngest::ingest(const CacheEventBatch& batch) {
  return gate_.admit(batch.instance_id, batch.incarnation, batch.seq,
                     [this, &batch] { consume(batch); });
}

void EventIngest::consume(const CacheEventBatch& batch) {
  if (admitted_observer_) admitted_observer_(batch);
  if (blend_feed_ != nullptr) blend_feed_->apply(batch);
  if (batch.type == CacheEventType::kConfig) {
    capacity_.declare(batch.instance_id, batch.incarnation, batch.capacity_revision, batch.tier,
                      batch.backend, batch.capacity_bytes, batch.shared);
    return;
  }
  l2_.apply_cache_batch(batch);
}

void EventIngest::fence(std::string_view instance_id) {
  l2_.fence_l1(instance_id);
  if (blend_feed_ != nullptr) blend_feed_->fence(instance_id);
}

void EventIngest::on_instance_deregistered(std::string_view instance_id) {
  gate_.forget(instance_id);
  capacity_.forget(instance_id);
}

void EventIngest::on_instance_timed_out(std::string_view instance_id) { gate_.forget(instance_id); }

EventIngest::Counters EventIngest::counters() const {
  return {gate_.counters(), rejected_.load(std::memory_order_relaxed)};
}

void EventIngest::freeze(const std::function<void()>& during) {
  MutexLock gate(gate_.mutex());
  MutexLock l2(l2_.mutex());
  MutexLock capacity(capacity_.mutex());
  during();
}

void EventIngest::save(SnapshotWriter& out) const {
  gate_.save(out);
  capacity_.save(out);
  l2_.save(out);
}

bool EventIngest::load(SnapshotReader& in) {
  return gate_.load(in) && capacity_.load(in) && l2_.load(in);
}

void EventIngest::clear() {
  gate_.clear();
  capacity_.clear();
  l2_.clear();
}

}  // namespace lmcache::core
