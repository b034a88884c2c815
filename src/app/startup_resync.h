#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/mp_client.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"

namespace lmcache::app {

struct ResyncOptions {
  std::chrono::steady_clock::duration poll_interval = std::chrono::seconds(1);
  std::chrono::steady_clock::duration max_wait = std::chrono::seconds(60);
  size_t page_size = 1000;  // clamped to 5000, the most an MP server accepts
};

// Startup resync: waits for the first MP server to register, then pages
// through its GET /l2/keys and records every parsable entry as a store, so a
// restarted coordinator knows what already sits in L2. Best effort: an HTTP
// failure keeps what was recorded and stops (the event stream corrects the
// rest). Runs asynchronously on the executor; never blocks it.
class StartupResync : public std::enable_shared_from_this<StartupResync> {
 public:
  static constexpr size_t kMaxPageSize = 5000;

  StartupResync(const boost::asio::any_io_executor& executor, ResyncOptions options,
                core::InstanceRegistry& registry, core::L2Accounting& l2, client::MpClient& client);

  void start();
  void stop();

  // Called once when the resync ends, however it ends, with how ("done",
  // "skipped", "gave up: ..."). Set before start().
  void on_finish(std::function<void(const std::string&)> callback) {
    on_finish_ = std::move(callback);
  }

  // Keys recorded so far (for tests and logs).
  uint64_t keys_recorded() const { return keys_recorded_; }

 private:
  void poll();
  void fetch_page(const std::optional<std::string>& token);
  void on_page(const client::MpKeysPageResult& result);
  void finish(const std::string& how);

  boost::asio::steady_timer timer_;
  ResyncOptions options_;
  core::InstanceRegistry& registry_;
  core::L2Accounting& l2_;
  client::MpClient& client_;
  std::chrono::steady_clock::time_point started_;
  std::optional<core::InstanceRecord> source_;
  uint64_t pages_ = 0;
  std::atomic<uint64_t> keys_recorded_{0};
  uint64_t skipped_ = 0;
  bool stopped_ = false;
  std::function<void(const std::string&)> on_finish_;
};

}  // namespace lmcache::app
