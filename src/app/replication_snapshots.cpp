#include "app/replication_snapshots.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

namespace lmcache::app {

ReplicationSnapshots::ReplicationSnapshots(const boost::asio::any_io_executor& executor,
                                           core::DerivedState state, const core::MutationLog& log,
                                           std::string path, uint64_t chunk_bytes)
    : executor_(executor),
      log_(log),
      path_(std::move(path)),
      chunk_bytes_(chunk_bytes),
      checkpointer_(path_, std::move(state), metrics_) {}

ReplicationSnapshots::~ReplicationSnapshots() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

http::SnapshotProvider ReplicationSnapshots::provider() {
  return http::SnapshotProvider{
      [this](int64_t epoch, const std::function<void(http::SnapshotChunk)>& done) {
        take(epoch, done);
      },
      [this](int64_t epoch, uint64_t id, uint64_t offset) { return read(epoch, id, offset); }};
}

void ReplicationSnapshots::take(int64_t epoch,
                                const std::function<void(http::SnapshotChunk)>& done) {
  http::SnapshotChunk refused;
  uint64_t reused = 0;
  {
    core::MutexLock lock(mutex_);
    if (!log_.serves(epoch)) {
      refused.status = http::SnapshotChunk::Status::kWrongEpoch;
    } else if (!taking_ && id_ != 0 && epoch_ == epoch &&
               std::chrono::steady_clock::now() - taken_at_ < kReuseFor &&
               log_.read(epoch, position_, 0).status == core::MutationLog::Read::Status::kOk) {
      // Recent, and the log still holds every entry after it.
      reused = id_;
    } else if (taking_) {
      if (taking_epoch_ == epoch) {
        waiters_.push_back(done);
        return;
      }
      refused.status = http::SnapshotChunk::Status::kFailed;
      refused.error = "a snapshot of another epoch is being written";
    } else {
      // The position first, then the freeze: the snapshot holds at least the entries up to it.
      taking_position_ = log_.last_seq();
      taking_epoch_ = epoch;
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);
      id_ = 0;  // the old one is gone
      if (!checkpointer_.start()) {
        refused.status = http::SnapshotChunk::Status::kFailed;
        refused.error = "the writer could not be started";
      } else {
        taking_ = true;
        waiters_.push_back(done);
      }
    }
  }
  if (refused.status != http::SnapshotChunk::Status::kOk) return done(std::move(refused));
  if (reused != 0) return done(read(epoch, reused, 0));
  wait_for_child();
}

void ReplicationSnapshots::wait_for_child() {
  auto timer = std::make_shared<boost::asio::steady_timer>(executor_);
  timer->expires_after(std::chrono::milliseconds(20));
  timer->async_wait([this, timer](boost::system::error_code) {
    if (checkpointer_.poll()) return wait_for_child();
    finish();
  });
}

void ReplicationSnapshots::finish() {
  std::vector<std::function<void(http::SnapshotChunk)>> waiters;
  int64_t epoch = 0;
  uint64_t id = 0;
  {
    core::MutexLock lock(mutex_);
    taking_ = false;
    waiters.swap(waiters_);
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path_, ec);
    epoch = taking_epoch_;
    if (!ec) {
      id_ = ++last_id_;
      epoch_ = taking_epoch_;
      position_ = taking_position_;
      bytes_ = size;
      taken_at_ = std::chrono::steady_clock::now();
      id = id_;
      spdlog::info("replication: snapshot {} of epoch {} at seq {}: {} bytes", id_, epoch_,
                   position_, bytes_);
    }
  }
  for (auto& done : waiters) {
    http::SnapshotChunk chunk;
    if (id == 0) {
      chunk.status = http::SnapshotChunk::Status::kFailed;
      chunk.error = "the writer failed (see the leader's log)";
    } else {
      chunk = read(epoch, id, 0);
    }
    done(std::move(chunk));
  }
}

http::SnapshotChunk ReplicationSnapshots::read(int64_t epoch, uint64_t id, uint64_t offset) const {
  http::SnapshotChunk chunk;
  core::MutexLock lock(mutex_);
  if (!log_.serves(epoch)) {
    chunk.status = http::SnapshotChunk::Status::kWrongEpoch;
    return chunk;
  }
  if (id == 0 || id != id_ || epoch != epoch_ || offset > bytes_) {
    chunk.status = http::SnapshotChunk::Status::kGone;
    return chunk;
  }
  chunk.id = id_;
  chunk.epoch = epoch_;
  chunk.position = position_;
  chunk.total = bytes_;
  chunk.offset = offset;
  std::ifstream file(path_, std::ios::binary);
  chunk.bytes.resize(static_cast<size_t>(std::min(chunk_bytes_, bytes_ - offset)));
  file.seekg(static_cast<std::streamoff>(offset));
  file.read(chunk.bytes.data(), static_cast<std::streamsize>(chunk.bytes.size()));
  if (!file) {
    chunk = {};
    chunk.status = http::SnapshotChunk::Status::kFailed;
    chunk.error = "the snapshot file cannot be read";
  }
  return chunk;
}

}  // namespace lmcache::app
