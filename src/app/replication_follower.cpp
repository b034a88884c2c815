#include "app/replication_follower.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>

#include "app/checkpoint_file.h"
#include "client/etcd_client.h"
#include "http/replication_routes.h"

namespace lmcache::app {
namespace {

constexpr std::chrono::milliseconds kIdle{100};
constexpr std::chrono::milliseconds kRetry{200};

std::optional<uint64_t> header_number(const client::MpResponse& response, std::string_view name) {
  for (const auto& [field, value] : response.headers) {
    if (!boost::beast::iequals(field, name)) continue;
    uint64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec == std::errc() && end == value.data() + value.size()) return number;
  }
  return std::nullopt;
}

std::string header_text(const client::MpResponse& response, std::string_view name) {
  for (const auto& [field, value] : response.headers) {
    if (boost::beast::iequals(field, name)) return value;
  }
  return {};
}

}  // namespace

ReplicationFollower::ReplicationFollower(const boost::asio::any_io_executor& executor,
                                         LeaderSource leader, Apply apply, Snapshots snapshots,
                                         prometheus::Registry& metrics)
    : strand_(boost::asio::make_strand(executor)),
      timer_(strand_),
      // The long-poll waits up to 1 s at the leader.
      client_(executor, client::MpTimeouts{std::chrono::milliseconds(2000),
                                           std::chrono::milliseconds(10000)}),
      leader_(std::move(leader)),
      apply_(std::move(apply)),
      snapshots_(std::move(snapshots)),
      applied_(prometheus::BuildCounter()
                   .Name("lmcache_coordinator_replication_applied_total")
                   .Help("Mutations of the leader's log applied by this follower (HA mode).")
                   .Register(metrics)
                   .Add({})),
      lag_(prometheus::BuildGauge()
               .Name("lmcache_coordinator_replication_lag_entries")
               .Help("Entries of the leader's log past this follower's position at its last "
                     "answer (HA mode; 0 on the leader).")
               .Register(metrics)
               .Add({})),
      gaps_(prometheus::BuildCounter()
                .Name("lmcache_coordinator_replication_gaps_total")
                .Help("Times this follower found entries of the leader's log dropped before it "
                      "read them (its state may lack them).")
                .Register(metrics)
                .Add({})),
      snapshots_loaded_(prometheus::BuildCounter()
                            .Name("lmcache_coordinator_replication_snapshots_total")
                            .Help("Snapshots of the leader's state this follower loaded.")
                            .Register(metrics)
                            .Add({})),
      position_(
          prometheus::BuildGauge()
              .Name("lmcache_coordinator_replication_position")
              .Help("The last seq of the leader's log this follower applied (or loaded with a "
                    "snapshot) in the epoch it follows.")
              .Register(metrics)
              .Add({})),
      needs_snapshot_(snapshots_.start_with_one) {}

void ReplicationFollower::start() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->started_) return;
    self->started_ = true;
    self->tick();
  });
}

void ReplicationFollower::stop() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

void ReplicationFollower::hold(int64_t epoch, std::function<void()> held) {
  boost::asio::post(strand_, [self = shared_from_this(), epoch, held = std::move(held)] {
    spdlog::info("replication: held at epoch {} seq {}: this node won epoch {}",
                 self->epoch_.load(std::memory_order_relaxed),
                 self->after_.load(std::memory_order_relaxed), epoch);
    self->held_epoch_ = epoch;
    // The request or timer under way ends the loop it belongs to; the held loop replaces it.
    ++self->generation_;
    self->timer_.cancel();
    held();
    if (self->started_) self->idle(kIdle);
  });
}

std::pair<int64_t, uint64_t> ReplicationFollower::position() const {
  return {epoch_.load(std::memory_order_acquire), after_.load(std::memory_order_acquire)};
}

