#include "app/periodic_task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace lmcache::app {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// An io_context run by several threads, as the coordinator runs its own.
class PeriodicTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
  }

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{
      net::make_work_guard(io_)};
  std::vector<std::thread> threads_;
};

TEST_F(PeriodicTaskTest, RunsRepeatedlyUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicTask task(io_.get_executor(), 1ms, [&](PeriodicTask::Clock::duration) { ++runs; });
  task.start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (runs < 5 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_GE(runs, 5);
  task.stop();
  std::this_thread::sleep_for(50ms);
  const int after_stop = runs;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs, after_stop) << "the callback ran after stop()";
}

// stop() comes from another thread of the io_context (the shutdown handler) while a run is in
// progress on one of them: the run must finish without racing the stop, and no run follows.
TEST_F(PeriodicTaskTest, StopWhileACallbackRunsOnAnotherThread) {
  for (int round = 0; round < 30; ++round) {
    std::atomic<int> runs{0};
    std::atomic<bool> inside{false};
    PeriodicTask task(io_.get_executor(), 200us, [&](PeriodicTask::Clock::duration) {
      inside = true;
      ++runs;
      std::this_thread::sleep_for(300us);
      inside = false;
    });
    task.start();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!inside && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    task.stop();
    std::this_thread::sleep_for(5ms);
    const int after_stop = runs;
    std::this_thread::sleep_for(5ms);
    ASSERT_EQ(runs, after_stop) << "round " << round << ": the callback ran after stop()";
  }
}

}  // namespace
}  // namespace lmcache::app
