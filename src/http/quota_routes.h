#pragma once

#include "core/l2_accounting.h"
#include "core/quota_store.h"
#include "http/router.h"

namespace lmcache::http {

// The v2 dialect's quota routes (protocol-v2.md Part B 2.3): PUT and GET /quota/config (the
// default limit of salts without a quota), GET /quota, and PUT, DELETE and GET /quota/{salt}.
// They share the quota table with the seed-era /l2/quota routes. /quota/config is added before
// /quota/{salt}, so a salt named "config" cannot be set here (as upstream).
void add_quota_routes(Router& router, const core::L2Accounting& l2, core::QuotaStore& quotas);

}  // namespace lmcache::http
