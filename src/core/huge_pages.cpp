#include "core/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace lmcache::core {

namespace {

size_t round_up(size_t bytes, size_t unit) { return (bytes + unit - 1) / unit * unit; }

constexpr size_t kLargestMapping = size_t{64} << 20;

}  // namespace

void* allocate_huge(size_t bytes) {
  const size_t size = round_up(bytes, kHugePageBytes);
  // Map one huge page more, then trim the unaligned head and the rest of the tail.
  void* raw = ::mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  char* const start = static_cast<char*>(raw);
  const size_t head =
      (kHugePageBytes - reinterpret_cast<uintptr_t>(raw) % kHugePageBytes) % kHugePageBytes;
  if (head > 0) ::munmap(start, head);
  // What is left after the aligned range: one huge page in all, minus the head.
  ::munmap(start + head + size, kHugePageBytes - head);
  void* p = start + head;
  ::madvise(p, size, MADV_HUGEPAGE);  // advice only: small pages if the kernel says no
  return p;
}

void free_huge(void* p, size_t bytes) noexcept { ::munmap(p, round_up(bytes, kHugePageBytes)); }

HugePageArena::~HugePageArena() {
  for (const Mapping& mapping : mappings_) free_huge(mapping.base, mapping.bytes);
}

void* HugePageArena::allocate(size_t bytes) {
  bytes = round_up(bytes, 64);
  if (mappings_.empty() || used_ + bytes > mappings_.back().bytes) {
    const size_t next =
        mappings_.empty() ? kHugePageBytes : std::min(mappings_.back().bytes * 2, kLargestMapping);
    const size_t size = round_up(std::max(next, bytes), kHugePageBytes);
    mappings_.push_back({allocate_huge(size), size});
    used_ = 0;
  }
  void* p = static_cast<char*>(mappings_.back().base) + used_;
  used_ += bytes;
  return p;
}

}  // namespace lmcache::core
