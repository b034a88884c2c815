// The quotas, the default quota and the pins as etcd holds them, mirrored into the local
// QuotaStore and Pins on every node (HA mode).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/durable_write_queue.h"
#include "client/etcd_client.h"
#include "core/mutex.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "core/thread_annotations.h"

namespace lmcache::app {

// etcd layout under the prefix: `quota/<salt>` = limit bytes in decimal, `quota-default` = bytes
// or "none", `pins` = the whole pin table as a JSON array of {"key": EncodedObjectKey, "count":
// N} (rewritten at each pin write: pins are operator actions, few and rare).
//
// Every node keeps its local copy current by polling: every `interval` it reads the store's
// revision (a count-only range, a few bytes), and only when that moved since the copy was taken
// reads the whole prefix at one revision and makes the local state that snapshot. A change
// therefore shows on every node within about one interval, and the copy is always one
// consistent revision. (A poll rather than etcd's /v3/watch: the gateway's watch is a
// never-ending chunked response, which the project's request/answer HTTP client does not read;
// a poll needs no second client, no stream resumption and no compaction handling, and costs one
// tiny read per interval. A watch would only shorten the delay.)
//
// The node that serves as leader is the one writer: it does not apply polled snapshots, its
// local state is ahead of etcd between a change and its commit (DurableWriteQueue). A node that
// wins loads the prefix once more before serving (load()).
//
// Runs on a strand of the executor; start() and stop() may be called from any thread.
class EtcdReadCopy : public std::enable_shared_from_this<EtcdReadCopy> {
 public:
  // `serving` tells whether this node serves as leader (any thread).
  EtcdReadCopy(const boost::asio::any_io_executor& executor, client::EtcdClient& etcd,
               std::string prefix, core::QuotaStore& quotas, core::Pins& pins,
               std::chrono::milliseconds interval, std::function<bool()> serving);
  EtcdReadCopy(const EtcdReadCopy&) = delete;
  EtcdReadCopy& operator=(const EtcdReadCopy&) = delete;

  void start();
  void stop();

  // Reads the prefix and makes the local state that snapshot; `ready(false)` when etcd cannot
  // be read or a value does not parse (the local state is then unchanged).
  void load(std::function<void(bool)> ready);

  // The etcd revision the local copy was last taken at (0: never).
  int64_t revision() const { return applied_revision_.load(std::memory_order_acquire); }

  // The durable keys a quota or pin route changes, for DurableWriteQueue.
  DurableKey salt_key(const std::string& salt);
  DurableKey default_key();
  DurableKey pins_key();

 private:
  void schedule();
  void poll();
  // Makes the local state the snapshot `kvs` read at `at_revision`; false if a value is malformed.
  // A poll (`force` false) applies only a newer revision, and only while this node does not serve.
  bool apply(const std::vector<client::EtcdKeyValue>& kvs, int64_t at_revision, bool force)
      EXCLUDES(apply_mu_);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  client::EtcdClient& etcd_;
  const std::string prefix_;
  core::QuotaStore& quotas_;
  core::Pins& pins_;
  const std::chrono::milliseconds interval_;
  const std::function<bool()> serving_;

  bool stopped_ = false;  // on the strand
  core::Mutex apply_mu_;  // one snapshot applied at a time (polls and load())
  std::atomic<int64_t> applied_revision_{0};
};

}  // namespace lmcache::app
