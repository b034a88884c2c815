#include "app/allocator_tuning.h"

#include <cstdlib>
#include <string_view>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lmcache::app {

bool keep_freed_heap_memory() {
#if defined(__GLIBC__)
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up, before any thread
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr &&
      std::string_view(tunables).find("glibc.malloc.") != std::string_view::npos) {
    return false;
  }
  constexpr int kMappedFrom = 4 << 20;   // blocks this large are mapped and unmapped each time
  constexpr int kTrimBeyond = 64 << 20;  // free heap top kept up to this much
  // Setting either also stops glibc from moving both thresholds by itself.
  return mallopt(M_MMAP_THRESHOLD, kMappedFrom) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimBeyond) == 1;
#else
  return false;
#endif
}

}  // namespace lmcache::app
