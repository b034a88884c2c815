#include "core/string_interner.h"

#include <cassert>

namespace lmcache::core {

std::optional<uint32_t> StringInterner::find(std::string_view s) const {
  // Consecutive events nearly always carry the same model and salt: compare before hashing.
  if (last_ != kNone && names_[last_] == s) return last_;
  auto it = map_.find(s);
  if (it == map_.end()) return std::nullopt;
  last_ = it->second;
  return it->second;
}

uint32_t StringInterner::acquire(std::string_view s) {
  auto it = map_.find(s);
  if (it != map_.end()) {
    ++refs_[it->second];
    return it->second;
  }
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    names_[id] = std::string(s);
    refs_[id] = 1;
  } else {
    id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(s);
    refs_.push_back(1);
  }
  map_.emplace(names_[id], id);
  last_ = id;
  return id;
}

void StringInterner::release(uint32_t id) {
  assert(refs_[id] > 0);
  if (--refs_[id] != 0) return;
  map_.erase(std::string_view(names_[id]));
  names_[id] = std::string();
  free_ids_.push_back(id);
  if (last_ == id) last_ = kNone;
}

size_t StringInterner::memory_bytes() const {
  size_t total = flat_table_bytes(map_, sizeof(std::pair<std::string, uint32_t>));
  for (const auto& [name, id] : map_) total += 2 * string_heap_bytes(name);  // map key + names_
  total += names_.capacity() * sizeof(std::string) + refs_.capacity() * sizeof(uint64_t) +
           free_ids_.capacity() * sizeof(uint32_t);
  return total;
}

}  // namespace lmcache::core
