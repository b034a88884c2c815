// ReplicationSnapshots: the HA leader's snapshots of its soft state, for followers that start
// empty (GET /cluster/snapshot).
#pragma once

#include <prometheus/registry.h>

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/checkpointer.h"
#include "core/derived_state.h"
#include "core/mutation_log.h"
#include "core/mutex.h"
#include "http/replication_routes.h"

namespace lmcache::app {

// A snapshot is a checkpoint file (app/checkpoint_file.h), written the way the checkpointer
// writes one: the state frozen just long enough to fork, the child writing `path`. Its log
// position is read just before the freeze, so it holds every entry up to that seq (and maybe
// some after, which a follower's replay then meets as duplicates the gates drop).
//
// One snapshot is kept, served in chunks of `chunk_bytes` (16 MiB: an answer fits an MpClient
// response);
// a take() while one is being written joins it, one within kReuseFor of the last is answered
// with it while the log still holds every entry after its position (followers starting together
// cost one fork), a later one replaces it. Thread-safe.
class ReplicationSnapshots {
 public:
  static constexpr std::chrono::seconds kReuseFor{5};

  // `path`: where the snapshot file is written (removed by the destructor).
  ReplicationSnapshots(const boost::asio::any_io_executor& executor, core::DerivedState state,
                       const core::MutationLog& log, std::string path,
                       uint64_t chunk_bytes = uint64_t{16} << 20);
  ~ReplicationSnapshots();
  ReplicationSnapshots(const ReplicationSnapshots&) = delete;
  ReplicationSnapshots& operator=(const ReplicationSnapshots&) = delete;

  // See http::SnapshotProvider.
  void take(int64_t epoch, const std::function<void(http::SnapshotChunk)>& done) EXCLUDES(mutex_);
  http::SnapshotChunk read(int64_t epoch, uint64_t id, uint64_t offset) const EXCLUDES(mutex_);
  http::SnapshotProvider provider();

 private:
  // Waits (on timers) for the writing child, then answers the waiters.
  void wait_for_child();
  void finish() EXCLUDES(mutex_);

  const boost::asio::any_io_executor executor_;
  const core::MutationLog& log_;
  const std::string path_;
  const uint64_t chunk_bytes_;
  prometheus::Registry metrics_;  // the checkpointer's, not exposed
  Checkpointer checkpointer_;

  mutable core::Mutex mutex_;
  bool taking_ GUARDED_BY(mutex_) = false;
  std::vector<std::function<void(http::SnapshotChunk)>> waiters_ GUARDED_BY(mutex_);
  int64_t taking_epoch_ GUARDED_BY(mutex_) = 0;
  uint64_t taking_position_ GUARDED_BY(mutex_) = 0;
  // The snapshot on disk (id 0: none).
  uint64_t id_ GUARDED_BY(mutex_) = 0;
  int64_t epoch_ GUARDED_BY(mutex_) = 0;
  uint64_t position_ GUARDED_BY(mutex_) = 0;
  uint64_t bytes_ GUARDED_BY(mutex_) = 0;
  uint64_t last_id_ GUARDED_BY(mutex_) = 0;
  std::chrono::steady_clock::time_point taken_at_ GUARDED_BY(mutex_);
};

}  // namespace lmcache::app
