#include "core/pinned_keys.h"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace lmcache::core {

bool PinnedKeys::contains(const ObjectKeyView& key) const {
  if (empty()) return false;
  ReaderMutexLock lock(mu_);
  return counts_.contains(key);
}

uint64_t PinnedKeys::count(const ObjectKeyView& key) const {
  ReaderMutexLock lock(mu_);
  const auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<PinCount> PinnedKeys::sorted() const {
  std::vector<PinCount> pins;
  {
    ReaderMutexLock lock(mu_);
    pins.reserve(counts_.size());
    for (const auto& [key, count] : counts_) pins.push_back({key, count});
  }
  auto order = [](const PinCount& pin) {
    const ObjectKey& k = pin.key;
    return std::make_tuple(std::string_view(k.model_name), std::string_view(k.cache_salt),
                           std::string_view(k.chunk_hash), kv_rank_to_wire(k.kv_rank),
                           k.object_group_id);
  };
  std::sort(pins.begin(), pins.end(),
            [&order](const PinCount& a, const PinCount& b) { return order(a) < order(b); });
  return pins;
}

void PinnedKeys::apply(std::span<const PinCount> counts) {
  WriterMutexLock lock(mu_);
  for (const PinCount& pin : counts) {
    if (pin.count == 0) {
      counts_.erase(ObjectKeyView(pin.key));
    } else {
      counts_.insert_or_assign(pin.key, pin.count);
    }
  }
  size_.store(counts_.size(), std::memory_order_release);
}

}  // namespace lmcache::core
