#pragma once

#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/router.h"

namespace lmcache::http {

// POST /l2/events, PUT and DELETE /l2/quota/{salt}, GET /l2/status and
// GET /l2/status/{salt}.
void add_l2_routes(Router& router, core::L2Accounting& l2, core::QuotaStore& quotas);

}  // namespace lmcache::http
