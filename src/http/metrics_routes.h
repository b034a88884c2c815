#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "http/router.h"

namespace lmcache::http {

// GET /metrics: the Prometheus text exposition (format 0.0.4) of what each
// of `sources` collects at the time of the request, in order. The sources
// must outlive the router's requests.
void add_metrics_route(Router& router, std::vector<const prometheus::Collectable*> sources);

}  // namespace lmcache::http
