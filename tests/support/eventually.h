// Waiting for a positive condition in tests that drive processes: poll it, with a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace lmcache::testing {

// Polls `condition` every 20 ms until it holds; false when `timeout` passes first.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace lmcache::testing
