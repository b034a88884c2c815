#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "http/router.h"

namespace lmcache::http {

// Request counts (by route pattern, method and status) and latency histograms (by route pattern
// and method), fed by a Router's observer and collected for GET /metrics as the families
// lmcache_coordinator_http_requests_total and lmcache_coordinator_http_request_duration_seconds.
// Requests that matched no route count under the route "unmatched".
//
// Recording takes no lock: every series is created up front and counts in atomics (the
// prometheus-cpp 1.0 histogram locks a mutex per observation, which every heartbeat would
// contend for). A collection may see a request counted and not yet timed; each counter is exact.
class RequestMetrics : public prometheus::Collectable {
 public:
  // Upper bounds of the latency histogram buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;
  ~RequestMetrics() override;

  // Creates the series of every route of `router` and becomes its observer. Call once, after
  // the last route is added and before dispatching; this object must outlive the router's
  // requests.
  void observe(Router& router);

  // Records one answered request. `route` indexes the routes of the router given to observe(),
  // or is Router::kNoRoute.
  void record(size_t route, boost::beast::http::verb method, unsigned status,
              std::chrono::nanoseconds elapsed);

  // Both families; every route's histogram (zeros until its first request), the status
  // counters seen so far, and the unmatched series of methods that were seen.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  class Series;

  std::vector<std::unique_ptr<Series>> routes_;  // by route index; fixed by observe()
  // Unmatched requests by method (every verb Beast knows, created up front).
  std::vector<std::unique_ptr<Series>> unmatched_;
};

}  // namespace lmcache::http
