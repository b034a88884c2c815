#include "http/blend_routes.h"

namespace lmcache::http {

// TODO(blend routes): being written; until then the blend paths answer 404.
void add_blend_routes(Router&, core::BlendIndex&) {}

}  // namespace lmcache::http
