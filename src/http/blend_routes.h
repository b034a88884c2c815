#pragma once

#include "core/blend_index.h"
#include "http/router.h"

namespace lmcache::http {

// POST /blend/fingerprints, DELETE /blend/fingerprints and POST /blend/match.
void add_blend_routes(Router& router, core::BlendIndex& index);

}  // namespace lmcache::http
