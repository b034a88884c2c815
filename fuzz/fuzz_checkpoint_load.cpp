// Fuzzes the loading of a checkpoint body (core::DerivedState::load: the event ingest, the blend
// index and the blend feed): a body that passed the file's digest but was written by another
// build, or crafted, must never crash the loader or make it allocate without bound.
//
// Input: a checkpoint body. Checks: loading ends (ok or failed); when it loads in full, the
// state it built saves and loads again in full, with the same usage and blend entries, and
// rebuilding (DerivedState::rebuild) a state from its own save leaves the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/derived_state.h"
#include "core/event_ingest.h"
#include "core/l2_accounting.h"
#include "core/snapshot_stream.h"
#include "fuzz_support.h"

namespace {

// The parts of a checkpoint, empty. The blend chunk size is the one of the corpus seeds.
struct State {
  lmcache::core::L2Accounting l2{lmcache::core::EvictionConfig{}};
  lmcache::core::EventIngest ingest{l2};
  lmcache::core::BlendIndex blend{4, 1, 1};
  lmcache::core::BlendFeed feed{blend};
  lmcache::core::DerivedState derived{ingest, blend, feed};
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lmcache;
  State state;
  core::SnapshotReader in(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!state.derived.load(in) || !in.at_end()) return 0;

  std::string saved;
  core::SnapshotWriter out([&saved](std::string_view chunk) {
    saved.append(chunk);
    return true;
  });
  state.derived.save(out);
  fuzz::require(out.finish(), "a snapshot into memory failed");
  State again;
  core::SnapshotReader reread(saved);
  fuzz::require(again.derived.load(reread) && reread.at_end(), "a loaded state does not reload");
  fuzz::require(again.l2.total_bytes() == state.l2.total_bytes(), "usage changed by a reload");
  fuzz::require(again.blend.entry_count() == state.blend.entry_count(),
                "blend entries changed by a reload");
  fuzz::require(again.feed.chunk_count() == state.feed.chunk_count(),
                "blend feed chunks changed by a reload");
  core::SnapshotReader rebuild_from(saved);
  fuzz::require(again.derived.rebuild(rebuild_from) && rebuild_from.at_end(),
                "a state does not rebuild from its own save");
  fuzz::require(again.l2.total_bytes() == state.l2.total_bytes(), "usage changed by a rebuild");
  fuzz::require(again.blend.entry_count() == state.blend.entry_count(),
                "blend entries changed by a rebuild");
  fuzz::require(again.feed.chunk_count() == state.feed.chunk_count(),
                "blend feed chunks changed by a rebuild");
  return 0;
}