void ReplicationFollower::idle(std::chrono::milliseconds delay) {
  if (stopped_) return;
  timer_.expires_after(delay);
  // A wait that completed before hold() cancelled it still carries the old generation.
  timer_.async_wait(
      [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
        if (!ec && generation == self->generation_) self->tick();
      });
}

void ReplicationFollower::tick() {
  if (stopped_) return;
  const std::optional<Leader> leader = leader_();
  if (held_epoch_ != 0) {
    if (!leader || leader->epoch <= held_epoch_) return idle(kIdle);
    spdlog::info("replication: released from the hold of epoch {} by the leader of epoch {}",
                 held_epoch_, leader->epoch);
    held_epoch_ = 0;
  }
  if (!leader || leader->epoch == 0) {
    lag_.Set(0);
    return idle(kIdle);
  }
  if (leader->epoch != epoch_.load(std::memory_order_relaxed)) {
    spdlog::info("replication: following the log of epoch {} at {}", leader->epoch, leader->url);
    epoch_.store(leader->epoch, std::memory_order_release);
    set_position(0);
  }
  if (needs_snapshot_) return fetch_snapshot(*leader, 0, 0);
  auto endpoints = client::EtcdClient::parse_endpoints(leader->url, nullptr);
  if (!endpoints) return idle(kRetry);
  const std::string target = "/cluster/log?epoch=" + std::to_string(leader->epoch) +
                             "&after=" + std::to_string(after_.load(std::memory_order_relaxed));
  client_.send(boost::beast::http::verb::get, endpoints->front(), target, {}, {},
               [self = shared_from_this(), leader = *leader,
                generation = generation_](client::MpResponse response) mutable {
                 boost::asio::post(self->strand_, [self, leader = std::move(leader), generation,
                                                   response = std::move(response)]() mutable {
                   self->on_answer(leader, generation, std::move(response));
                 });
               });
}

void ReplicationFollower::on_answer(const Leader& leader, uint64_t generation,
                                    client::MpResponse response) {
  if (stopped_ || generation != generation_) return;
  if (leader.epoch != epoch_.load(std::memory_order_relaxed)) return tick();
  if (!response.ok()) {
    spdlog::debug("replication: the leader's log at {}: {}", leader.url, response.error_text);
    return idle(kRetry);
  }
  const uint64_t after = after_.load(std::memory_order_relaxed);
  if (response.status == 409) {
    const std::string refusal = header_text(response, http::kLogRefusalHeader);
    if (refusal == "behind") {
      const uint64_t first = header_number(response, http::kLogFirstHeader).value_or(1);
      on_gap("the leader dropped entries this follower had not read (it holds seq " +
             std::to_string(first) + " on)");
      return tick();
    }
    if (refusal == "ahead") {
      on_gap("this follower is past the leader's newest entry");
      return tick();
    }
    return idle(kIdle);  // another epoch: the election's view catches up
  }
  if (response.status != 200) {
    spdlog::debug("replication: the leader's log at {} answered {}", leader.url, response.status);
    return idle(kRetry);
  }
  auto entries = core::decode_mutation_frames(response.body);
  if (!entries) {
    spdlog::warn("replication: the leader's log at {} sent malformed frames", leader.url);
    return idle(kRetry);
  }
  uint64_t position = after;
  for (core::Mutation& entry : *entries) {
    if (entry.seq != position + 1) {
      on_gap("the leader's log skipped from seq " + std::to_string(position) + " to " +
             std::to_string(entry.seq));
      return tick();
    }
    apply_(entry);
    applied_.Increment();
    position = entry.seq;
    set_position(position);
  }
  const uint64_t last = header_number(response, http::kLogLastHeader).value_or(position);
  lag_.Set(static_cast<double>(last > position ? last - position : 0));
  tick();
}

void ReplicationFollower::set_position(uint64_t seq) {
  after_.store(seq, std::memory_order_release);
  position_.Set(static_cast<double>(seq));
}

