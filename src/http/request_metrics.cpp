#include "http/request_metrics.h"

#include <limits>
#include <map>
#include <string>

#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::http {

namespace {

// Counters are spread over this many cache-line-aligned shards, one per recording thread (the
// server runs at most 4), so two threads recording the same route do not contend for one line.
constexpr size_t kShards = 4;

// This thread's shard.
size_t shard_index() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

}  // namespace

// The series of one (route, method): a latency histogram and a request counter per status.
class RequestMetrics::Series {
 public:
  Series(std::string route, std::string method)
      : route_(std::move(route)), method_(std::move(method)) {}

  void record(unsigned status, std::chrono::nanoseconds elapsed) {
    Shard& shard = shards_[shard_index()];
    count_status(shard, status);
    const double seconds = std::chrono::duration<double>(elapsed).count();
    size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    shard.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    shard.nanos.fetch_add(static_cast<uint64_t>(elapsed.count()), std::memory_order_relaxed);
  }

  bool empty() const {
    for (const Shard& shard : shards_) {
      for (const auto& bucket : shard.buckets) {
        if (bucket.load(std::memory_order_relaxed) != 0) return false;
      }
    }
    return true;
  }

  // Appends this series' status counters to `requests` and its histogram to `durations`.
  void collect(prometheus::MetricFamily& requests, prometheus::MetricFamily& durations) const {
    auto labels = [this](std::vector<prometheus::ClientMetric::Label> extra) {
      std::vector<prometheus::ClientMetric::Label> out{{"method", method_}, {"route", route_}};
      out.insert(out.end(), extra.begin(), extra.end());
      return out;
    };
    std::map<unsigned, uint64_t> by_status;
    for (size_t i = 0; i < kStatusSlots; ++i) {
      const unsigned status = statuses_[i].load(std::memory_order_acquire);
      if (status == 0) break;
      for (const Shard& shard : shards_) {
        by_status[status] += shard.status_counts[i].load(std::memory_order_relaxed);
      }
    }
    {
      core::MutexLock lock(overflow_mutex_);
      for (const auto& [status, count] : overflow_) by_status[status] += count;
    }
    for (const auto& [status, count] : by_status) {
      if (count == 0) continue;  // a slot claimed, its first count not yet added
      prometheus::ClientMetric metric;
      metric.label = labels({{"status", std::to_string(status)}});
      metric.counter.value = static_cast<double>(count);
      requests.metric.push_back(std::move(metric));
    }

    prometheus::ClientMetric metric;
    metric.label = labels({});
    uint64_t cumulative = 0;
    uint64_t nanos = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      for (const Shard& shard : shards_) {
        cumulative += shard.buckets[i].load(std::memory_order_relaxed);
      }
      metric.histogram.bucket.push_back(
          {cumulative,
           i < kBuckets.size() ? kBuckets[i] : std::numeric_limits<double>::infinity()});
    }
    for (const Shard& shard : shards_) nanos += shard.nanos.load(std::memory_order_relaxed);
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = static_cast<double>(nanos) / 1e9;
    durations.metric.push_back(std::move(metric));
  }

 private:
  // Statuses a series counts in its lock-free table; a route answers only a handful.
  static constexpr size_t kStatusSlots = 16;

  // One thread's counts.
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kStatusSlots> status_counts{};   // by slot of statuses_
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // not cumulative; last: +Inf
    std::atomic<uint64_t> nanos{0};
  };

  // Slots are claimed once (0 -> status) and never emptied.
  void count_status(Shard& shard, unsigned status) {
    for (size_t i = 0; i < kStatusSlots; ++i) {
      unsigned slot = statuses_[i].load(std::memory_order_acquire);
      if (slot == 0 &&
          statuses_[i].compare_exchange_strong(slot, status, std::memory_order_acq_rel)) {
        slot = status;
      }
      if (slot == status) {
        shard.status_counts[i].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    core::MutexLock lock(overflow_mutex_);
    ++overflow_[status];
  }

  const std::string route_;
  const std::string method_;
  std::array<std::atomic<unsigned>, kStatusSlots> statuses_{};  // 0: slot free; read-mostly
  std::array<Shard, kShards> shards_{};
  mutable core::Mutex overflow_mutex_;
  std::map<unsigned, uint64_t> overflow_ GUARDED_BY(overflow_mutex_);  // statuses past the table
};

RequestMetrics::RequestMetrics() {
  // Beast's verbs run from `unknown` (0) to the last, `unlink`.
  const auto verbs = static_cast<size_t>(boost::beast::http::verb::unlink) + 1;
  unmatched_.reserve(verbs);
  for (size_t verb = 0; verb < verbs; ++verb) {
    unmatched_.push_back(std::make_unique<Series>(
        "unmatched",
        std::string(boost::beast::http::to_string(static_cast<boost::beast::http::verb>(verb)))));
  }
}

RequestMetrics::~RequestMetrics() = default;

void RequestMetrics::observe(Router& router) {
  for (const auto& route : router.routes()) {
    routes_.push_back(std::make_unique<Series>(
        route.pattern, std::string(boost::beast::http::to_string(route.method))));
  }
  router.set_observer(
      [this](size_t route, boost::beast::http::verb method, unsigned status,
             std::chrono::nanoseconds elapsed) { record(route, method, status, elapsed); });
}

void RequestMetrics::record(size_t route, boost::beast::http::verb method, unsigned status,
                            std::chrono::nanoseconds elapsed) {
  Series* series = nullptr;
  if (route < routes_.size()) {
    series = routes_[route].get();
  } else {
    const auto verb = static_cast<size_t>(method);
    series = unmatched_[verb < unmatched_.size() ? verb : 0].get();
  }
  series->record(status, elapsed);
}

std::vector<prometheus::MetricFamily> RequestMetrics::Collect() const {
  prometheus::MetricFamily requests{"lmcache_coordinator_http_requests_total",
                                    "HTTP requests answered, by route, method and status.",
                                    prometheus::MetricType::Counter,
                                    {}};
  prometheus::MetricFamily durations{"lmcache_coordinator_http_request_duration_seconds",
                                     "Time to answer a request, by route and method.",
                                     prometheus::MetricType::Histogram,
                                     {}};
  for (const auto& series : routes_) series->collect(requests, durations);
  for (const auto& series : unmatched_) {
    if (!series->empty()) series->collect(requests, durations);
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(requests));
  families.push_back(std::move(durations));
  return families;
}

}  // namespace lmcache::http
