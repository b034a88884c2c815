#include "app/leader_election.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace lmcache::app {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(2);

// What a leader key's value says: its node id and URL (empty when the value is not ours).
struct LeaderValue {
  std::string node_id;
  std::string url;
};

LeaderValue parse_leader_value(const std::string& text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  LeaderValue out;
  if (ec || !value.is_object()) return out;
  const json::object& object = value.get_object();
  if (const json::value* id = object.if_contains("node_id"); id && id->is_string()) {
    out.node_id = std::string(id->get_string());
  }
  if (const json::value* url = object.if_contains("url"); url && url->is_string()) {
    out.url = std::string(url->get_string());
  }
  return out;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kLeader:
      return "leader";
    case Role::kFollower:
      return "follower";
    case Role::kCandidate:
      break;
  }
  return "candidate";
}

LeaderElection::LeaderElection(const boost::asio::any_io_executor& executor,
                               client::EtcdClient& etcd, LeaderElectionOptions options, Hooks hooks)
    : strand_(boost::asio::make_strand(executor)),
      tick_timer_(strand_),
      lease_timer_(strand_),
      etcd_(etcd),
      options_(std::move(options)),
      leader_key_(options_.prefix + "leader"),
      leader_value_(json::serialize(
          json::object{{"node_id", options_.node_id}, {"url", options_.advertise_url}})),
      hooks_(std::move(hooks)) {}

void LeaderElection::start() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->tick(); });
}

void LeaderElection::stop() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    if (self->leading_) {
      self->step_down("stopping", [self](const std::string&) {
        self->resigned_.store(true, std::memory_order_release);
      });
    } else {
      self->resigned_.store(true, std::memory_order_release);
    }
    self->stopped_ = true;
    self->tick_timer_.cancel();
    self->lease_timer_.cancel();
  });
}

LeadershipView LeaderElection::view() const {
  core::MutexLock lock(mu_);
  return view_;
}

std::optional<uint64_t> LeaderElection::dispatch_epoch() const {
  if (!serving_.load(std::memory_order_acquire)) return std::nullopt;
  const int64_t epoch = serving_epoch_.load(std::memory_order_acquire);
  if (Clock::now().time_since_epoch().count() >= serving_until_.load(std::memory_order_acquire)) {
    return std::nullopt;  // the lease is not confirmed up to now: maybe another node leads
  }
  return static_cast<uint64_t>(epoch);
}

void LeaderElection::set_view(Role role, std::optional<std::string> leader_url, int64_t epoch) {
  core::MutexLock lock(mu_);
  if (view_.role != role || view_.leader_url != leader_url) {
    spdlog::info("HA: this node is now {} (leader {}, epoch {})", role_name(role),
                 leader_url.value_or("unknown"), epoch);
  }
  view_.role = role;
  view_.leader_url = std::move(leader_url);
  view_.epoch = epoch;
}

void LeaderElection::schedule(Clock::duration delay) {
  if (stopped_) return;
  tick_timer_.expires_after(delay);
  tick_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->tick();
  });
}

void LeaderElection::tick() {
  if (stopped_) return;
  if (leading_) {
    renew();
  } else {
    follow_or_campaign();
  }
}

void LeaderElection::retry_later(const std::string& what, const std::string& error) {
  if (!etcd_failing_) spdlog::warn("HA: {} failed: {}; retrying", what, error);
  etcd_failing_ = true;
  backoff_ = backoff_ == Clock::duration{} ? Clock::duration(kMinBackoff)
                                           : std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
  schedule(backoff_);
}

void LeaderElection::follow_or_campaign() {
  const uint64_t term = term_;
  etcd_.get(leader_key_, on_strand([this, term](const client::EtcdRangeResult& result) {
              if (stopped_ || term != term_ || leading_) return;
              if (!result.error.empty()) {
                // Without etcd no leader can be confirmed, but the one last seen may lead on
                // for up to its lease (an etcd election, a lost member): keep forwarding to it
                // until a lease has passed since it was last seen.
                if (Clock::now() - leader_seen_ >= options_.lease) {
                  set_view(Role::kCandidate, std::nullopt, 0);
                }
                return retry_later("reading the leader key", result.error);
              }
              etcd_failing_ = false;
              backoff_ = {};
              if (result.kvs.empty()) return campaign();
              const client::EtcdKeyValue& kv = result.kvs.front();
              const LeaderValue leader = parse_leader_value(kv.value);
              if (leader.node_id == options_.node_id || leader.url.empty()) {
                // Our own key from a term we gave up (it goes with its lease), or a key we
                // cannot read: no leader to forward to until it is gone.
                set_view(Role::kCandidate, std::nullopt, kv.create_revision);
              } else {
                set_view(Role::kFollower, leader.url, kv.create_revision);
                leader_seen_ = Clock::now();
              }
              const auto poll =
                  std::clamp<Clock::duration>(options_.lease / 10, std::chrono::milliseconds(100),
                                              std::chrono::milliseconds(500));
              schedule(poll);
            }));
}

