// How the process's allocator (glibc malloc) keeps memory it frees.
#pragma once

namespace lmcache::app {

// Keeps freed heap memory for reuse instead of returning it to the kernel after each request:
// blocks up to 4 MiB come from the heap, and the heap's free top is given back only beyond
// 64 MiB. With glibc's defaults a `/directory/lookup` by 32,768 tokens (a ~200 KB body read and
// a ~230 KB answer written) returned both to the kernel and faulted them in again on the next
// request, ~90 us of its ~390 us of CPU (bench/README.md). Larger blocks are still mapped and
// unmapped each time.
//
// Does nothing when the environment's GLIBC_TUNABLES sets a malloc tunable (the operator's
// choice wins), or when the C library is not glibc. Call once, at start-up, before threads.
// Returns true when the settings were applied.
bool keep_freed_heap_memory();

}  // namespace lmcache::app
