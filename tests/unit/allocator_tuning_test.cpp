#include "app/allocator_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace lmcache::app {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kOwnAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kOwnAllocator = true;
#else
constexpr bool kOwnAllocator = false;
#endif
#else
constexpr bool kOwnAllocator = false;
#endif

// Blocks glibc currently holds as separate mappings.
size_t mapped_blocks() { return mallinfo2().hblks; }

// Whether a block of `bytes` is mapped on its own while it is held.
bool is_mapped(size_t bytes) {
  const size_t before = mapped_blocks();
  void* volatile block = std::malloc(bytes);
  const bool mapped = mapped_blocks() > before;
  std::free(block);
  return mapped;
}

// Sets GLIBC_TUNABLES for the test's scope, then restores it.
class ScopedTunables {
 public:
  explicit ScopedTunables(const char* value) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the test runs alone in its process
    if (const char* old = std::getenv("GLIBC_TUNABLES")) old_ = old;
    ::setenv("GLIBC_TUNABLES", value, 1);  // NOLINT(concurrency-mt-unsafe)
  }
  ~ScopedTunables() {
    if (old_) {
      ::setenv("GLIBC_TUNABLES", old_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
      ::unsetenv("GLIBC_TUNABLES");  // NOLINT(concurrency-mt-unsafe)
    }
  }
  ScopedTunables(const ScopedTunables&) = delete;
  ScopedTunables& operator=(const ScopedTunables&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(AllocatorTuningTest, AnOperatorsMallocTunableWins) {
  const ScopedTunables tunables("glibc.malloc.arena_max=2");
  EXPECT_FALSE(keep_freed_heap_memory());
}

TEST(AllocatorTuningTest, BlocksUpToFourMibComeFromTheHeapLargerOnesAreMapped) {
  if (kOwnAllocator) GTEST_SKIP() << "a sanitizer replaces malloc in this build";
  const ScopedTunables tunables("glibc.mem.tagging=0");  // no malloc tunable: ours apply
  ASSERT_TRUE(keep_freed_heap_memory());
  EXPECT_FALSE(is_mapped(size_t{1} << 20));  // glibc's default maps anything from 128 KiB
  EXPECT_FALSE(is_mapped(size_t{3} << 20));
  EXPECT_TRUE(is_mapped(size_t{8} << 20));
}

}  // namespace
}  // namespace lmcache::app
