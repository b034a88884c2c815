#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace lmcache::testing {

// A real single-member etcd (/usr/bin/etcd) for HA tests: started in a temporary data
// directory on free 127.0.0.1 ports, ready (GET /health answers) when the constructor returns,
// killed and its directory removed by the destructor.
class EtcdProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";
  // Whether the etcd binary is installed (tests skip when it is not).
  static bool available();

  // Throws std::runtime_error when etcd does not become ready within 20 s.
  EtcdProcess();
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "http://127.0.0.1:PORT", for --etcd-endpoints.
  std::string client_url() const;
  uint16_t client_port() const { return client_port_; }
  pid_t pid() const { return pid_; }

  // Kills etcd at once (SIGKILL) and waits for it; safe to call twice.
  void kill_now();

  // What etcd has logged.
  std::string log() const;

 private:
  pid_t pid_ = -1;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::string dir_;  // data directory and log
};

// A 127.0.0.1 TCP port that was free a moment ago (bound to 0, read, closed).
uint16_t free_loopback_port();

}  // namespace lmcache::testing