void LeaderElection::campaign() {
  const uint64_t term = term_;
  const Clock::time_point sent = Clock::now();
  etcd_.grant_lease(options_.lease.count(),
                    on_strand([this, term, sent](const client::EtcdLeaseResult& lease) {
                      if (stopped_ || term != term_) return;
                      if (!lease.error.empty()) {
                        set_view(Role::kCandidate, std::nullopt, 0);
                        return retry_later("granting a lease", lease.error);
                      }
                      const int64_t lease_id = lease.id;
                      etcd_.create_if_absent(
                          leader_key_, leader_value_, lease_id,
                          on_strand([this, term, sent, lease_id](const client::EtcdTxnResult& txn) {
                            if (stopped_ || term != term_) return;
                            if (!txn.error.empty()) {
                              etcd_.revoke_lease(lease_id, {});
                              set_view(Role::kCandidate, std::nullopt, 0);
                              return retry_later("creating the leader key", txn.error);
                            }
                            if (txn.succeeded) return won(lease_id, txn.revision, sent);
                            etcd_.revoke_lease(lease_id, {});        // unused: another node won
                            schedule(std::chrono::milliseconds(0));  // follow it
                          }));
                    }));
}

void LeaderElection::won(int64_t lease_id, int64_t epoch, Clock::time_point sent) {
  leading_ = true;
  lease_id_ = lease_id;
  epoch_ = epoch;
  lease_deadline_ = sent + options_.lease;
  arm_lease_timer();
  spdlog::info("HA: won the election, epoch {}", epoch);
  const uint64_t term = term_;
  auto ready = [self = shared_from_this(), term](bool ok) {
    boost::asio::post(self->strand_, [self, term, ok] {
      if (self->stopped_ || term != self->term_ || !self->leading_) return;
      if (!ok) return self->step_down("could not prepare to lead");
      self->serving_epoch_.store(self->epoch_, std::memory_order_release);
      self->serving_until_.store(self->lease_deadline_.time_since_epoch().count(),
                                 std::memory_order_release);
      self->serving_.store(true, std::memory_order_release);
      {
        core::MutexLock lock(self->mu_);
        self->view_.last_renewal = std::chrono::system_clock::now();
      }
      self->set_view(Role::kLeader, self->options_.advertise_url, self->epoch_);
      if (self->hooks_.on_elected) self->hooks_.on_elected(self->epoch_);
      self->schedule(self->options_.lease / 3);
    });
  };
  if (hooks_.prepare) {
    hooks_.prepare(epoch, std::move(ready));
  } else {
    ready(true);
  }
}

void LeaderElection::renew() {
  const uint64_t term = term_;
  const Clock::time_point sent = Clock::now();
  etcd_.keep_alive(lease_id_, on_strand([this, term, sent](const client::EtcdLeaseResult& result) {
                     if (stopped_ || term != term_ || !leading_) return;
                     if (!result.error.empty()) {
                       // The lease timer decides; try again soon.
                       spdlog::warn("HA: lease keep-alive failed: {}", result.error);
                       return schedule(options_.lease / 6);
                     }
                     if (result.ttl <= 0) return step_down("etcd says the lease expired");
                     const Clock::time_point deadline = sent + options_.lease;
                     if (deadline <= Clock::now()) {
                       return step_down("the keep-alive came back after the lease time");
                     }
                     lease_deadline_ = std::max(lease_deadline_, deadline);
                     serving_until_.store(lease_deadline_.time_since_epoch().count(),
                                          std::memory_order_release);
                     {
                       core::MutexLock lock(mu_);
                       view_.last_renewal = std::chrono::system_clock::now();
                     }
                     arm_lease_timer();
                     schedule(options_.lease / 3);
                   }));
}

void LeaderElection::arm_lease_timer() {
  const uint64_t term = term_;
  lease_timer_.expires_at(lease_deadline_);
  lease_timer_.async_wait([self = shared_from_this(), term](boost::system::error_code ec) {
    if (ec || self->stopped_ || term != self->term_ || !self->leading_) return;
    if (Clock::now() >= self->lease_deadline_) {
      self->step_down("the lease was not confirmed within the lease time");
    }
  });
}

void LeaderElection::step_down(const std::string& why, std::function<void(std::string)> revoked) {
  serving_.store(false, std::memory_order_release);
  const bool was_serving = view().role == Role::kLeader;
  spdlog::warn("HA: stepping down (epoch {}): {}", epoch_, why);
  leading_ = false;
  ++term_;
  lease_timer_.cancel();
  // Best effort: lets a follower take over without waiting for the lease to expire.
  etcd_.revoke_lease(lease_id_, std::move(revoked));
  lease_id_ = 0;
  set_view(Role::kCandidate, std::nullopt, 0);
  if (was_serving && hooks_.on_deposed) hooks_.on_deposed();
  schedule(kMinBackoff);
}

}  // namespace lmcache::app
