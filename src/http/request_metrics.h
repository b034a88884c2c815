#pragma once

#include <array>
#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lmcache::http {

// Request counts and latency histograms per route, fed by Router's observer
// and rendered by GET /metrics. Recording is lock-free after a route's first
// request with a given method and status.
class RequestMetrics {
 public:
  // Upper bounds of the latency histogram buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  void record(std::string_view route, boost::beast::http::verb method, unsigned status,
              std::chrono::nanoseconds elapsed);

  // Appends the Prometheus text of both families.
  void render(std::string& out) const;

 private:
  struct Series {
    std::string route;  // pattern, or "unmatched"
    std::string method;
    unsigned status = 0;
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> nanos{0};
    std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};  // cumulative at render
  };

  Series& series(std::string_view route, std::string_view method, unsigned status);

  mutable std::mutex mutex_;  // guards the list, not the counters
  std::vector<std::unique_ptr<Series>> series_;
};

}  // namespace lmcache::http
