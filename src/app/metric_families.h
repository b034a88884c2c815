// Building blocks of the metric families that components collect at scrape time.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>
#include <utility>
#include <vector>

namespace lmcache::app {

// An empty family named lmcache_coordinator_<name>.
inline prometheus::MetricFamily metric_family(std::string name, std::string help,
                                              prometheus::MetricType type) {
  return prometheus::MetricFamily{
      "lmcache_coordinator_" + std::move(name), std::move(help), type, {}};
}

// Adds one sample to a counter or gauge family.
inline void add_sample(prometheus::MetricFamily& family, double value,
                       std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

// A family of one unlabelled sample.
inline prometheus::MetricFamily single_metric(std::string name, std::string help,
                                              prometheus::MetricType type, double value) {
  prometheus::MetricFamily out = metric_family(std::move(name), std::move(help), type);
  add_sample(out, value);
  return out;
}

}  // namespace lmcache::app
