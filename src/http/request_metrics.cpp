#include "http/request_metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace lmcache::http {

RequestMetrics::Series& RequestMetrics::series(std::string_view route, std::string_view method,
                                               unsigned status) {
  std::lock_guard lock(mutex_);
  for (auto& s : series_) {
    if (s->status == status && s->route == route && s->method == method) return *s;
  }
  auto added = std::make_unique<Series>();
  added->route = std::string(route);
  added->method = std::string(method);
  added->status = status;
  series_.push_back(std::move(added));
  return *series_.back();
}

void RequestMetrics::record(std::string_view route, boost::beast::http::verb method,
                            unsigned status, std::chrono::nanoseconds elapsed) {
  Series& s =
      series(route.empty() ? "unmatched" : route, boost::beast::http::to_string(method), status);
  s.count.fetch_add(1, std::memory_order_relaxed);
  s.nanos.fetch_add(static_cast<uint64_t>(elapsed.count()), std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(elapsed).count();
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      s.buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
}

void RequestMetrics::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  out +=
      "# HELP lmcache_coordinator_http_requests_total HTTP requests answered, by route, method "
      "and status.\n# TYPE lmcache_coordinator_http_requests_total counter\n";
  for (const auto& s : series_) {
    out += fmt::format(
        "lmcache_coordinator_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
        s->route, s->method, s->status, s->count.load());
  }
  out +=
      "# HELP lmcache_coordinator_http_request_duration_seconds Time to answer a request, by "
      "route and method.\n# TYPE lmcache_coordinator_http_request_duration_seconds histogram\n";
  // One histogram per (route, method): merge the status series.
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& s : series_) {
    std::pair<std::string, std::string> key{s->route, s->method};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  for (const auto& [route, method] : keys) {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    uint64_t nanos = 0;
    for (const auto& s : series_) {
      if (s->route != route || s->method != method) continue;
      for (size_t i = 0; i < kBuckets.size(); ++i) buckets[i] += s->buckets[i].load();
      count += s->count.load();
      nanos += s->nanos.load();
    }
    const std::string labels = fmt::format("route=\"{}\",method=\"{}\"", route, method);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += buckets[i];
      out += fmt::format(
          "lmcache_coordinator_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
          kBuckets[i], cumulative);
    }
    out += fmt::format(
        "lmcache_coordinator_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
        count);
    out += fmt::format("lmcache_coordinator_http_request_duration_seconds_sum{{{}}} {:.9f}\n",
                       labels, static_cast<double>(nanos) / 1e9);
    out += fmt::format("lmcache_coordinator_http_request_duration_seconds_count{{{}}} {}\n", labels,
                       count);
  }
}

}  // namespace lmcache::http
