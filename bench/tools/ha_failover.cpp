// The HA failover benchmark (bench/ha_failover.sh runs it). It starts one etcd and three
// coordinators in HA mode (build-release/lmcache, all on 127.0.0.1, temporary directories),
// and prints one line per target of shared/spec/ha.md "Takeover":
//
//   RESULT PASS|FAIL <target>: <figure> (<what the target is>)
//
// 1. Follow cost: closed-loop POST /events (v2, 256 store entries a batch on a fixed set of
//    65,536 keys, 2 connections) against the leader, in windows of WINDOW seconds, alone and
//    with the two followers attached, five rounds of two windows in alternating order
//    (followers started, or stopped with SIGTERM, in between). Entries/s answered and the
//    leader's CPU per entry, with vs without: the median of the rounds.
// 2. Failover: 1,000 instances registered at two stand-in MP servers (tests/support
//    FakeMpServer: 0..499 seed-era, 500..999 v2, recording the epoch header of every request),
//    then steady load on the leader: heartbeats of all instances (1,000/s; a 404 re-registers,
//    as the MP servers' registrar does), POST /l2/events (seed-era instances) and POST /events
//    (v2 instances), each 100 batches/s of 100 entries, blend publishes (20/s, 4 chunks each)
//    and quota writes (20/s, PUT /l2/quota/q-N, each salt once, recording which were answered
//    200). One salt, "evict", is over its quota, so the leader dispatches evictions.
//    After BEFORE seconds: the usage-changing senders (events, publishes) are held and drained,
//    the leader's /l2/status is read, and the leader is killed with SIGKILL. Heartbeats and
//    quota writes go on. Measured: time from the kill until a follower answers /readyz 200 and
//    then GET /l2/status 200; the new leader's per-salt usage against the old one's last
//    status; blend recall of the chunks published before the kill (POST /blend/match). Then
//    the senders are released against the new leader for AFTER seconds, and at the end: quota
//    writes answered 200 that the new leader lacks, and eviction requests carrying an epoch
//    other than the new leader's after the new leader's first dispatch (per MP server).
//    With `stop` the leader is paused with SIGSTOP instead, and resumed with SIGCONT after the
//    new leader's first dispatch (it must come back as a follower and send nothing stale; after
//    a SIGKILL that target holds trivially).
//
// Startup resync is off (CoordinatorProcess's default): the stand-in MP servers list no keys.
// Exits 0 when the run completed (whatever the targets say), 1 when it could not be carried out.
//
// Usage: ha_failover [LEASE_S=2] [BEFORE_S=10] [AFTER_S=6] [WINDOW_S=2] [kill|stop]
#include <fmt/format.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base64_encode.h"
#include "coordinator_process.h"
#include "etcd_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace {

namespace json = boost::json;
using boost::beast::http::verb;
using lmcache::testing::CoordinatorProcess;
using lmcache::testing::EtcdProcess;
using lmcache::testing::FakeMpServer;
using lmcache::testing::HttpTestClient;
using lmcache::testing::TestResponse;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kInstances = 1000;
constexpr int kSeedInstances = 500;  // 0..499 post /l2/events; the rest post /events
constexpr int kHeartbeatsPerSec = 1000;
constexpr int kHeartbeatThreads = 2;
constexpr int kBatchesPerSec = 100;  // per dialect
constexpr int kEntriesPerBatch = 100;
constexpr int kNewKeysPerBatch = 50;  // the rest re-store or touch earlier keys
constexpr int kPublishesPerSec = 20;
constexpr int kChunksPerPublish = 4;
constexpr int kQuotaWritesPerSec = 20;
constexpr size_t kBlendChunk = 256;    // the coordinator's default --blend-chunk-size
constexpr size_t kRecallSample = 256;  // chunks asked for after the takeover
constexpr size_t kChunksPerMatch = 8;
constexpr uint64_t kEvictEvery = 16;  // one new key in 16 is stored under the salt "evict"
constexpr uint64_t kV2Incarnation = 1788000000;
constexpr int kCostConnections = 2;
constexpr int kCostRounds = 5;
constexpr uint64_t kCostKeys = 65536;
constexpr size_t kCostBatch = 256;
constexpr auto kRequestTimeout = 2s;

// ---------------------------------------------------------------------------------------------
// Keys, bodies and small helpers.

// splitmix64: the hash bytes of keys and the tokens of blend chunks.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Key k of key space `space` (one per sender, so senders never store each other's keys).
struct KeyRef {
  uint64_t space;
  uint64_t k;

  std::string salt() const {
    return k % kEvictEvery == 0 ? "evict" : "tenant-" + std::to_string(k % 4);
  }
  uint64_t bytes() const { return 2097152 + (k % 64) * 4096; }  // fixed per key: re-stores add 0
  std::string json() const {
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string hex;
    hex.reserve(64);
    for (uint64_t part = 0; part < 4; ++part) {
      uint64_t word = mix((space << 40) ^ (k * 4 + part));
      for (int nibble = 0; nibble < 16; ++nibble, word >>= 4) hex += kHex[word & 15];
    }
    return fmt::format(
        R"({{"chunk_hash_hex":"{}","model_name":"m","kv_rank":0,"object_group_id":0,)"
        R"("cache_salt":"{}"}})",
        hex, salt());
  }
};

std::string instance_id(int i) { return "fail-" + std::to_string(i); }

// The tokens of blend chunk c (a pure function of c), ids below 128,000 like a tokenizer's.
std::vector<uint32_t> chunk_tokens(uint64_t c) {
  std::vector<uint32_t> tokens(kBlendChunk);
  for (size_t i = 0; i < kBlendChunk; ++i) {
    tokens[i] = static_cast<uint32_t>(mix((c << 20) ^ i) % 128000);
  }
  return tokens;
}

