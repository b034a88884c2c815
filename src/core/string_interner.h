// StringInterner: strings mapped to small reference-counted ids.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_hash.h"

namespace lmcache::core {

// Each distinct string gets the smallest free id; an id is reused once its reference count drops
// to 0. Not thread-safe, not even const calls: find() caches its last hit.
class StringInterner {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  std::optional<uint32_t> find(std::string_view s) const;
  uint32_t acquire(std::string_view s);  // finds or adds, and counts one more reference
  void add_ref(uint32_t id) { ++refs_[id]; }
  void release(uint32_t id);  // one reference less; forgets the string at 0
  const std::string& name(uint32_t id) const { return names_[id]; }
  size_t live() const { return map_.size(); }
  size_t capacity() const { return names_.size(); }
  size_t memory_bytes() const;

 private:
  boost::unordered_flat_map<std::string, uint32_t, StringHash, StringEqual> map_;
  std::vector<std::string> names_;  // by id; "" when free
  std::vector<uint64_t> refs_;      // by id
  std::vector<uint32_t> free_ids_;
  mutable uint32_t last_ = kNone;  // id of the string found last; a cache, kNone when unset
};

// Bytes of an unordered_flat_{set,map} bucket array holding `slot` sized values.
template <typename Table>
size_t flat_table_bytes(const Table& table, size_t slot) {
  const size_t buckets = table.bucket_count();
  if (buckets == 0) return 0;
  // capacity() is groups * 15 - 1; each group adds 16 bytes of metadata.
  return (buckets + 1) * slot + (buckets + 1) / 15 * 16;
}

// Heap bytes of a std::string (libstdc++ keeps up to 15 chars inline).
inline size_t string_heap_bytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

}  // namespace lmcache::core
