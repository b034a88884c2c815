#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/etcd_client.h"
#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::app {

// What this node is in HA mode. A candidate knows no leader (etcd unreachable, or the key is
// being re-contested); a follower knows one; a leader holds the key on its lease and serves.
enum class Role { kCandidate, kFollower, kLeader };
const char* role_name(Role role);

// A consistent snapshot of the election, for /readyz, /cluster and forwarding.
struct LeadershipView {
  Role role = Role::kCandidate;
  std::optional<std::string> leader_url;  // the leader's advertise URL, when known
  int64_t epoch = 0;                      // the leader key's create revision; 0: none known
  // When this node's lease was last confirmed by etcd (as leader).
  std::optional<std::chrono::system_clock::time_point> last_renewal;
};

struct LeaderElectionOptions {
  std::string prefix = "/lmcache-coordinator/";  // the leader key is <prefix>leader
  std::string node_id;                           // unique per process
  std::string advertise_url;                     // how others reach this node
  std::chrono::seconds lease{5};
};

// Leadership on an etcd lease: the leader key is created in a transaction that succeeds only
// if it does not exist, attached to this node's lease; its value names the node and its
// advertise URL; the epoch is the key's create revision, so it only grows. No consensus is
// made here: etcd decides who holds the key.
//
// The leader renews its lease every lease/3. It counts its lease from the moment it sent the
// request that confirmed it (etcd counts from when it received it, which is later), and steps
// down at once when that time is up without a new confirmation: on_deposed runs and
// dispatch_epoch() answers nullopt from that instant, also if the process was paused. Others
// read the leader key every lease/10 (at least 100 ms, at most 500 ms) and campaign when it is
// gone; when etcd cannot be read they keep the leader they last saw for one lease time after
// they saw it, then know none. Failures to reach etcd are retried with backoff (100 ms doubling
// to 2 s).
//
// Runs on a strand of the executor; view() and dispatch_epoch() may be called from any thread.
class LeaderElection : public std::enable_shared_from_this<LeaderElection> {
 public:
  using Clock = std::chrono::steady_clock;

  struct Hooks {
    // After winning and before serving: load what a leader needs, then call `ready` (from any
    // thread) with true to become leader, false to give the key up. Empty: ready at once.
    std::function<void(int64_t epoch, std::function<void(bool)> ready)> prepare;
    // Right after becoming leader, on the election's strand.
    std::function<void(int64_t epoch)> on_elected;
    // Right after stepping down, on the election's strand, before anything else happens.
    std::function<void()> on_deposed;
  };

  LeaderElection(const boost::asio::any_io_executor& executor, client::EtcdClient& etcd,
                 LeaderElectionOptions options, Hooks hooks);
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  void start();
  // Stops campaigning; a leader steps down and revokes its lease so a follower takes over
  // without waiting for it to expire.
  void stop();
  // True once stop() has finished: the lease is revoked (or revoking it failed), or there was
  // none. A clean shutdown waits for this briefly.
  bool stopped() const { return resigned_.load(std::memory_order_acquire); }

  LeadershipView view() const EXCLUDES(mu_);

  // The epoch to stamp on an outbound dispatch: set only while this node leads and its lease is
  // confirmed up to now. The fencing check made before every MP-server call.
  std::optional<uint64_t> dispatch_epoch() const;

  // Whether this node won and serves as leader (not checking the lease's time, unlike
  // dispatch_epoch()); one atomic load, for the request path.
  bool serving() const { return serving_.load(std::memory_order_acquire); }

  const std::string& leader_key() const { return leader_key_; }
  const LeaderElectionOptions& options() const { return options_; }

 private:
  void schedule(Clock::duration delay);
  void tick();
  void follow_or_campaign();
  void campaign();
  void won(int64_t lease_id, int64_t epoch, Clock::time_point sent);
  void renew();
  void arm_lease_timer();
  // Leaves the leader role; `revoked` runs when the revoke of the lease has been answered.
  void step_down(const std::string& why, std::function<void(std::string)> revoked = {});
  void retry_later(const std::string& what, const std::string& error);
  void set_view(Role role, std::optional<std::string> leader_url, int64_t epoch) EXCLUDES(mu_);
  // Runs `f` on the strand (etcd callbacks arrive on the client's strands).
  template <typename F>
  auto on_strand(F f) {
    return [self = shared_from_this(), f = std::move(f)](auto result) mutable {
      boost::asio::post(self->strand_, [f = std::move(f), result = std::move(result)]() mutable {
        f(std::move(result));
      });
    };
  }

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer tick_timer_;   // the next follow, campaign or renewal
  boost::asio::steady_timer lease_timer_;  // fires when the leader's lease runs out
  client::EtcdClient& etcd_;
  const LeaderElectionOptions options_;
  const std::string leader_key_;
  const std::string leader_value_;  // {"node_id":...,"url":...}
  Hooks hooks_;

  // Touched only on the strand.
  bool stopped_ = false;
  bool leading_ = false;  // won and serving (or preparing to)
  uint64_t term_ = 0;     // grows at each step-down: older callbacks are ignored
  int64_t lease_id_ = 0;  // this node's lease while leading
  int64_t epoch_ = 0;     // while leading
  Clock::time_point lease_deadline_;
  Clock::duration backoff_{};
  bool etcd_failing_ = false;      // logged once per outage
  Clock::time_point leader_seen_;  // when another node was last read as leader

  // Read from any thread by dispatch_epoch().
  std::atomic<bool> serving_{false};
  std::atomic<bool> resigned_{false};  // stop() has finished
  std::atomic<int64_t> serving_epoch_{0};
  std::atomic<Clock::rep> serving_until_{0};  // lease deadline, time_since_epoch ticks

  mutable core::Mutex mu_;
  LeadershipView view_ GUARDED_BY(mu_);
};

}  // namespace lmcache::app
