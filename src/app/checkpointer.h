// Checkpointer: writes the derived state to the checkpoint file from a forked child.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/types.h>

#include <chrono>
#include <string>

#include "app/checkpoint_file.h"
#include "core/derived_state.h"
#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::app {

// A checkpoint is taken by freezing the derived state (core::DerivedState::freeze, every lock of
// it held) just long enough to fork(). The child owns a still, copy-on-write image of the state
// and writes it to the file (app/checkpoint_file.h) while this process goes on serving; the
// state's large memory is backed by huge pages, so the fork copies few page tables and the
// freeze lasts about a millisecond at 10 million keys (measured in bench/README.md). The price
// is memory: pages this process changes while the child writes are copied.
//
// The child closes every inherited descriptor first (a connection closed meanwhile must not stay
// open in the child), reports its outcome through a pipe and leaves with _exit. One child at a
// time. Thread-safe.
class Checkpointer {
 public:
  using Clock = std::chrono::steady_clock;

  // Registers its metrics (writes by outcome, last pause, duration and size) in `metrics`.
  Checkpointer(std::string path, core::DerivedState state, prometheus::Registry& metrics);
  // Waits for a running child.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Forks a child that writes a checkpoint, unless one is still running. Returns false when one
  // is running or the fork failed (logged and counted).
  bool start() EXCLUDES(mutex_);
  // Reaps a finished child without blocking and records its outcome. True while a child runs.
  bool poll() EXCLUDES(mutex_);
  // Waits for a running child, then writes a checkpoint in this process (at a clean stop, when
  // nothing else changes the state). True when it was written.
  bool write_now() EXCLUDES(mutex_);

  // Longest freeze so far (the fork), for logs and tests.
  Clock::duration max_pause() const EXCLUDES(mutex_);

 private:
  // Records a finished child's exit status and its report.
  void finish_child(int status) REQUIRES(mutex_);
  // Waits for a running child (if any) and records it.
  void wait_for_child() REQUIRES(mutex_);
  // Writes the checkpoint file from the derived state, in the calling process.
  CheckpointFile::WriteResult write_file() const;

  const std::string path_;
  core::DerivedState state_;
  prometheus::Counter& written_;
  prometheus::Counter& failed_;
  prometheus::Gauge& last_pause_;
  prometheus::Gauge& last_duration_;
  prometheus::Gauge& last_bytes_;

  mutable core::Mutex mutex_;
  pid_t child_ GUARDED_BY(mutex_) = -1;
  int report_fd_ GUARDED_BY(mutex_) = -1;  // the read end of the child's report pipe
  Clock::time_point child_started_ GUARDED_BY(mutex_);
  Clock::duration max_pause_ GUARDED_BY(mutex_){};
};

}  // namespace lmcache::app
