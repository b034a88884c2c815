// Reading the coordinator's GET /metrics in tests.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "http_test_client.h"

namespace lmcache::testing {

// The value of one sample of GET /metrics, named as exposed with its labels,
// e.g. "lmcache_coordinator_eviction_sweeps_total"; nullopt when absent.
std::optional<double> metric_value(HttpTestClient& client, const std::string& sample);

// Polls GET /metrics until `sample` is at least `at_least`; false when
// `timeout` passed first. Lets a test wait for a loop to have run, a positive
// event, before it checks that something did not happen.
bool wait_for_metric(HttpTestClient& client, const std::string& sample, double at_least,
                     std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Waits until the eviction loop has run `sweeps` more sweeps (sweeps with an
// instance registered) than when called; false on timeout.
bool wait_for_more_eviction_sweeps(HttpTestClient& client, int sweeps,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace lmcache::testing
