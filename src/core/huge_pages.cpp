#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace lmcache::core {

namespace {
size_t round_up(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}
}  // namespace

void* allocate_huge(size_t bytes) {
  const size_t size = round_up(bytes);
  // Map one huge page more, then trim the unaligned head and the rest of the tail.
  void* raw = ::mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + size + kHugePageBytes;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  void* p = reinterpret_cast<void*>(aligned);
  ::madvise(p, size, MADV_HUGEPAGE);  // advice only: small pages if the kernel says no
  return p;
}

void free_huge(void* p, size_t bytes) noexcept { ::munmap(p, round_up(bytes)); }

}  // namespace lmcache::core
