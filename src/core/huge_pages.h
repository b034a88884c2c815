// Memory for the large tables of the derived state, backed by transparent huge pages where the
// kernel allows it (madvise mode). A checkpoint forks the process (app/checkpointer.h), and a
// fork copies the page tables while the state is frozen: on 4 KiB pages 1.2 GB took 37 to 79 ms
// to fork on this machine class, on 2 MiB pages under 1 ms (bench/README.md).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace lmcache::core {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Maps `bytes` rounded up to whole huge pages, aligned to a huge page and advised for huge
// pages. Throws std::bad_alloc when the mapping fails. Free with free_huge(p, bytes).
void* allocate_huge(size_t bytes);
void free_huge(void* p, size_t bytes) noexcept;

// A standard allocator that takes huge pages for allocations of at least one huge page and the
// default allocator for smaller ones (the size decides both ways, so deallocation matches). For
// hash tables whose bucket arrays grow to hundreds of megabytes.
template <typename T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) return static_cast<T*>(allocate_huge(bytes));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) {
      free_huge(p, bytes);
    } else {
      std::allocator<T>().deallocate(p, n);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

// Fixed-size blocks carved one after another from huge-page mappings that double in size (from
// 2 MiB up to 64 MiB), so blocks of any size share huge pages without rounding each up. Blocks
// live until the arena is destroyed. Pages are touched only when used, so the unused tail of the
// last mapping costs address space, not memory. Not thread-safe.
class HugePageArena {
 public:
  HugePageArena() = default;
  ~HugePageArena();
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  // `bytes` of memory aligned to 64 bytes, uninitialised.
  void* allocate(size_t bytes);

 private:
  struct Mapping {
    void* base;
    size_t bytes;
  };
  std::vector<Mapping> mappings_;
  size_t used_ = 0;  // bytes handed out from the last mapping
};

}  // namespace lmcache::core
