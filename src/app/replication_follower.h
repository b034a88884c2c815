// ReplicationFollower: a follower's tail of the leader's mutation log (HA mode, warm takeover).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

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
#include <string_view>

#include "client/mp_client.h"
#include "core/mutation_log.h"

namespace lmcache::app {

// Keeps this node's soft state a copy of the leader's by replaying the leader's accepted
// mutations (GET /cluster/log on the leader, long-polled) through `apply`, in seq order, each
// once. While this node leads or knows no leader it idles (and looks again every 100 ms), so
// a follower that is elected (and held, see below) stops tailing with its state as it is, and
// a deposed leader starts following.
//
// Fencing and gaps: the log is read by (epoch, seq). A new leader's log starts at seq 1 of its
// epoch, and the follower starts it from there, keeping its state (the new leader was a
// follower of the same log: both are the old leader's state up to their own lags).
//
// Snapshots (GET /cluster/snapshot, in chunks, saved to `download_path` and checked as a
// checkpoint file): a follower whose state starts empty (no checkpoint loaded) first loads one
// and tails the log from the snapshot's position; replaying entries the snapshot already holds
// is harmless (the gates drop duplicates). A follower that finds a gap (the leader dropped
// entries it had not read, it is past the leader's newest entry, or an answer skips a seq)
// counts it and rebuilds the same way: its state is replaced by a snapshot (`load` empties it
// first; core::DerivedState::rebuild) and it tails from there, so what the leader deleted within
// the gap is gone and what it added is there.
//
// Metrics (in `metrics`): lmcache_coordinator_replication_applied_total,
// lmcache_coordinator_replication_lag_entries (entries the leader holds past the follower's
// position at its last answer), lmcache_coordinator_replication_gaps_total,
// lmcache_coordinator_replication_snapshots_total (snapshots loaded),
// lmcache_coordinator_replication_position (the last seq applied, or loaded with a snapshot, of
// the epoch followed).
//
// Election: a follower that wins is held (hold(), from the prepare step of the election,
// before it serves): the view it follows still names the old leader then, and an entry, a
// snapshot or an answer under way must not land on the state it is about to serve. It idles
// held until the view names a leader of a newer epoch (it lost or was deposed), then follows it.
//
// Runs on a strand of the executor; start(), stop() and hold() may be called from any thread.
// `apply` runs on that strand and must not block for long.
class ReplicationFollower : public std::enable_shared_from_this<ReplicationFollower> {
 public:
  struct Leader {
    std::string url;  // the leader's advertise URL
    int64_t epoch = 0;
  };
  // The leader to follow; nullopt while this node leads or knows none. Called on the strand.
  using LeaderSource = std::function<std::optional<Leader>()>;
  using Apply = std::function<void(core::Mutation& mutation)>;
  struct Snapshots {
    bool start_with_one = false;  // the state starts empty: load a snapshot first
    // Replaces the state with a snapshot's body (a checkpoint body); false when it does not load
    // (the state may then be partial).
    std::function<bool(std::string_view body)> load;
    std::string download_path;  // where a snapshot is saved while it arrives
  };

  ReplicationFollower(const boost::asio::any_io_executor& executor, LeaderSource leader,
                      Apply apply, Snapshots snapshots, prometheus::Registry& metrics);
  ReplicationFollower(const ReplicationFollower&) = delete;
  ReplicationFollower& operator=(const ReplicationFollower&) = delete;

  void start();
  // No request or apply starts after this has run on the strand.
  void stop();
  // This node won `epoch`: once `held` has run (on the strand), no entry or snapshot is applied
  // any more and no answer of a request sent before is used. Following resumes by itself when
  // the leader source names a leader of an epoch greater than `epoch` (epochs only grow).
  void hold(int64_t epoch, std::function<void()> held);

  // The position applied so far (for tests): the epoch followed and its last applied seq.
  std::pair<int64_t, uint64_t> position() const;

 private:
  void tick();
  void idle(std::chrono::milliseconds delay);
  // `generation`: generation_ when the request was sent; a stale answer is dropped (the loop
  // went on without it).
  void on_answer(const Leader& leader, uint64_t generation, client::MpResponse response);
  // Moves the position to `seq` (after_ and its gauge).
  void set_position(uint64_t seq);
  // Counts a gap; the next tick loads a snapshot.
  void on_gap(const std::string& why);
  // Asks for snapshot `id` from `offset` (id 0: a new snapshot).
  void fetch_snapshot(const Leader& leader, uint64_t id, uint64_t offset);
  void on_snapshot(const Leader& leader, uint64_t generation, client::MpResponse response);
  void load_snapshot();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  client::MpClient client_;  // not gated: a follower's reads carry no epoch
  LeaderSource leader_;
  Apply apply_;
  Snapshots snapshots_;
  prometheus::Counter& applied_;
  prometheus::Gauge& lag_;
  prometheus::Counter& gaps_;
  prometheus::Counter& snapshots_loaded_;
  prometheus::Gauge& position_;

  // Touched only on the strand (position() reads the atomics). One loop runs at a time: a tick
  // either sends one request or arms the timer, and its answer or the timer ticks again.
  bool stopped_ = false;
  bool started_ = false;
  int64_t held_epoch_ = 0;   // hold()'s epoch until a newer leader releases it; 0: not held
  uint64_t generation_ = 0;  // bumped by hold(): answers and timers of before are dropped
  bool needs_snapshot_ = false;
  uint64_t snapshot_id_ = 0;        // the snapshot being downloaded
  uint64_t snapshot_position_ = 0;  // its log position
  uint64_t snapshot_received_ = 0;  // bytes saved so far
  std::atomic<int64_t> epoch_{0};
  std::atomic<uint64_t> after_{0};
};

}  // namespace lmcache::app