void ReplicationFollower::on_gap(const std::string& why) {
  gaps_.Increment();
  spdlog::warn("replication: gap in the log of epoch {} after seq {}: {}; loading a snapshot",
               epoch_.load(std::memory_order_relaxed), after_.load(std::memory_order_relaxed), why);
  needs_snapshot_ = true;
}

void ReplicationFollower::fetch_snapshot(const Leader& leader, uint64_t id, uint64_t offset) {
  auto endpoints = client::EtcdClient::parse_endpoints(leader.url, nullptr);
  if (!endpoints) return idle(kRetry);
  std::string target = "/cluster/snapshot?epoch=" + std::to_string(leader.epoch);
  if (id != 0) target += "&id=" + std::to_string(id) + "&offset=" + std::to_string(offset);
  client_.send(boost::beast::http::verb::get, endpoints->front(), target, {}, {},
               [self = shared_from_this(), leader = leader,
                generation = generation_](client::MpResponse response) mutable {
                 boost::asio::post(self->strand_, [self, leader = std::move(leader), generation,
                                                   response = std::move(response)]() mutable {
                   self->on_snapshot(leader, generation, std::move(response));
                 });
               });
}

void ReplicationFollower::on_snapshot(const Leader& leader, uint64_t generation,
                                      client::MpResponse response) {
  if (stopped_ || generation != generation_) return;
  if (leader.epoch != epoch_.load(std::memory_order_relaxed)) return tick();
  if (!response.ok() || response.status != 200) {
    spdlog::debug("replication: snapshot from {}: {} {}", leader.url, response.status,
                  response.error_text);
    return idle(kRetry);
  }
  const auto id = header_number(response, http::kSnapshotIdHeader);
  const auto total = header_number(response, http::kSnapshotBytesHeader);
  const auto offset = header_number(response, http::kSnapshotOffsetHeader);
  const auto position = header_number(response, http::kLogPositionHeader);
  if (!id || !total || !offset || !position || (*offset != 0 && *id != snapshot_id_) ||
      *offset != (*offset == 0 ? 0 : snapshot_received_)) {
    spdlog::warn("replication: snapshot from {}: an answer out of order; starting again",
                 leader.url);
    return idle(kRetry);
  }
  if (*offset == 0) {
    snapshot_id_ = *id;
    snapshot_position_ = *position;
    snapshot_received_ = 0;
  }
  std::ofstream file(snapshots_.download_path,
                     std::ios::binary | (*offset == 0 ? std::ios::trunc : std::ios::app));
  file.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
  file.close();
  if (!file) {
    spdlog::error("replication: cannot save the snapshot to {}", snapshots_.download_path);
    return idle(kRetry);
  }
  snapshot_received_ += response.body.size();
  if (snapshot_received_ < *total) {
    if (response.body.empty()) return idle(kRetry);
    return fetch_snapshot(leader, snapshot_id_, snapshot_received_);
  }
  load_snapshot();
  tick();
}

void ReplicationFollower::load_snapshot() {
  std::string error;
  bool missing = false;
  const auto loaded = CheckpointFile::load(snapshots_.download_path, error, missing);
  std::error_code ignored;
  std::filesystem::remove(snapshots_.download_path, ignored);
  if (!loaded) {
    spdlog::warn("replication: the snapshot did not arrive whole ({}); taking another", error);
    return;
  }
  needs_snapshot_ = false;
  set_position(snapshot_position_);
  if (!snapshots_.load(loaded->body())) {
    spdlog::error(
        "replication: snapshot {} of epoch {} does not load; the state may be partial, "
        "tailing the log from seq {}",
        snapshot_id_, epoch_.load(std::memory_order_relaxed), snapshot_position_);
    return;
  }
  snapshots_loaded_.Increment();
  spdlog::info("replication: loaded snapshot {} of epoch {} ({} bytes); tailing from seq {}",
               snapshot_id_, epoch_.load(std::memory_order_relaxed), snapshot_received_,
               snapshot_position_);
}

}  // namespace lmcache::app
