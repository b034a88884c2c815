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

  // Polls until `runs` reaches `n` or 10 s have passed; true when it did.
  static bool wait_for_runs(const std::atomic<int>& runs, int n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (runs < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100us);
    }
    return runs >= n;
  }

  // Proves that a stopped task stays stopped without sleeping a fixed time: a witness task on the
  // same executor and interval, started after the stop, must run `settle` times (by then the
  // stop has taken effect) and then `watch` more; the stopped task must not run in the latter.
  // Returns how often the stopped task ran while watched.
  int runs_while_witnessed(const std::atomic<int>& stopped_runs,
                           PeriodicTask::Clock::duration interval, int settle, int watch) {
    std::atomic<int> witness_runs{0};
    PeriodicTask witness(io_.get_executor(), interval,
                         [&](PeriodicTask::Clock::duration) { ++witness_runs; });
    witness.start();
    EXPECT_TRUE(wait_for_runs(witness_runs, settle)) << "the witness did not run";
    const int before = stopped_runs;
    EXPECT_TRUE(wait_for_runs(witness_runs, settle + watch)) << "the witness did not run";
    const int after = stopped_runs;
    witness.stop();
    return after - before;
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
  EXPECT_TRUE(wait_for_runs(runs, 5));
  task.stop();
  EXPECT_EQ(runs_while_witnessed(runs, 1ms, 5, 20), 0) << "the callback ran after stop()";
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
    ASSERT_EQ(runs_while_witnessed(runs, 200us, 3, 10), 0)
        << "round " << round << ": the callback ran after stop()";
  }
}

}  // namespace
}  // namespace lmcache::app
