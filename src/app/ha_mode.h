#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/coordinator_config.h"
#include "app/durable_write_queue.h"
#include "app/etcd_read_copy.h"
#include "app/leader_election.h"
#include "client/etcd_client.h"
#include "client/mp_client.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "http/cluster_routes.h"
#include "http/router.h"

namespace lmcache::app {

// HA mode (--etcd-endpoints): the election, follower forwarding and quotas kept in etcd.
//
// - A follower forwards every request but /healthz, /readyz, /cluster, /cluster/log,
//   /cluster/snapshot and /metrics to the leader
//   and relays its status, headers and body. With no leader known, or when the leader cannot be
//   reached, it answers 503 {"detail": ...} with Retry-After: 1. A forwarded request reaching a
//   node that does not lead is answered 503 too, never forwarded again.
// - The leader runs the routes itself. A quota or pin write (PUT/DELETE /l2/quota/{salt},
//   PUT/DELETE /quota/{salt}, PUT /quota/config, POST/DELETE /cache/pins) answered 2xx is then
//   written to etcd in a transaction fenced by the epoch, and answered only after etcd committed
//   it; when etcd refuses or cannot be reached the local change is undone and the answer is 503.
//   Writes of one key reach etcd one at a time, in the order they are answered
//   (DurableWriteQueue).
// - Every node keeps the quotas, the default and the pins in etcd as its local read copy
//   (EtcdReadCopy); on winning, before serving, a leader loads them once more.
//
// etcd layout under the prefix: `leader` (see LeaderElection), the rest as in EtcdReadCopy.
class HaMode {
 public:
  // The leader-only background work (health sweep, eviction loop, startup resync).
  struct Duties {
    std::function<void()> start;
    std::function<void()> stop;
    // On winning `epoch`, before anything is served as leader: stops what must not touch the
    // leader's state any more (the follower's tail) and opens the mutation log's epoch, then
    // calls `done` (from any thread; once). The quotas are then loaded from etcd, and the node
    // serves. Empty: nothing to do.
    std::function<void(int64_t epoch, std::function<void()> done)> prepare;
  };

  // `config.ha()` must be true; `port` is the bound port (for the default advertise URL).
  HaMode(const boost::asio::any_io_executor& executor, const CoordinatorConfig& config,
         uint16_t port, core::QuotaStore& quotas, core::Pins& pins, const Duties& duties);
  HaMode(const HaMode&) = delete;
  HaMode& operator=(const HaMode&) = delete;

  void start();
  // Steps down (revoking the lease) if leading; stopped() turns true when that is done.
  void stop();
  bool stopped() const;

  // See LeaderElection::dispatch_epoch(); the gate of every outbound MP call.
  std::optional<uint64_t> dispatch_epoch() const;
  http::ClusterStatus status() const;
  // The router front (http::Router::Front).
  bool front(http::HttpRequest& request, http::Respond& respond);

  // Header marking a request one node forwarded to another.
  static constexpr const char* kForwardedHeader = "X-LMCache-Forwarded-By";

 private:
  // The durable key a request changes, when it is a quota or pin write.
  std::optional<DurableKey> durable_key(const http::HttpRequest& request) const;
  void forward(http::HttpRequest& request, http::Respond& respond, const std::string& leader);
  // Writes one durable key in etcd, fenced by this leader's epoch (DurableWriteQueue::Write).
  void write_durable(const std::string& etcd_key, const std::optional<std::string>& value,
                     std::function<void(std::string)> done);

  client::EtcdClient etcd_;
  client::MpClient forward_client_;  // relays to the leader; never gated
  std::shared_ptr<LeaderElection> election_;
  std::shared_ptr<EtcdReadCopy> read_copy_;
  DurableWriteQueue writes_;
};

}  // namespace lmcache::app
