// Fuzzes the loading of a checkpoint body (core::EventIngest::load): a body that passed the
// file's digest but was written by another build, or crafted, must never crash the loader or
// make it allocate without bound.
//
// Input: a checkpoint body. Checks: loading ends (ok or failed); when it loads in full, the
// state it built saves and loads again in full.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/event_ingest.h"
#include "core/l2_accounting.h"
#include "core/snapshot_stream.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lmcache;
  core::L2Accounting l2{core::EvictionConfig{}};
  core::EventIngest ingest{l2};
  core::SnapshotReader in(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!ingest.load(in) || !in.at_end()) return 0;

  std::string saved;
  core::SnapshotWriter out([&saved](std::string_view chunk) {
    saved.append(chunk);
    return true;
  });
  ingest.save(out);
  fuzz::require(out.finish(), "a snapshot into memory failed");
  core::L2Accounting l2_again{core::EvictionConfig{}};
  core::EventIngest ingest_again{l2_again};
  core::SnapshotReader again(saved);
  fuzz::require(ingest_again.load(again) && again.at_end(), "a loaded state does not reload");
  fuzz::require(l2_again.total_bytes() == l2.total_bytes(), "usage changed by a reload");
  return 0;
}
