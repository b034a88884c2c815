#include "app/checkpointer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "app/checkpoint_file.h"

namespace lmcache::app {

namespace {

prometheus::Gauge& gauge(prometheus::Registry& metrics, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(metrics).Add({});
}

// The child's report: "ok <bytes>" or "error <message>".
void report(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Closes every descriptor from `from` up, except `keep`.
void close_inherited(int from, int keep) {
  if (keep > from) ::close_range(static_cast<unsigned>(from), static_cast<unsigned>(keep - 1), 0);
  ::close_range(static_cast<unsigned>(std::max(from, keep + 1)), UINT_MAX, 0);
}

}  // namespace

Checkpointer::Checkpointer(std::string path, core::DerivedState state,
                           prometheus::Registry& metrics)
    : path_(std::move(path)),
      state_(std::move(state)),
      written_(prometheus::BuildCounter()
                   .Name("checkpoint_writes_total")
                   .Help("Checkpoints of the derived state, by outcome")
                   .Register(metrics)
                   .Add({{"outcome", "written"}})),
      failed_(prometheus::BuildCounter()
                  .Name("checkpoint_writes_total")
                  .Help("Checkpoints of the derived state, by outcome")
                  .Register(metrics)
                  .Add({{"outcome", "failed"}})),
      last_pause_(gauge(metrics, "checkpoint_last_pause_seconds",
                        "How long the last checkpoint froze the state (the fork)")),
      last_duration_(gauge(metrics, "checkpoint_last_duration_seconds",
                           "How long the last checkpoint took from fork to file in place")),
      last_bytes_(gauge(metrics, "checkpoint_last_bytes", "Size of the last checkpoint file")) {}

Checkpointer::~Checkpointer() {
  core::MutexLock lock(mutex_);
  wait_for_child();
}

void Checkpointer::wait_for_child() {
  if (child_ < 0) return;
  int status = 0;
  while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
  }
  finish_child(status);
}

CheckpointFile::WriteResult Checkpointer::write_file() const {
  return CheckpointFile::write(path_, [this](core::SnapshotWriter& out) {
    state_.save(out);
    return out.ok();
  });
}

bool Checkpointer::start() {
  core::MutexLock lock(mutex_);
  if (child_ >= 0) return false;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    spdlog::error("checkpoint not started: cannot create a pipe: {}", std::strerror(errno));
    failed_.Increment();
    return false;
  }
  const Clock::time_point before = Clock::now();
  pid_t pid = -1;
  state_.freeze([&] { pid = ::fork(); });
  if (pid == 0) {
    // The child: the frozen state is its own. Nothing here may wait for a lock another thread
    // of the parent held at the fork (no logging); it writes and leaves without destructors.
    close_inherited(3, pipe_fds[1]);
    // The lowest CPU priority: on a small machine the writer must not take the serving threads'
    // cores (a batch that waits for a core waits for the checkpoint too).
    ::setpriority(PRIO_PROCESS, 0, 19);
    const CheckpointFile::WriteResult result = write_file();
    report(pipe_fds[1],
           result.error.empty() ? "ok " + std::to_string(result.bytes) : "error " + result.error);
    ::_exit(result.error.empty() ? 0 : 1);
  }
  const Clock::duration pause = Clock::now() - before;
  ::close(pipe_fds[1]);
  if (pid < 0) {
    spdlog::error("checkpoint not started: fork failed: {}", std::strerror(errno));
    ::close(pipe_fds[0]);
    failed_.Increment();
    return false;
  }
  child_ = pid;
  report_fd_ = pipe_fds[0];
  child_started_ = before;
  max_pause_ = std::max(max_pause_, pause);
  last_pause_.Set(std::chrono::duration<double>(pause).count());
  return true;
}

bool Checkpointer::poll() {
  core::MutexLock lock(mutex_);
  if (child_ < 0) return false;
  int status = 0;
  const pid_t done = ::waitpid(child_, &status, WNOHANG);
  if (done == 0) return true;
  if (done < 0 && errno == EINTR) return true;
  finish_child(done < 0 ? -1 : status);
  return false;
}

void Checkpointer::finish_child(int status) {
  std::string text;
  char buffer[512];
  ssize_t n = 0;
  while ((n = ::read(report_fd_, buffer, sizeof buffer)) > 0) text.append(buffer, n);
  ::close(report_fd_);
  report_fd_ = -1;
  const double seconds = std::chrono::duration<double>(Clock::now() - child_started_).count();
  child_ = -1;
  if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && text.starts_with("ok ")) {
    written_.Increment();
    last_duration_.Set(seconds);
    last_bytes_.Set(std::stod(text.substr(3)));
    spdlog::debug("checkpoint written to {} in {:.3f} s ({})", path_, seconds, text.substr(3));
    return;
  }
  failed_.Increment();
  if (text.starts_with("error ")) {
    spdlog::error("checkpoint failed: {}", text.substr(6));
  } else {
    spdlog::error("checkpoint failed: the writing process ended abnormally (status {})", status);
  }
}

bool Checkpointer::write_now() {
  core::MutexLock lock(mutex_);
  wait_for_child();
  const Clock::time_point before = Clock::now();
  CheckpointFile::WriteResult result;
  state_.freeze([&] { result = write_file(); });
  if (!result.error.empty()) {
    failed_.Increment();
    spdlog::error("checkpoint failed: {}", result.error);
    return false;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - before).count();
  written_.Increment();
  last_duration_.Set(seconds);
  last_bytes_.Set(static_cast<double>(result.bytes));
  spdlog::info("checkpoint written to {} in {:.3f} s ({} bytes)", path_, seconds, result.bytes);
  return true;
}

Checkpointer::Clock::duration Checkpointer::max_pause() const {
  core::MutexLock lock(mutex_);
  return max_pause_;
}

}  // namespace lmcache::app
