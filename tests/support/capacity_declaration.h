// A v2 capacity declaration for unit tests: the `config` batch an MP server sends to declare its
// L2 backend's capacity (protocol-v2.md Part A item 1).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/cache_event.h"

namespace lmcache::testing {

// Instance `instance` (incarnation, seq) declares `bytes` of capacity on its L2 backend "fs", at
// declaration revision `revision`.
inline core::CacheEventBatch capacity_declaration(std::string_view instance, uint64_t incarnation,
                                                  uint64_t seq, uint64_t bytes, uint64_t revision) {
  core::CacheEventBatch batch;
  batch.instance_id = instance;
  batch.incarnation = incarnation;
  batch.seq = seq;
  batch.type = core::CacheEventType::kConfig;
  batch.tier = core::CacheTier::kL2;
  batch.backend = "fs";
  batch.capacity_bytes = bytes;
  batch.capacity_revision = revision;
  return batch;
}

}  // namespace lmcache::testing
