#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/router.h"

namespace lmcache::http {

// Request counts (by route pattern, method and status) and latency
// histograms (by route pattern and method), registered in a Prometheus
// registry and fed by a Router's observer. Requests that matched no route
// count under the route "unmatched".
//
// The series of every route are created by observe(), so recording a routed
// request takes no lock shared between routes: it finds its status counter in
// a small lock-free table of the route, then observes the route's histogram
// (which guards itself with its own mutex in prometheus-cpp 1.0).
class RequestMetrics {
 public:
  // Upper bounds of the latency histogram buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  explicit RequestMetrics(prometheus::Registry& registry);
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;
  ~RequestMetrics();

  // Creates the series of every route of `router` and becomes its observer.
  // Call once, after the last route is added and before dispatching; this
  // object must outlive the router's requests.
  void observe(Router& router);

  // Records one answered request. `route` indexes the routes of the router
  // given to observe(), or is Router::kNoRoute.
  void record(size_t route, boost::beast::http::verb method, unsigned status,
              std::chrono::nanoseconds elapsed);

 private:
  class RouteSeries;

  RouteSeries& unmatched(boost::beast::http::verb method);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  std::vector<std::unique_ptr<RouteSeries>> routes_;  // by route index; fixed by observe()
  std::mutex unmatched_mutex_;                        // guards unmatched_
  std::map<boost::beast::http::verb, std::unique_ptr<RouteSeries>> unmatched_;
};

}  // namespace lmcache::http
