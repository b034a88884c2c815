#pragma once

#include <functional>

#include "core/blend_index.h"
#include "http/router.h"

namespace lmcache::http {

// Told the number of matches of every answered match request (for metrics).
using BlendMatchObserver = std::function<void(size_t matches)>;

// POST /blend/fingerprints, DELETE /blend/fingerprints and POST /blend/match.
void add_blend_routes(Router& router, core::BlendIndex& index, BlendMatchObserver on_match = {});

}  // namespace lmcache::http
