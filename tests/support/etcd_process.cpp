#include "etcd_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http_test_client.h"

namespace lmcache::testing {
namespace {

std::string loopback_url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

// `count` distinct ports that were free a moment ago.
std::vector<uint16_t> free_loopback_ports(size_t count) {
  std::set<uint16_t> ports;
  while (ports.size() < count) ports.insert(free_loopback_port());
  return {ports.begin(), ports.end()};
}

// A JSON id as etcd's gateway writes it (a uint64 as a string); "" when absent.
std::string id_field(const boost::json::value& object, const char* name) {
  const boost::json::value* value = object.as_object().if_contains(name);
  if (value == nullptr) return {};
  if (value->is_string()) return std::string(value->get_string());
  return boost::json::serialize(*value);
}

}  // namespace

uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

bool EtcdProcess::available() { return ::access(kBinary, X_OK) == 0; }

EtcdProcess::EtcdProcess() {
  const std::vector<uint16_t> ports = free_loopback_ports(2);
  member_ = {"test", ports[0], ports[1], "test=" + loopback_url(ports[1])};
  spawn();
  wait_ready();
}

EtcdProcess::EtcdProcess(Member member) : member_(std::move(member)) { spawn(); }

void EtcdProcess::spawn() {
  if (dir_.empty()) {
    char dir[] = "/tmp/lmcache-etcd-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
  }
  const std::string client = client_url();
  const std::string peer = loopback_url(member_.peer_port);
  std::vector<std::string> args = {kBinary,
                                   "--name=" + member_.name,
                                   "--data-dir=" + dir_ + "/data",
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=" + member_.initial_cluster,
                                   "--log-level=warn"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log_path = dir_ + "/etcd.log";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // A test that dies (a crash, a ctest timeout) takes its processes with it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
}

void EtcdProcess::wait_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      HttpTestClient client(member_.client_port, std::chrono::milliseconds(500));
      if (client.get("/health").status == 200) return;
    } catch (const std::exception&) {
      // not listening yet
    }
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("etcd exited during start-up: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string text = log();
  kill_now();
  throw std::runtime_error("etcd did not become ready: " + text);
}

EtcdProcess::~EtcdProcess() {
  kill_now();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string EtcdProcess::client_url() const { return loopback_url(member_.client_port); }

void EtcdProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void EtcdProcess::restart() {
  kill_now();
  spawn();
}

std::optional<EtcdProcess::Status> EtcdProcess::status() const {
  try {
    HttpTestClient client(member_.client_port, std::chrono::milliseconds(1000));
    const TestResponse res = client.post("/v3/maintenance/status", "{}");
    if (res.status != 200) return std::nullopt;
    const boost::json::value body = res.json();
    Status out{id_field(body.at("header"), "member_id"), id_field(body, "leader")};
    if (out.member_id.empty() || out.leader_id.empty()) return std::nullopt;
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string EtcdProcess::log() const {
  std::ifstream in(dir_ + "/etcd.log");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

EtcdCluster::EtcdCluster(size_t size) {
  const std::vector<uint16_t> ports = free_loopback_ports(2 * size);
  std::string initial_cluster;
  for (size_t i = 0; i < size; ++i) {
    if (!initial_cluster.empty()) initial_cluster += ",";
    initial_cluster += "m" + std::to_string(i) + "=" + loopback_url(ports[2 * i + 1]);
  }
  for (size_t i = 0; i < size; ++i) {
    members_.push_back(std::make_unique<EtcdProcess>(EtcdProcess::Member{
        "m" + std::to_string(i), ports[2 * i], ports[2 * i + 1], initial_cluster}));
  }
  for (auto& member : members_) member->wait_ready(std::chrono::seconds(30));
}

std::string EtcdCluster::client_urls() const {
  std::string out;
  for (const auto& member : members_) {
    if (!out.empty()) out += ",";
    out += member->client_url();
  }
  return out;
}

std::optional<size_t> EtcdCluster::leader() const {
  std::optional<std::string> leader_id;
  std::vector<std::string> member_ids(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!members_[i]->running()) continue;
    const auto status = members_[i]->status();
    if (!status) return std::nullopt;
    if (leader_id && *leader_id != status->leader_id) return std::nullopt;
    leader_id = status->leader_id;
    member_ids[i] = status->member_id;
  }
  for (size_t i = 0; i < member_ids.size(); ++i) {
    if (member_ids[i] == leader_id) return i;
  }
  return std::nullopt;
}

}  // namespace lmcache::testing
