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
#include "client/etcd_watch.h"
#include "core/mutex.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "core/thread_annotations.h"

namespace lmcache::app {

// etcd layout under the prefix: `quota/<salt>` = limit bytes in decimal, `quota-default` = bytes
// or "none", `pins` = the whole pin table as a JSON array of {"key": EncodedObjectKey, "count":
// N} (rewritten at each pin write: pins are operator actions, few and rare).
//
// Every node keeps its local copy current by watching the prefix (client::EtcdWatch): when etcd
// reports a change, the node rereads the whole prefix at one revision and makes the local state
// that snapshot (rereads coalesce: one in flight, at most one more after it). A change therefore
// shows on every node within a round trip or two, and the copy is always one consistent revision.
// The watch starts after the newest snapshot read, so a change between the read and the watch
// is replayed, not lost.
//
// When the watch closes (etcd restarted or unreachable, the connection cut, the revision to
// resume from compacted away, a message over the size bound), the prefix is reread and a new
// watch starts after the newest snapshot read, on the next endpoint in order, after a back-off
// (0.2 s doubling to 5 s; back to 0.2 s after a watch that etcd had confirmed).
//
// A slow poll stays as the safety net for a watch that misses a change or hangs (its member
// stalled without closing the connection; the watch is not restarted then): it reads the
// store's revision (a count-only range) and rereads the prefix when it moved since the copy was
// taken; every `watched_poll` while the watch is confirmed, every `unwatched_poll` while it is
// not (connecting, or backing off).
//
// The node that serves as leader is the one writer: it does not apply watched or polled
// snapshots, its local state is ahead of etcd between a change and its commit
// (DurableWriteQueue). A node that wins loads the prefix once more before serving (load()); one
// that stops serving catches up at its next poll (`unwatched_poll`).
//
// Runs on a strand of the executor; start() and stop() may be called from any thread.
class EtcdReadCopy : public std::enable_shared_from_this<EtcdReadCopy> {
 public:
  struct Options {
    // How often the revision is read while the watch is not confirmed; also how soon a node
    // that stops serving looks at etcd again.
    std::chrono::milliseconds unwatched_poll{500};
    // How often the revision is read while the watch is confirmed (the safety net).
    std::chrono::milliseconds watched_poll{5000};
    // false: no watch, only the poll at `unwatched_poll` (for tests of the safety net).
    bool watch = true;
  };

  // `serving` tells whether this node serves as leader (any thread). The watch uses the
  // endpoints of `etcd`.
  EtcdReadCopy(const boost::asio::any_io_executor& executor, client::EtcdClient& etcd,
               std::string prefix, core::QuotaStore& quotas, core::Pins& pins, Options options,
               std::function<bool()> serving);
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
  // Reads the prefix and applies it; coalesced (see above). Then makes sure a watch runs.
  void reread();
  // Starts the watch unless one runs, a reconnect waits, a reread is in flight or nothing was
  // read yet.
  void watch();
  void watch_changed(int64_t revision);
  void watch_closed(const std::string& reason);
  // Makes the local state the snapshot `kvs` read at `at_revision`; false if a value is malformed.
  // A reread (`force` false) applies only a newer revision, and only while this node does not
  // serve.
  bool apply(const std::vector<client::EtcdKeyValue>& kvs, int64_t at_revision, bool force)
      EXCLUDES(apply_mu_);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;            // the next poll
  boost::asio::steady_timer reconnect_timer_;  // the next watch after one closed
  client::EtcdClient& etcd_;
  const std::string prefix_;
  core::QuotaStore& quotas_;
  core::Pins& pins_;
  const Options options_;
  const std::function<bool()> serving_;

  // On the strand:
  bool stopped_ = false;
  std::shared_ptr<client::EtcdWatch> watch_;  // the running watch, if any
  bool reconnect_waiting_ = false;            // reconnect_timer_ is armed
  std::chrono::milliseconds backoff_;         // the wait before the next reconnect
  size_t next_endpoint_ = 0;                  // index into etcd_.endpoints() for the next watch
  bool rereading_ = false;                    // a reread is in flight
  bool reread_again_ = false;                 // a change arrived during it: read once more
  int64_t read_revision_ = 0;  // the newest snapshot read (applied or not: the leader skips)
  core::Mutex apply_mu_;       // one snapshot applied at a time (polls and load())
  std::atomic<int64_t> applied_revision_{0};
};

}  // namespace lmcache::app