std::string chunk_object_key(uint64_t c) {
  return fmt::format("bench-model@0@{}@deadbeefdeadbeefdeadbeef", c);
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// CPU seconds (user + system) process `pid` has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  size_t at = close + 2;
  while (at < text.size()) {
    const size_t end = std::min(text.find(' ', at), text.size());
    fields.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  if (fields.size() < 13) return 0;  // fields[0] is field 3 (state); utime 14, stime 15
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / hz;
}

// A keep-alive connection to whichever node it is asked to reach; reconnects when the port
// changes or the exchange fails. send() answers the status, 0 when there was no answer.
class Link {
 public:
  unsigned send(uint16_t port, verb method, const std::string& target,
                const std::string& body = "") {
    last_ = {};
    if (port == 0) return 0;
    if (port != port_ || !client_) {
      client_.emplace(port, kRequestTimeout);
      port_ = port;
    }
    try {
      last_ = client_->request(method, target, body);
    } catch (const std::exception&) {
      client_.reset();
      return 0;
    }
    return last_.status;
  }
  const TestResponse& last() const { return last_; }

 private:
  uint16_t port_ = 0;
  std::optional<HttpTestClient> client_;
  TestResponse last_;
};

// /readyz of a node on a fresh connection: status (0 unreachable), role and epoch.
struct Readiness {
  unsigned status = 0;
  std::string role = "unreachable";
  int64_t epoch = 0;
};

Readiness readyz(uint16_t port) {
  Readiness out;
  try {
    HttpTestClient client(port, 500ms);
    const TestResponse res = client.get("/readyz");
    out.status = res.status;
    const json::value body = res.json();
    out.role = std::string(body.at("role").as_string());
    out.epoch = body.at("epoch").to_number<int64_t>();
  } catch (const std::exception&) {
    // unreachable or not the expected body: reported as such
  }
  return out;
}

bool wait_for_role(uint16_t port, const std::string& role, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (readyz(port).role == role) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A follower's replication lag in entries (GET /metrics); nullopt when it reports none (a build
// without warm followers) or cannot be reached.
std::optional<double> replication_lag(uint16_t port) {
  try {
    HttpTestClient client(port, 1s);
    return lmcache::testing::metric_value(client, "lmcache_coordinator_replication_lag_entries");
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Waits until the follower at `port` reports a lag of 0 (at most 15 s), or 1 s when it reports
// no lag at all.
void wait_caught_up(uint16_t port) {
  const auto start = Clock::now();
  while (Clock::now() - start < 15s) {
    const auto lag = replication_lag(port);
    if (lag ? *lag == 0 : Clock::now() - start >= 1s) return;
    std::this_thread::sleep_for(100ms);
  }
}

// Runs `step` paced to `per_sec` until `stop`; a step late by more than 100 ms resets the
// schedule, so a pause (hold, failover) is not followed by a burst.
void paced(double per_sec, const std::atomic<bool>& stop, const std::function<void()>& step) {
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_sec));
  auto due = Clock::now();
  while (!stop.load()) {
    std::this_thread::sleep_until(due);
    step();
    due += interval;
    if (Clock::now() - due > 100ms) due = Clock::now();
  }
}

// Per-salt usage and quotas of a GET /l2/status answer.
struct SaltStatus {
  double usage_gb = 0;
  std::optional<double> quota_gb;
};

std::map<std::string, SaltStatus> parse_status(const std::string& body) {
  std::map<std::string, SaltStatus> out;
  const json::value status = json::parse(body);
  for (const json::value& row : status.at("by_cache_salt").as_array()) {
    SaltStatus& salt = out[std::string(row.at("cache_salt").as_string())];
    salt.usage_gb = row.at("usage_gb").to_number<double>();
    if (row.at("quota_exists").as_bool()) {
      salt.quota_gb = row.at("quota_limit_gb").to_number<double>();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The cluster: one etcd and the coordinator nodes.

class Cluster {
 public:
  explicit Cluster(int lease_s) : lease_s_(lease_s) {}

  // Starts node `i` (0..2) and waits until it has `role`; false, with its log, when it does not.
  bool start(size_t i, const std::string& role) {
    nodes_[i] = std::make_unique<CoordinatorProcess>(std::vector<std::string>{
        "--etcd-endpoints", etcd_.client_url(), "--leader-lease", std::to_string(lease_s_),
        "--eviction-check-interval", "0.5", "--eviction-ratio", "0.1"});
    if (wait_for_role(nodes_[i]->port(), role, 15s)) return true;
    std::fprintf(stderr, "node %zu never became %s:\n%s\n", i, role.c_str(),
                 nodes_[i]->log().c_str());
    return false;
  }
  void stop(size_t i, int signal) {
    nodes_[i]->stop(signal);
    nodes_[i].reset();
  }
  bool running(size_t i) const { return nodes_[i] != nullptr; }
  CoordinatorProcess& node(size_t i) { return *nodes_[i]; }
  static constexpr size_t size() { return 3; }

 private:
  int lease_s_;
  EtcdProcess etcd_;
  std::array<std::unique_ptr<CoordinatorProcess>, 3> nodes_;
};

// ---------------------------------------------------------------------------------------------
// Follow cost.

struct Window {
  double entries_per_s = 0;
  double leader_cpu_us_per_entry = 0;
  uint64_t failed = 0;
};

// Closed-loop v2 store batches over the fixed cost key set. Each connection owns one instance
// id and its seq, which go on across windows (the same process sends them all).
class CostLoad {
 public:
  explicit CostLoad(uint16_t port) : port_(port), next_seq_(kCostConnections, 0) {
    // Built once: the load tool shares the 2 cores with the leader.
    for (uint64_t slice = 0; slice < kCostKeys / kCostBatch; ++slice) {
      std::string entries;
      for (uint64_t k = slice * kCostBatch; k < (slice + 1) * kCostBatch; ++k) {
        // Never the "evict" salt; tenant-0..3 in turn.
        const KeyRef key{1000, k * kEvictEvery + 1 + k % 4};
        if (!entries.empty()) entries += ',';
        entries += fmt::format(R"({{"key":{},"size_bytes":{}}})", key.json(), key.bytes());
      }
      entries_.push_back(std::move(entries));
    }
  }

  // Stores every key once (not timed), so each window re-stores the same keys.
  void warm() {
    for (int c = 0; c < kCostConnections; ++c) {
      Link link;
      for (uint64_t b = static_cast<uint64_t>(c); b * kCostBatch < kCostKeys;
           b += kCostConnections) {
        link.send(port_, verb::post, "/events", body(c, b));
      }
    }
  }

  Window run(pid_t leader, double seconds) {
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<bool> stop{false};
    const double cpu_before = cpu_seconds(leader);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    threads.reserve(kCostConnections);
    for (int c = 0; c < kCostConnections; ++c) {
      threads.emplace_back([&, c] {
        Link link;
        for (uint64_t b = static_cast<uint64_t>(c); !stop.load(); b += kCostConnections) {
          const uint64_t slice = b % (kCostKeys / kCostBatch);
          if (link.send(port_, verb::post, "/events", body(c, slice)) == 200) {
            ++batches;
          } else {
            ++failed;
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& thread : threads) thread.join();
    const double elapsed = seconds_between(start, Clock::now());
    const double entries = static_cast<double>(batches.load() * kCostBatch);
    Window out;
    out.entries_per_s = entries / elapsed;
    out.leader_cpu_us_per_entry =
        entries > 0 ? 1e6 * (cpu_seconds(leader) - cpu_before) / entries : 0;
    out.failed = failed.load();
    return out;
  }

 private:
  // The batch storing keys [slice * 256, slice * 256 + 256) of the cost key set.
  std::string body(int connection, uint64_t slice) {
    return fmt::format(
        R"({{"batches":[{{"instance_id":"cost-{}","incarnation":{},"seq":{},"event_type":"store",)"
        R"("tier":"l2","backend":"fs","shared":false,"ts":1788000000.5,"entries":[{}]}}]}})",
        connection, kV2Incarnation, ++next_seq_[static_cast<size_t>(connection)], entries_[slice]);
  }

  uint16_t port_;
  std::vector<uint64_t> next_seq_;    // each element touched by its own connection only
  std::vector<std::string> entries_;  // per slice: the JSON of its 256 store entries
};

// ---------------------------------------------------------------------------------------------
// Failover load.

// Where the load goes and whether the usage-changing senders are held.
struct LoadControl {
  std::atomic<uint16_t> leader{0};  // 0: none known (the load waits)
  std::atomic<bool> stop{false};
  std::atomic<bool> hold{false};  // events and publishes pause
  std::atomic<int> busy{0};       // usage-changing requests in flight
  std::atomic<bool> killed{false};

  // Runs `send` unless held; the hold waits for it (see hold_and_drain).
  template <typename F>
  void unless_held(F send) {
    ++busy;
    if (!hold.load()) send();
    --busy;
  }
  // Holds the usage-changing senders and waits until none is in flight; false on timeout.
  bool hold_and_drain() {
    hold = true;
    const auto deadline = Clock::now() + 10s;
    while (busy.load() != 0) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
};

struct LoadCounts {
  std::atomic<uint64_t> heartbeats_ok{0};
  std::atomic<uint64_t> heartbeats_ok_after_kill{0};
  std::atomic<uint64_t> heartbeats_failed{0};  // no answer or 503 (the failover window)
  std::atomic<uint64_t> reregistrations{0};    // 404 then POST /instances 200
  // When a heartbeat was first answered (200, or 404 for a re-registration) after the kill.
  std::atomic<int64_t> first_heartbeat_after_kill_ns{0};
  std::atomic<uint64_t> batches_ok{0};
  std::atomic<uint64_t> batches_failed{0};
  std::atomic<uint64_t> batches_odd{0};  // 200 but duplicate, stale or with rejections
  std::atomic<uint64_t> publishes_ok{0};
  std::atomic<uint64_t> publishes_failed{0};
  std::atomic<uint64_t> quota_writes_failed{0};
};

// What the senders recorded as answered 200.
struct Acknowledged {
  std::mutex mu;
  std::vector<uint64_t> chunks;  // blend chunks published
  std::vector<int> quotas;       // quota writes: salt q-N with limit N + 1 GB
};

void send_heartbeats(int thread, LoadControl& control, LoadCounts& counts,
                     const std::vector<uint16_t>& mp_ports) {
  Link link;
  int i = thread;
  paced(static_cast<double>(kHeartbeatsPerSec) / kHeartbeatThreads, control.stop, [&] {
    const uint16_t port = control.leader.load();
    const unsigned status =
        link.send(port, verb::put, "/instances/" + instance_id(i) + "/heartbeat");
    if ((status == 200 || status == 404) && control.killed.load()) {
      int64_t zero = 0;
      counts.first_heartbeat_after_kill_ns.compare_exchange_strong(
          zero, Clock::now().time_since_epoch().count());
    }
    if (status == 200) {
      ++counts.heartbeats_ok;
      if (control.killed.load()) ++counts.heartbeats_ok_after_kill;
    } else if (status == 404) {
      const uint16_t mp = mp_ports[i < kSeedInstances ? 0 : 1];
      const std::string body = fmt::format(
          R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", instance_id(i), mp);
      if (link.send(port, verb::post, "/instances", body) == 200) ++counts.reregistrations;
    } else {
      ++counts.heartbeats_failed;
    }
    i += kHeartbeatThreads;
    if (i >= kInstances) i = thread;
  });
}

// Whether an event answer says every batch was applied as sent.
bool clean_answer(const std::string& body, bool v2) {
  if (body.find("\"rejected\"") != std::string::npos) return false;
  if (v2) {
    return body.find("\"duplicates\":0") != std::string::npos &&
           body.find("\"stale\":0") != std::string::npos;
  }
  return body.find("\"duplicate\"") == std::string::npos;
}

// Event batches of one dialect: seed-era POST /l2/events from instances 0..499, or v2
// POST /events from 500..999, round-robin, each instance's seq growing by one a batch.
void send_events(bool v2, LoadControl& control, LoadCounts& counts) {
  Link link;
  const int first = v2 ? kSeedInstances : 0;
  const int last = v2 ? kInstances : kSeedInstances;
  std::vector<uint64_t> next_seq(kInstances, 0);
  const uint64_t space = v2 ? 2 : 1;
  uint64_t next_key = 0;
  uint64_t turn = 0;
  uint64_t random = v2 ? 77 : 7;
  int instance = first;
  paced(kBatchesPerSec, control.stop, [&] {
    control.unless_held([&] {
      // Every third v2 batch is an access batch (one event type per v2 batch).
      const bool access = v2 && ++turn % 3 == 0;
      std::string entries;
      for (int e = 0; e < kEntriesPerBatch; ++e) {
        KeyRef key{space, 0};
        bool store = true;
        if (access) {
          key.k = next_key == 0 ? 0 : mix(++random) % next_key;
        } else if (e < kNewKeysPerBatch || next_key == 0) {
          key.k = next_key++;
        } else {
          key.k = mix(++random) % next_key;
          store = e % 2 == 0;  // the rest: half re-stores, half lookups (seed-era)
        }
        if (!entries.empty()) entries += ',';
        if (v2) {
          entries += access
                         ? fmt::format(R"({{"key":{}}})", key.json())
                         : fmt::format(R"({{"key":{},"size_bytes":{}}})", key.json(), key.bytes());
        } else if (store) {
          entries +=
              fmt::format(R"({{"type":"store","key":{},"bytes":{}}})", key.json(), key.bytes());
        } else {
          entries += fmt::format(R"({{"type":"lookup","key":{}}})", key.json());
        }
      }
      const uint64_t seq = ++next_seq[static_cast<size_t>(instance)];
      std::string body;
      if (v2) {
        body = fmt::format(
            R"({{"batches":[{{"instance_id":"{}","incarnation":{},"seq":{},"event_type":"{}",)"
            R"("tier":"l2","backend":"fs","shared":false,"ts":1788000000.5,"entries":[{}]}}]}})",
            instance_id(instance), kV2Incarnation, seq, access ? "access" : "store", entries);
      } else {
        body = fmt::format(R"({{"instance_id":"{}","seq":{},"events":[{}]}})",
                           instance_id(instance), seq, entries);
      }
      if (link.send(control.leader.load(), verb::post, v2 ? "/events" : "/l2/events", body) ==
          200) {
        ++counts.batches_ok;
        if (!clean_answer(link.last().body, v2)) ++counts.batches_odd;
      } else {
        ++counts.batches_failed;
      }
      if (++instance == last) instance = first;
    });
  });
}

// Blend publishes: one range of 4 fresh chunks each.
void send_publishes(LoadControl& control, LoadCounts& counts, Acknowledged& acked) {
  Link link;
  uint64_t next_chunk = 0;
  paced(kPublishesPerSec, control.stop, [&] {
    control.unless_held([&] {
      json::array tokens;
      json::array keys;
      for (uint64_t c = next_chunk; c < next_chunk + kChunksPerPublish; ++c) {
        for (uint32_t t : chunk_tokens(c)) tokens.emplace_back(t);
        keys.emplace_back(chunk_object_key(c));
      }
      const json::object range{{"model_scope", "bench-model"},
                               {"tokens", std::move(tokens)},
                               {"object_keys", std::move(keys)},
                               {"old_st_base", 0}};
      const std::string body = json::serialize(json::object{{"ranges", json::array{range}}});
      if (link.send(control.leader.load(), verb::post, "/blend/fingerprints", body) == 200) {
        ++counts.publishes_ok;
        std::lock_guard lock(acked.mu);
        for (uint64_t c = next_chunk; c < next_chunk + kChunksPerPublish; ++c) {
          acked.chunks.push_back(c);
        }
      } else {
        ++counts.publishes_failed;
      }
      next_chunk += kChunksPerPublish;
    });
  });
}

// Quota writes, each to a salt of its own; to the leader, or while none is known to any live
// node (a follower forwards, or answers 503).
void send_quota_writes(LoadControl& control, LoadCounts& counts, Acknowledged& acked,
                       const std::vector<uint16_t>& ports) {
  Link link;
  int n = 0;
  size_t fallback = 0;
  paced(kQuotaWritesPerSec, control.stop, [&] {
    uint16_t port = control.leader.load();
    if (port == 0) port = ports[fallback++ % ports.size()];
    const std::string body = fmt::format(R"({{"limit_gb":{}}})", n + 1);
    if (link.send(port, verb::put, "/l2/quota/q-" + std::to_string(n), body) == 200) {
      std::lock_guard lock(acked.mu);
      acked.quotas.push_back(n);
    } else {
      ++counts.quota_writes_failed;
    }
    ++n;
  });
}

// Blend recall on `node`: chunks of `published` (an even sample of kRecallSample) placed in
// match requests of 8 at unaligned offsets between random tokens; found / asked.
std::pair<size_t, size_t> blend_recall(uint16_t node, const std::vector<uint64_t>& published) {
  std::vector<uint64_t> sample;
  const size_t step = std::max<size_t>(1, published.size() / kRecallSample);
  for (size_t i = 0; i < published.size() && sample.size() < kRecallSample; i += step) {
    sample.push_back(published[i]);
  }
  Link link;
  size_t found = 0;
  for (size_t first = 0; first < sample.size(); first += kChunksPerMatch) {
    const size_t last = std::min(sample.size(), first + kChunksPerMatch);
    std::vector<uint32_t> tokens;
    for (size_t i = first; i < last; ++i) {
      for (size_t filler = 0; filler < 37 + i % 5; ++filler) {
        tokens.push_back(static_cast<uint32_t>(mix(0xf111e7ULL + tokens.size()) % 128000));
      }
      const auto chunk = chunk_tokens(sample[i]);
      tokens.insert(tokens.end(), chunk.begin(), chunk.end());
    }
    const std::string body = json::serialize(json::object{
        {"model_scope", "bench-model"},
        {"tokens_b64",
         lmcache::testing::base64_encode(tokens.data(), tokens.size() * sizeof(uint32_t))}});
    if (link.send(node, verb::post, "/blend/match", body) != 200) continue;
    for (size_t i = first; i < last; ++i) {
      if (link.last().body.find('"' + chunk_object_key(sample[i]) + '"') != std::string::npos) {
        ++found;
      }
    }
  }
  return {found, sample.size()};
}

// Eviction requests (DELETE /l2 or /cache/objects) one stand-in MP server received: how many
// carried the old epoch, the new one, and another epoch (or none) after the first new one.
struct EpochTally {
  uint64_t old_epoch = 0;
  uint64_t new_epoch = 0;
  uint64_t stale_after_new = 0;
};

EpochTally tally_epochs(const FakeMpServer& mp, int64_t old_epoch, int64_t new_epoch) {
  EpochTally out;
  bool new_seen = false;
  for (const auto& request : mp.requests()) {
    if (request.method != "DELETE") continue;
    const bool is_new = request.epoch == std::to_string(new_epoch);
    if (request.epoch == std::to_string(old_epoch)) ++out.old_epoch;
    if (is_new) ++out.new_epoch;
    if (new_seen && !is_new) ++out.stale_after_new;
    new_seen = new_seen || is_new;
  }
  return out;
}

void result(bool pass, const std::string& target, const std::string& figure,
            const std::string& goal) {
  std::printf("RESULT %s %s: %s (%s)\n", pass ? "PASS" : "FAIL", target.c_str(), figure.c_str(),
              goal.c_str());
}

int positive_arg(int argc, char** argv, int index, int fallback) {
  if (index >= argc) return fallback;
  const std::string_view text = argv[index];
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value <= 0) {
    std::fprintf(stderr, "not a positive integer: %s\n", argv[index]);
    std::exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The two measurements.

// The median of `values` (the upper one of the middle two).
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Stand-ins for followers on other hosts: each thread tails the leader's log (GET /cluster/log,
// as a follower does) and drops what it reads. The leader ships every entry as to a follower,
// but no replaying follower shares its cores and caches, which isolates what being followed
// costs the leader itself.
class LogTailers {
 public:
  LogTailers(uint16_t port, int64_t epoch, int count) {
    threads_.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this, port, epoch] { tail(port, epoch); });
    }
  }
  ~LogTailers() {
    stop_ = true;
    for (auto& thread : threads_) thread.join();
  }
  LogTailers(const LogTailers&) = delete;
  LogTailers& operator=(const LogTailers&) = delete;

  uint64_t bytes() const { return bytes_.load(); }

 private:
  // The seq of the last frame in `frames` (8-byte seq, 1-byte kind, 4-byte length, payload; all
  // little-endian), or 0 when there is none.
  static uint64_t last_seq(std::string_view frames) {
    uint64_t seq = 0;
    while (frames.size() >= 13) {
      uint64_t length = 0;
      seq = 0;
      for (int i = 7; i >= 0; --i) seq = seq << 8 | static_cast<uint8_t>(frames[i]);
      for (int i = 12; i >= 9; --i) length = length << 8 | static_cast<uint8_t>(frames[i]);
      if (frames.size() < 13 + length) break;
      frames.remove_prefix(13 + length);
    }
    return seq;
  }

  void tail(uint16_t port, int64_t epoch) {
    Link link;
    uint64_t after = 0;
    bool started = false;
    while (!stop_.load()) {
      const unsigned status =
          link.send(port, verb::get, fmt::format("/cluster/log?epoch={}&after={}", epoch, after));
      if (!started) {  // start at the newest entry, as a follower fresh from a snapshot
        const std::string newest = link.last().header("x-lmcache-log-last");
        uint64_t value = 0;
        std::from_chars(newest.data(), newest.data() + newest.size(), value);
        after = value;
        started = status == 200 || status == 409;
        continue;
      }
      if (status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      bytes_ += link.last().body.size();
      after = std::max(after, last_seq(link.last().body));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::vector<std::thread> threads_;
};

// The cost of shipping the log alone: rounds of a window without followers and one with two
// LogTailers, in alternating order; the leader's CPU per entry compared as in
// measure_follow_cost. False when the run failed.
bool measure_shipping_cost(Cluster& cluster, CostLoad& load, int window_s, int rounds) {
  const uint16_t leader = cluster.node(0).port();
  const pid_t leader_pid = cluster.node(0).pid();
  for (size_t i = 1; i < Cluster::size(); ++i) {
    if (cluster.running(i)) cluster.stop(i, SIGTERM);
  }
  const int64_t epoch = readyz(leader).epoch;
  std::vector<double> cpu_costs;
  for (int round = 1; round <= rounds; ++round) {
    Window alone;
    Window shipped;
    uint64_t bytes = 0;
    for (const bool with_tailers : {round % 2 == 0, round % 2 == 1}) {
      if (!with_tailers) {
        alone = load.run(leader_pid, window_s);
        continue;
      }
      LogTailers tailers(leader, epoch, 2);
      shipped = load.run(leader_pid, window_s);
      bytes = tailers.bytes();
    }
    std::printf(
        "shipping cost round %d: alone %.3f us leader CPU/entry; log tailed by 2 remote-like "
        "followers %.3f us leader CPU/entry (%.0f MB shipped)\n",
        round, alone.leader_cpu_us_per_entry, shipped.leader_cpu_us_per_entry,
        static_cast<double>(bytes) / 1e6);
    if (alone.leader_cpu_us_per_entry <= 0 || bytes == 0) return false;
    cpu_costs.push_back(100.0 *
                        (shipped.leader_cpu_us_per_entry / alone.leader_cpu_us_per_entry - 1.0));
  }
  const auto [cpu_min, cpu_max] = std::minmax_element(cpu_costs.begin(), cpu_costs.end());
  result(median(cpu_costs) <= 10.0, "follow_cost_leader_cpu_remote_followers",
         fmt::format("{:+.1f} % leader CPU per entry added by shipping the log to 2 followers "
                     "elsewhere (median of {} rounds, {:+.1f} to {:+.1f})",
                     median(cpu_costs), rounds, *cpu_min, *cpu_max),
         "at most 10 %");
  return true;
}

// Follow cost: `rounds` pairs of adjacent windows, one alone and one with two followers, in
// the order alone-with, with-alone, alone-with, ... (followers started, or stopped with SIGTERM,
// between the windows of a pair), so neither kind always comes first. The cost of a round
// compares its two windows; the median round is reported, as the machine's load drifts. False
// when the run failed. Leaves both followers running.
bool measure_follow_cost(Cluster& cluster, CostLoad& load, int window_s, int rounds) {
  const pid_t leader_pid = cluster.node(0).pid();
  auto set_followers = [&](bool on) {
    for (size_t i = 1; i < Cluster::size(); ++i) {
      if (on && !cluster.running(i) && !cluster.start(i, "follower")) return false;
      if (!on && cluster.running(i)) cluster.stop(i, SIGTERM);
    }
    for (size_t i = 1; on && i < Cluster::size(); ++i) wait_caught_up(cluster.node(i).port());
    return true;
  };
  std::vector<double> rate_costs;
  std::vector<double> cpu_costs;
  for (int round = 1; round <= rounds; ++round) {
    const bool alone_first = round % 2 == 1;
    Window alone;
    Window followed;
    for (const bool with_followers : {!alone_first, alone_first}) {
      if (!set_followers(with_followers)) return false;
      (with_followers ? followed : alone) = load.run(leader_pid, window_s);
    }
    std::printf(
        "follow cost round %d: alone %.0f entries/s, %.3f us leader CPU/entry; 2 followers "
        "%.0f entries/s, %.3f us leader CPU/entry; %llu failed requests\n",
        round, alone.entries_per_s, alone.leader_cpu_us_per_entry, followed.entries_per_s,
        followed.leader_cpu_us_per_entry,
        static_cast<unsigned long long>(alone.failed) + followed.failed);
    if (alone.entries_per_s <= 0 || alone.leader_cpu_us_per_entry <= 0) return false;
    rate_costs.push_back(100.0 * (1.0 - followed.entries_per_s / alone.entries_per_s));
    cpu_costs.push_back(100.0 *
                        (followed.leader_cpu_us_per_entry / alone.leader_cpu_us_per_entry - 1.0));
  }
  if (!set_followers(true)) return false;
  const double rate_cost = median(rate_costs);
  const double cpu_cost = median(cpu_costs);
  const auto [rate_min, rate_max] = std::minmax_element(rate_costs.begin(), rate_costs.end());
  const auto [cpu_min, cpu_max] = std::minmax_element(cpu_costs.begin(), cpu_costs.end());
  result(rate_cost <= 10.0, "follow_cost_throughput",
         fmt::format("{:+.1f} % /events entries/s lost with 2 followers (median of {} rounds, "
                     "{:+.1f} to {:+.1f})",
                     rate_cost, rounds, *rate_min, *rate_max),
         "at most 10 %");
  result(cpu_cost <= 10.0, "follow_cost_leader_cpu",
         fmt::format("{:+.1f} % leader CPU per entry added with 2 followers (median of {} "
                     "rounds, {:+.1f} to {:+.1f})",
                     cpu_cost, rounds, *cpu_min, *cpu_max),
         "at most 10 %");
  return true;
}

// Failover under load: prints the failover lines; false when the run failed.
bool measure_failover(Cluster& cluster, int lease_s, int before_s, int after_s, bool pause) {
  FakeMpServer seed_mp(FakeMpServer::Dialect::kSeedEra);
  FakeMpServer v2_mp(FakeMpServer::Dialect::kV2);
  const std::vector<uint16_t> mp_ports = {seed_mp.port(), v2_mp.port()};
  const uint16_t old_leader = cluster.node(0).port();
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < Cluster::size(); ++i) ports.push_back(cluster.node(i).port());

  Link setup;
  for (int i = 0; i < kInstances; ++i) {
    const std::string body =
        fmt::format(R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", instance_id(i),
                    mp_ports[i < kSeedInstances ? 0 : 1]);
    if (setup.send(old_leader, verb::post, "/instances", body) != 200) {
      std::fprintf(stderr, "registration failed: %u %s\n", setup.last().status,
                   setup.last().body.c_str());
      return false;
    }
  }
  if (setup.send(old_leader, verb::put, "/l2/quota/evict", R"({"limit_gb":0.01})") != 200) {
    std::fprintf(stderr, "quota of evict failed: %s\n", setup.last().body.c_str());
    return false;
  }
  std::printf("registered %d instances (%d seed-era, %d v2) at two stand-in MP servers\n",
              kInstances, kSeedInstances, kInstances - kSeedInstances);

  LoadControl control;
  LoadCounts counts;
  Acknowledged acked;
  control.leader = old_leader;
  std::vector<std::thread> threads;
  threads.reserve(kHeartbeatThreads + 4);
  for (int t = 0; t < kHeartbeatThreads; ++t) {
    threads.emplace_back([&, t] { send_heartbeats(t, control, counts, mp_ports); });
  }
  threads.emplace_back([&] { send_events(false, control, counts); });
  threads.emplace_back([&] { send_events(true, control, counts); });
  threads.emplace_back([&] { send_publishes(control, counts, acked); });
  threads.emplace_back([&] { send_quota_writes(control, counts, acked, ports); });
  auto stop_load = [&] {
    control.stop = true;
    for (auto& thread : threads) thread.join();
    threads.clear();
  };

  std::this_thread::sleep_for(std::chrono::seconds(before_s));
  const int64_t old_epoch = readyz(old_leader).epoch;
  // A check of the recall measurement itself: the old leader must recall what it acknowledged.
  std::vector<uint64_t> published_early;
  {
    std::lock_guard lock(acked.mu);
    published_early = acked.chunks;
  }
  const auto [control_recalled, control_asked] = blend_recall(old_leader, published_early);

  std::string lags;
  for (size_t i = 1; i < Cluster::size(); ++i) {
    const auto lag = replication_lag(ports[i]);
    lags += lag ? fmt::format(" {:.0f}", *lag) : std::string(" none");
  }

  // Events and publishes pause only while in-flight ones finish and /l2/status is read.
  const auto held = Clock::now();
  if (!control.hold_and_drain() || setup.send(old_leader, verb::get, "/l2/status") != 200) {
    std::fprintf(stderr, "could not read the leader's /l2/status before the kill\n");
    stop_load();
    return false;
  }
  const auto old_status = parse_status(setup.last().body);
  std::vector<uint64_t> published_before;
  {
    std::lock_guard lock(acked.mu);
    published_before = acked.chunks;
  }
  std::printf(
      "before the kill (%d s of load): %llu event batches, %llu heartbeats, %zu blend chunks "
      "published (the old leader recalls %zu of %zu sampled), leader epoch %lld; events held "
      "%.1f ms before the kill; followers' replication lag in entries:%s\n",
      before_s, static_cast<unsigned long long>(counts.batches_ok.load()),
      static_cast<unsigned long long>(counts.heartbeats_ok.load()), published_before.size(),
      control_recalled, control_asked, static_cast<long long>(old_epoch),
      1e3 * seconds_between(held, Clock::now()), lags.c_str());

  const auto killed = Clock::now();
  control.leader = 0;
  control.killed = true;
  const pid_t old_pid = cluster.node(0).pid();
  if (pause) {
    ::kill(old_pid, SIGSTOP);
  } else {
    cluster.stop(0, SIGKILL);
  }

  // The first follower to answer /readyz 200, then to serve GET /l2/status.
  std::optional<size_t> winner;
  std::optional<Clock::time_point> ready_at;
  std::optional<Clock::time_point> serving_at;
  const auto give_up = killed + std::chrono::seconds(lease_s + 10);
  while (!serving_at && Clock::now() < give_up) {
    for (size_t i = 1; i < Cluster::size() && !winner; ++i) {
      if (readyz(ports[i]).status == 200) {
        winner = i;
        ready_at = Clock::now();
      }
    }
    if (winner && setup.send(ports[*winner], verb::get, "/l2/status") == 200) {
      serving_at = Clock::now();
    }
    if (!serving_at) std::this_thread::sleep_for(10ms);
  }
  if (!serving_at) {
    std::fprintf(stderr, "no follower served within lease + 10 s\n");
    stop_load();
    return false;
  }
  const uint16_t new_leader = ports[*winner];
  const auto new_status = parse_status(setup.last().body);
  control.leader = new_leader;
  const int64_t new_epoch = readyz(new_leader).epoch;
  const auto [recalled, asked] = blend_recall(new_leader, published_before);
  control.hold = false;

  // Run on until the new leader has dispatched an eviction and AFTER seconds have passed.
  // A paused old leader resumes once the new one has dispatched, and has AFTER seconds to send
  // something stale.
  const auto released = Clock::now();
  std::optional<Clock::time_point> first_dispatch_seen;
  while (Clock::now() - released < std::chrono::seconds(after_s + 10)) {
    if (!first_dispatch_seen && tally_epochs(seed_mp, old_epoch, new_epoch).new_epoch +
                                        tally_epochs(v2_mp, old_epoch, new_epoch).new_epoch >
                                    0) {
      first_dispatch_seen = Clock::now();
      if (pause) ::kill(old_pid, SIGCONT);
    }
    const auto since = first_dispatch_seen.value_or(released);
    if (first_dispatch_seen && Clock::now() - since >= std::chrono::seconds(pause ? after_s : 0) &&
        Clock::now() - released >= std::chrono::seconds(after_s)) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  if (pause) {
    ::kill(old_pid, SIGCONT);  // also when the new leader never dispatched
    std::printf(
        "the paused old leader, resumed after the new leader's first dispatch, is now: "
        "%s\n",
        readyz(old_leader).role.c_str());
  }
  stop_load();

  // Quotas answered 200 that the new leader lacks.
  if (setup.send(new_leader, verb::get, "/l2/status") != 200) {
    std::fprintf(stderr, "could not read the new leader's /l2/status\n");
    return false;
  }
  const auto final_status = parse_status(setup.last().body);
  size_t lost = 0;
  for (int n : acked.quotas) {
    const auto it = final_status.find("q-" + std::to_string(n));
    if (it == final_status.end() || !it->second.quota_gb ||
        std::abs(*it->second.quota_gb - (n + 1)) > 1e-9) {
      ++lost;
    }
  }

  // Per-salt usage of the new leader against the old leader's last status.
  double worst = 0;
  std::string worst_salt = "none";
  double old_total = 0;
  double new_total = 0;
  std::map<std::string, std::pair<double, double>> usage;  // salt: old, new
  for (const auto& [salt, status] : old_status) usage[salt].first = status.usage_gb;
  for (const auto& [salt, status] : new_status) usage[salt].second = status.usage_gb;
  for (const auto& [salt, both] : usage) {
    const auto [was, now] = both;
    old_total += was;
    new_total += now;
    if (was == now) continue;                                        // 0 and 0 included
    const double error = was > 0 ? std::abs(now - was) / was : 1.0;  // new salt: 100 % off
    if (error >= worst) {
      worst = error;
      worst_salt = salt;
    }
  }

  const EpochTally seed_epochs = tally_epochs(seed_mp, old_epoch, new_epoch);
  const EpochTally v2_epochs = tally_epochs(v2_mp, old_epoch, new_epoch);
  const uint64_t stale = seed_epochs.stale_after_new + v2_epochs.stale_after_new;
  const uint64_t new_dispatches = seed_epochs.new_epoch + v2_epochs.new_epoch;
  const double first_heartbeat =
      counts.first_heartbeat_after_kill_ns.load() == 0
          ? -1
          : seconds_between(
                killed,
                Clock::time_point(Clock::duration(counts.first_heartbeat_after_kill_ns.load())));

  std::printf(
      "after the kill: new leader epoch %lld; /readyz 200 after %.3f s; heartbeats "
      "answered again after %.3f s; %llu re-registrations after 404\n",
      static_cast<long long>(new_epoch), seconds_between(killed, *ready_at), first_heartbeat,
      static_cast<unsigned long long>(counts.reregistrations.load()));
  std::printf(
      "load in all: %llu event batches answered (%llu failed, %llu duplicate/stale/"
      "rejected), %llu heartbeats (%llu failed, %llu after the kill), %llu publishes "
      "(%llu failed), %zu quota writes answered (%llu failed)\n",
      static_cast<unsigned long long>(counts.batches_ok.load()),
      static_cast<unsigned long long>(counts.batches_failed.load()),
      static_cast<unsigned long long>(counts.batches_odd.load()),
      static_cast<unsigned long long>(counts.heartbeats_ok.load()),
      static_cast<unsigned long long>(counts.heartbeats_failed.load()),
      static_cast<unsigned long long>(counts.heartbeats_ok_after_kill.load()),
      static_cast<unsigned long long>(counts.publishes_ok.load()),
      static_cast<unsigned long long>(counts.publishes_failed.load()), acked.quotas.size(),
      static_cast<unsigned long long>(counts.quota_writes_failed));
  std::printf(
      "eviction requests: seed-era MP %llu at the old epoch, %llu at the new; v2 MP %llu "
      "at the old epoch, %llu at the new\n",
      static_cast<unsigned long long>(seed_epochs.old_epoch),
      static_cast<unsigned long long>(seed_epochs.new_epoch),
      static_cast<unsigned long long>(v2_epochs.old_epoch),
      static_cast<unsigned long long>(v2_epochs.new_epoch));

  const double takeover = seconds_between(killed, *serving_at);
  result(takeover <= lease_s + 1.0, "takeover",
         fmt::format("{:.3f} s from {} to a follower answering /readyz 200 and serving", takeover,
                     pause ? "SIGSTOP" : "SIGKILL"),
         fmt::format("at most lease + 1 = {} s", lease_s + 1));
  result(lost == 0, "quota_writes_lost",
         fmt::format("{} of {} answered 200", lost, acked.quotas.size()), "0");
  result(worst <= 0.01, "usage_per_salt",
         fmt::format("worst {:.2f} % off ({}); total {:.3f} GiB on the new leader vs {:.3f} "
                     "GiB on the old",
                     100 * worst, worst_salt, new_total, old_total),
         "within 1 % of the old leader's last /l2/status");
  result(asked > 0 && static_cast<double>(recalled) >= 0.99 * static_cast<double>(asked),
         "blend_recall",
         fmt::format(
             "{:.1f} % ({} of {} chunks published before the kill)",
             asked == 0 ? 0.0 : 100.0 * static_cast<double>(recalled) / static_cast<double>(asked),
             recalled, asked),
         "at least 99 %");
  result(new_dispatches > 0 && stale == 0, "old_epoch_after_new_dispatch",
         new_dispatches == 0
             ? std::string("no eviction request from the new leader to judge by")
             : fmt::format("{} eviction requests with another epoch after the new leader's first "
                           "({} from it)",
                           stale, new_dispatches),
         "0");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 6 ||
      (argc == 6 && std::string_view(argv[5]) != "kill" && std::string_view(argv[5]) != "stop")) {
    std::fprintf(stderr,
                 "usage: ha_failover [LEASE_S=2] [BEFORE_S=10] [AFTER_S=6] [WINDOW_S=2] "
                 "[kill|stop]\n");
    return 2;
  }
  const int lease_s = positive_arg(argc, argv, 1, 2);
  const int before_s = positive_arg(argc, argv, 2, 10);
  const int after_s = positive_arg(argc, argv, 3, 6);
  const int window_s = positive_arg(argc, argv, 4, 2);
  const bool pause = argc == 6 && std::string_view(argv[5]) == "stop";
  if (!EtcdProcess::available()) {
    std::fprintf(stderr, "%s is not installed (Debian package etcd-server)\n",
                 EtcdProcess::kBinary);
    return 1;
  }
  try {
    Cluster cluster(lease_s);
    if (!cluster.start(0, "leader")) return 1;
    Link setup;
    for (int salt = 0; salt < 4; ++salt) {
      if (setup.send(cluster.node(0).port(), verb::put, "/l2/quota/tenant-" + std::to_string(salt),
                     R"({"limit_gb":1000000})") != 200) {
        std::fprintf(stderr, "quota write failed: %s\n", setup.last().body.c_str());
        return 1;
      }
    }
    std::printf("etcd and the leader up; lease %d s\n", lease_s);
    // One load for both measures: its instances' seqs go on across them.
    CostLoad load(cluster.node(0).port());
    load.warm();
    load.run(cluster.node(0).pid(), 1);  // not counted: the first window of a process runs slow
    if (!measure_shipping_cost(cluster, load, window_s, kCostRounds)) return 1;
    if (!measure_follow_cost(cluster, load, window_s, kCostRounds)) return 1;
    if (!measure_failover(cluster, lease_s, before_s, after_s, pause)) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ha_failover: %s\n", e.what());
    return 1;
  }
  return 0;
}
