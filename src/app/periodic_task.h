#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace lmcache::app {

// Runs a callback every `interval` on a strand of an executor, until stopped.
// The callback learns how late the run is against its schedule, so a caller
// can tell a stalled process from a quiet fleet. start() and stop() may be
// called from any thread; no run starts after stop() has taken effect.
class PeriodicTask {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(Clock::duration lateness)>;

  PeriodicTask(const boost::asio::any_io_executor& executor, Clock::duration interval,
               Callback callback);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void start();
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace lmcache::app
