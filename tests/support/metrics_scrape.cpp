#include "metrics_scrape.h"

#include <sstream>
#include <thread>

namespace lmcache::testing {

std::optional<double> metric_value(HttpTestClient& client, const std::string& sample) {
  const TestResponse res = client.get("/metrics");
  if (res.status != 200) return std::nullopt;
  std::istringstream lines(res.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ') {
      try {
        return std::stod(line.substr(sample.size() + 1));
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

bool wait_for_metric(HttpTestClient& client, const std::string& sample, double at_least,
                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const std::optional<double> value = metric_value(client, sample);
    if (value && *value >= at_least) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool wait_for_more_eviction_sweeps(HttpTestClient& client, int sweeps,
                                   std::chrono::milliseconds timeout) {
  const std::string sample = "lmcache_coordinator_eviction_sweeps_total";
  const std::optional<double> now = metric_value(client, sample);
  return now && wait_for_metric(client, sample, *now + sweeps, timeout);
}

}  // namespace lmcache::testing
