#include "coordinator_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace lmcache::testing {
namespace {

std::string temp_log_path() {
  char path[] = "/tmp/lmcache-e2e-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// fork + exec with stdout and stderr appended to `log_path`.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log_path) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0 && name.rfind("LMCACHE_MP_COORDINATOR_", 0) != 0) {
      env_strings.push_back(entry);
    }
  }
  for (const auto& [name, value] : env) {
    env_strings.push_back(std::string(name).append("=").append(value));
  }

  std::vector<char*> argv;
  argv.reserve(args.size() + 2);  // the binary, the arguments and the terminating null
  std::string binary = LMCACHE_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> args_copy = args;
  for (auto& arg : args_copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // A test that dies (a crash, a ctest timeout) takes its processes with it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// The port of the start-up line "... listening on http://HOST:PORT" (or https://), once logged.
std::optional<uint16_t> listening_port(const std::string& log) {
  const size_t line = log.find("listening on http");
  if (line == std::string::npos) return std::nullopt;
  const std::string marker = "://";
  const size_t start = log.find(marker, line);
  if (start == std::string::npos) return std::nullopt;
  const size_t line_end = log.find('\n', start);
  if (line_end == std::string::npos) return std::nullopt;  // the line is not complete yet
  const std::string url = log.substr(start + marker.size(), line_end - start - marker.size());
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
}

// The first sanitizer report in a child's output, from its first line; "" when there is none.
// The binary is built with the same sanitizers as the tests, and a report in the child would
// otherwise go unseen: a test notices at most that the child died, and the log is deleted.
std::string sanitizer_report(const std::string& output) {
  static constexpr const char* kMarkers[] = {
      "WARNING: ThreadSanitizer:", "ERROR: AddressSanitizer:", "ERROR: LeakSanitizer:",
      ": runtime error: "};
  size_t first = std::string::npos;
  for (const char* marker : kMarkers) first = std::min(first, output.find(marker));
  if (first == std::string::npos) return {};
  const size_t line = output.rfind('\n', first);
  return output.substr(line == std::string::npos ? 0 : line + 1, 8000);
}

void expect_no_sanitizer_report(const std::string& output) {
  const std::string report = sanitizer_report(output);
  if (!report.empty()) ADD_FAILURE() << "sanitizer report in the coordinator's output:\n" << report;
}

int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

CoordinatorProcess::CoordinatorProcess(std::vector<std::string> args,
                                       std::map<std::string, std::string> env,
                                       std::chrono::milliseconds timeout)
    : log_path_(temp_log_path()) {
  std::vector<std::string> full = {"coordinator", "--host",       "127.0.0.1", "--port",
                                   "0",           "--state-path", ":memory:"};
  full.insert(full.end(), args.begin(), args.end());
  if (env.count("LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC") == 0) {
    env["LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC"] = "false";
  }
  pid_ = spawn(full, env, log_path_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = log();
    if (auto port = listening_port(text)) {
      port_ = *port;
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      expect_no_sanitizer_report(text);
      throw std::runtime_error("coordinator exited during start-up: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("coordinator did not start: " + log());
}

CoordinatorProcess::~CoordinatorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(10));
  }
  expect_no_sanitizer_report(log());
  std::remove(log_path_.c_str());
}

int CoordinatorProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) throw std::runtime_error("coordinator not running");
  kill(pid_, signal);
  const int code = wait_exit(pid_, timeout);
  if (code == -2) throw std::runtime_error("coordinator did not exit after signal");
  pid_ = -1;
  return code;
}

std::string CoordinatorProcess::log() const { return read_file(log_path_); }

bool CoordinatorProcess::wait_for_log(const std::string& text,
                                      std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return log().find(text) != std::string::npos;
}

ProcessResult run_lmcache(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env,
                          std::chrono::milliseconds timeout) {
  const std::string log_path = temp_log_path();
  const pid_t pid = spawn(args, env, log_path);
  ProcessResult result;
  result.exit_code = wait_exit(pid, timeout);
  if (result.exit_code == -2) {
    kill(pid, SIGKILL);
    wait_exit(pid, std::chrono::seconds(5));
  }
  result.output = read_file(log_path);
  std::remove(log_path.c_str());
  expect_no_sanitizer_report(result.output);
  return result;
}

}  // namespace lmcache::testing
