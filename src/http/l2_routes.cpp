#include "http/l2_routes.h"

namespace lmcache::http {

// TODO(l2 routes): being written; until then the L2 paths answer 404.
void add_l2_routes(Router&, core::L2Accounting&, core::QuotaStore&) {}

}  // namespace lmcache::http
