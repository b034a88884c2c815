#pragma once

#include <functional>
#include <string>

#include "http/router.h"

namespace lmcache::http {

// GET /metrics: the Prometheus text exposition produced by `render`.
void add_metrics_route(Router& router, std::function<std::string()> render);

}  // namespace lmcache::http
