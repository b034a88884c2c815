#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lmcache::testing {

// A real etcd (/usr/bin/etcd) for HA tests, on 127.0.0.1 ports in a temporary data directory
// that the destructor removes (after killing it). Alone, it is a single-member cluster, ready
// (GET /health answers 200) when the constructor returns; as a member of an EtcdCluster it is
// only started, and the cluster waits for all members together.
class EtcdProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";
  // Whether the etcd binary is installed (tests skip when it is not).
  static bool available();

  // One member of a cluster: its name, its ports and the whole cluster as etcd's
  // --initial-cluster wants it ("a=http://127.0.0.1:P,b=...").
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    std::string initial_cluster;
  };

  // A single-member etcd. Throws std::runtime_error when it does not become ready within 20 s.
  EtcdProcess();
  // A cluster member, started but not waited for.
  explicit EtcdProcess(Member member);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "http://127.0.0.1:PORT", for --etcd-endpoints.
  std::string client_url() const;
  uint16_t client_port() const { return member_.client_port; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Waits until GET /health answers 200 (the member is in a cluster with a leader). Throws
  // std::runtime_error, with etcd's log, when it has not by `timeout` or etcd exited.
  void wait_ready(std::chrono::seconds timeout = std::chrono::seconds(20));

  // Kills etcd at once (SIGKILL) and waits for it; safe to call twice. Its data stays.
  void kill_now();
  // Starts it again after kill_now(), on the same data directory and ports (not waited for).
  void restart();

  // etcd's member id and the member id of the leader it knows (POST /v3/maintenance/status);
  // nullopt when it does not answer.
  struct Status {
    std::string member_id;
    std::string leader_id;
  };
  std::optional<Status> status() const;

  // What etcd has logged.
  std::string log() const;

 private:
  void spawn();

  pid_t pid_ = -1;
  Member member_;
  std::string dir_;  // data directory and log
};

// Three (or `size`) etcd members forming one cluster on free loopback ports, each in its own
// temporary directory; ready when the constructor returns (throws std::runtime_error if not
// within 30 s).
class EtcdCluster {
 public:
  explicit EtcdCluster(size_t size = 3);

  size_t size() const { return members_.size(); }
  EtcdProcess& member(size_t index) { return *members_.at(index); }
  // Every member's client URL, comma-separated, in member order (for --etcd-endpoints).
  std::string client_urls() const;
  // The index of the member that leads the Raft group now, as the running members see it;
  // nullopt when they do not all answer or do not agree on one.
  std::optional<size_t> leader() const;

 private:
  std::vector<std::unique_ptr<EtcdProcess>> members_;
};

// A 127.0.0.1 TCP port that was free a moment ago (bound to 0, read, closed).
uint16_t free_loopback_port();

}  // namespace lmcache::testing
