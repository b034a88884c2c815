#include "core/instance_registry.h"

#include <random>

namespace lmcache::core {

std::string InstanceRegistry::mint_instance_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "mp-";
  for (int word = 0; word < 2; ++word) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i) {
      id.push_back(kHex[bits & 0xF]);
      bits >>= 4;
    }
  }
  return id;
}

InstanceRegistry::Registration InstanceRegistry::register_instance(InstanceRecord record,
                                                                   Clock::time_point now) {
  if (record.instance_id.empty()) record.instance_id = mint_instance_id();
  MutexLock lock(mutex_);
  auto it = entries_.find(record.instance_id);
  if (it != entries_.end()) {
    it->second.last_heartbeat = now;
    by_order_[it->second.order] = record;
    return {std::move(record.instance_id), true};
  }
  const uint64_t order = next_order_++;
  entries_.emplace(record.instance_id, Entry{order, now});
  std::string id = record.instance_id;
  by_order_.emplace(order, std::move(record));
  return {std::move(id), false};
}

bool InstanceRegistry::heartbeat(std::string_view instance_id, Clock::time_point now) {
  MutexLock lock(mutex_);
  auto it = entries_.find(instance_id);
  if (it == entries_.end()) return false;
  it->second.last_heartbeat = now;
  ++heartbeats_;
  return true;
}

bool InstanceRegistry::remove(std::string_view instance_id) {
  MutexLock lock(mutex_);
  auto it = entries_.find(instance_id);
  if (it == entries_.end()) return false;
  by_order_.erase(it->second.order);
  entries_.erase(it);
  return true;
}

std::vector<InstanceRecord> InstanceRegistry::list() const {
  MutexLock lock(mutex_);
  std::vector<InstanceRecord> records;
  records.reserve(by_order_.size());
  for (const auto& [order, record] : by_order_) records.push_back(record);
  return records;
}

std::vector<InstanceStatus> InstanceRegistry::statuses() const {
  MutexLock lock(mutex_);
  std::vector<InstanceStatus> out;
  out.reserve(by_order_.size());
  for (const auto& [order, record] : by_order_) {
    out.push_back({record, entries_.find(record.instance_id)->second.last_heartbeat});
  }
  return out;
}

std::optional<InstanceRecord> InstanceRegistry::find(std::string_view instance_id) const {
  MutexLock lock(mutex_);
  auto it = entries_.find(instance_id);
  if (it == entries_.end()) return std::nullopt;
  return by_order_.at(it->second.order);
}

size_t InstanceRegistry::size() const {
  MutexLock lock(mutex_);
  return entries_.size();
}

uint64_t InstanceRegistry::heartbeats() const {
  MutexLock lock(mutex_);
  return heartbeats_;
}

std::vector<std::string> InstanceRegistry::remove_lapsed(Clock::time_point now,
                                                         Clock::duration timeout) {
  MutexLock lock(mutex_);
  std::vector<std::string> removed;
  // The predicate runs inside erase_if, under `lock`.
  boost::unordered::erase_if(entries_, [&](const auto& item) REQUIRES(mutex_) {
    if (now - item.second.last_heartbeat <= timeout) return false;
    removed.push_back(item.first);
    by_order_.erase(item.second.order);
    return true;
  });
  return removed;
}

void InstanceRegistry::refresh_all(Clock::time_point now) {
  MutexLock lock(mutex_);
  for (auto& [id, entry] : entries_) entry.last_heartbeat = now;
}

}  // namespace lmcache::core
