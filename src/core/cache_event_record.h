// The binary record of one admitted cache-event batch: what the HA leader's replication log
// carries for `POST /events`, a quarter of the batch's JSON, so shipping the log to followers
// costs the leader little.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/cache_event.h"

namespace lmcache::core {

// Appends the record of `batch` to `out`. Per entry a key's model and salt are written only
// when they differ from the previous entry's (a batch mostly repeats them).
void append_cache_event_record(std::string& out, const CacheEventBatch& batch);

// Decodes the record that is the whole of `bytes` and calls `visit` with its batch, whose
// views point into `bytes` and storage of this call. False, without calling `visit`, when
// `bytes` is not one whole record of a batch with an instance id, a seq >= 1 and a known type
// and tier. Allocates in proportion to `bytes`.
bool read_cache_event_record(std::string_view bytes,
                             const std::function<void(const CacheEventBatch&)>& visit);

}  // namespace lmcache::core
