#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lmcache::testing {

// The real `lmcache` binary started as a child process for end-to-end tests,
// on 127.0.0.1 and a free port (--port 0 unless the test passes --port).
// Its stderr (the log) is captured to a temporary file. The destructor stops
// it with SIGKILL if still running, and fails the running test if the log
// holds a sanitizer report (the binary is built with the tests' sanitizers).
class CoordinatorProcess {
 public:
  // Starts `lmcache coordinator --host 127.0.0.1 --port 0 --state-path :memory:
  // <args>` (later flags win) with `env` added to the environment, and waits
  // for the start-up line. Throws if it does not appear within `timeout`.
  explicit CoordinatorProcess(std::vector<std::string> args = {},
                              std::map<std::string, std::string> env = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~CoordinatorProcess();
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit code (128+signal
  // if killed by a signal). Throws if it does not exit within `timeout`.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Everything logged so far.
  std::string log() const;

  // Waits until the log contains `text`; false after `timeout`.
  bool wait_for_log(const std::string& text,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;
};

// Runs the binary to completion with the given arguments (after the program
// name) and extra environment; returns the exit code and captured output.
// A sanitizer report in the output fails the running test.
struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
ProcessResult run_lmcache(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace lmcache::testing
