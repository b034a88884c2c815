#include "http/request_metrics.h"

namespace lmcache::http {

// The series of one (route, method): its latency histogram and a request
// counter per status, created on a status's first request.
class RequestMetrics::RouteSeries {
 public:
  RouteSeries(prometheus::Family<prometheus::Counter>& requests,
              prometheus::Family<prometheus::Histogram>& durations, std::string route,
              std::string method)
      : requests_(requests),
        route_(std::move(route)),
        method_(std::move(method)),
        duration_(durations.Add(
            {{"route", route_}, {"method", method_}},
            prometheus::Histogram::BucketBoundaries(kBuckets.begin(), kBuckets.end()))) {}

  void record(unsigned status, double seconds) {
    counter(status).Increment();
    duration_.Observe(seconds);
  }

 private:
  // Statuses a route keeps lock-free; a route answers only a handful.
  static constexpr size_t kStatusSlots = 8;

  // The counter of `status`. Slots fill in order and are never emptied: a
  // slot's counter is written before its status is published (release).
  prometheus::Counter& counter(unsigned status) {
    for (size_t i = 0; i < kStatusSlots; ++i) {
      const unsigned slot = statuses_[i].load(std::memory_order_acquire);
      if (slot == status) return *counters_[i];
      if (slot == 0) break;
    }
    return add_status(status);
  }

  prometheus::Counter& add_status(unsigned status) {
    std::lock_guard lock(add_mutex_);
    prometheus::Counter& added =
        requests_.Add({{"route", route_}, {"method", method_}, {"status", std::to_string(status)}});
    for (size_t i = 0; i < kStatusSlots; ++i) {
      const unsigned slot = statuses_[i].load(std::memory_order_relaxed);
      if (slot == status) break;  // another thread published it meanwhile
      if (slot == 0) {
        counters_[i] = &added;
        statuses_[i].store(status, std::memory_order_release);
        break;
      }
    }
    return added;  // past kStatusSlots statuses the family's own lookup serves
  }

  prometheus::Family<prometheus::Counter>& requests_;
  const std::string route_;
  const std::string method_;
  prometheus::Histogram& duration_;
  std::array<std::atomic<unsigned>, kStatusSlots> statuses_{};  // 0: slot free
  std::array<prometheus::Counter*, kStatusSlots> counters_{};   // written before its status
  std::mutex add_mutex_;                                        // serialises add_status
};

RequestMetrics::RequestMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("lmcache_coordinator_http_requests_total")
                    .Help("HTTP requests answered, by route, method and status.")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("lmcache_coordinator_http_request_duration_seconds")
                     .Help("Time to answer a request, by route and method.")
                     .Register(registry)) {}

RequestMetrics::~RequestMetrics() = default;

void RequestMetrics::observe(Router& router) {
  for (const auto& route : router.routes()) {
    routes_.push_back(
        std::make_unique<RouteSeries>(requests_, durations_, route.pattern,
                                      std::string(boost::beast::http::to_string(route.method))));
  }
  router.set_observer(
      [this](size_t route, boost::beast::http::verb method, unsigned status,
             std::chrono::nanoseconds elapsed) { record(route, method, status, elapsed); });
}

void RequestMetrics::record(size_t route, boost::beast::http::verb method, unsigned status,
                            std::chrono::nanoseconds elapsed) {
  RouteSeries& series = route < routes_.size() ? *routes_[route] : unmatched(method);
  series.record(status, std::chrono::duration<double>(elapsed).count());
}

RequestMetrics::RouteSeries& RequestMetrics::unmatched(boost::beast::http::verb method) {
  std::lock_guard lock(unmatched_mutex_);
  auto& series = unmatched_[method];
  if (series == nullptr) {
    series = std::make_unique<RouteSeries>(requests_, durations_, "unmatched",
                                           std::string(boost::beast::http::to_string(method)));
  }
  return *series;
}

}  // namespace lmcache::http
