// End-to-end soak: the real binary under mixed concurrent load for a bounded time, with fake MP
// servers that are slow, failing, silent or gone, a slow-loris client and an oversized request.
//
// What must hold throughout and at the end:
// - every request is answered (no connection failure) and never with a 5xx, except the 502
//   that prefetch legitimately answers when the MP server it forwards to fails;
// - no acknowledged L2 event is lost and none is counted twice, although some batches are sent
//   twice on purpose: the usage of every writer's salt (quota 1000 GB, so nothing is evicted)
//   equals what that writer stored minus what it deleted;
// - the coordinator's resident memory at the end is at most twice that at the midpoint plus
//   50 MB;
// - a client that sends its headers one byte at a time is cut off after about the keep-alive
//   timeout (1 s here), and a request announcing a 1 GB body is answered 413, while the other
//   clients keep being served.
//
// Bounds are generous (counts and a wall-clock cap, not rates) so that the test passes on a
// slow, loaded machine and under AddressSanitizer.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "problem_log.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kWriters = 4;
constexpr int kEventsPerBatch = 16;
constexpr int kBlendThreads = 2;
constexpr int kBlendChunk = 4;
// Workers run for this long, paced, each with a cap on its request count: the test takes about
// this long on any machine, and the load is bounded on a fast one.
constexpr auto kWorkDuration = 20s;
constexpr int kMaxBatchesPerWriter = 3000;
constexpr auto kWriterPause = 4ms;
constexpr int kMaxBlendRounds = 1000;
constexpr auto kBlendPause = 10ms;
constexpr int kMaxChurnRounds = 600;
constexpr auto kChurnPause = 20ms;
constexpr double kGib = 1073741824.0;

// The coordinator's resident set size in bytes, from /proc/<pid>/status.
uint64_t resident_bytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  }
  return 0;
}

// Shared by the workers: where problems go, progress and the deadline.
struct Soak {
  uint16_t port = 0;
  Clock::time_point deadline;
  ProblemLog problems;
  std::atomic<int> progress{0};  // writer batches acknowledged
  std::atomic<uint64_t> requests{0};

  bool over_time() const { return Clock::now() > deadline; }

  // Sends one request; a transport failure or a 5xx (other than `allowed`) is a problem.
  std::optional<TestResponse> call(HttpTestClient& client, boost::beast::http::verb method,
                                   const std::string& target, const std::string& body = "",
                                   unsigned allowed = 0) {
    ++requests;
    try {
      TestResponse res = client.request(method, target, body);
      if (res.status >= 500 && res.status != allowed) {
        problems.add(fmt::format("{} {} answered {}: {}", std::string(to_string(method)), target,
                                 res.status, res.body.substr(0, 300)));
      }
      return res;
    } catch (const std::exception& error) {
      problems.add(
          fmt::format("{} {} failed: {}", std::string(to_string(method)), target, error.what()));
      return std::nullopt;
    }
  }
};

json::object key_json(int writer, int key, const std::string& salt) {
  return json::object{{"chunk_hash_hex", fmt::format("{:08x}{:08x}", writer, key)},
                      {"model_name", "soak-model"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

std::string register_body(const std::string& id, uint16_t port) {
  return json::serialize(
      json::object{{"instance_id", id}, {"ip", "127.0.0.1"}, {"http_port", port}});
}

// What one writer stored: the size of each of its keys (indexed by key number), or nullopt
// once deleted.
using WriterModel = std::vector<std::optional<uint64_t>>;

// One writer: its own instance, salt and client. Streams event batches with increasing seq,
// replays some, heartbeats, and keeps the expected size of every key it has stored.
void run_writer(Soak& soak, int writer, uint16_t mp_port, WriterModel& expected) {
  using verb = boost::beast::http::verb;
  HttpTestClient client(soak.port, 20s);
  const std::string instance = fmt::format("soak-writer-{}", writer);
  const std::string salt = fmt::format("soak-{}", writer);
  std::mt19937 rng(1234 + writer);
  if (auto res = soak.call(client, verb::post, "/instances", register_body(instance, mp_port));
      !res || res->status != 200) {
    soak.problems.add("writer registration failed");
    return;
  }
  for (int seq = 1; seq <= kMaxBatchesPerWriter && !soak.over_time(); ++seq) {
    json::array events;
    // (key, size or nullopt for a delete), applied to `expected` once acknowledged.
    std::vector<std::pair<size_t, std::optional<uint64_t>>> changes;
    size_t known = expected.size();
    for (int e = 0; e < kEventsPerBatch; ++e) {
      const unsigned dice = rng() % 10;
      // A new key, or any earlier one (a deleted key makes the event a no-op or a re-store).
      const size_t key = dice < 5 || known == 0 ? known++ : rng() % known;
      const auto key_id = static_cast<int>(key);
      if (dice < 7) {  // a store; on an existing key it replaces the size, never adds
        const uint64_t bytes = 1024 * (1 + rng() % 64);
        events.emplace_back(json::object{
            {"type", "store"}, {"key", key_json(writer, key_id, salt)}, {"bytes", bytes}});
        changes.emplace_back(key, bytes);
      } else if (dice < 9) {
        events.emplace_back(json::object{
            {"type", "delete"}, {"key", key_json(writer, key_id, salt)}, {"bytes", 0}});
        changes.emplace_back(key, std::nullopt);
      } else {
        events.emplace_back(json::object{
            {"type", "lookup"}, {"key", key_json(writer, key_id, salt)}, {"bytes", 0}});
      }
    }
    // A key of a salt without quota: everything it stores is evicted, which sends DELETE /l2
    // to this writer's (possibly broken) MP server.
    events.emplace_back(json::object{
        {"type", "store"}, {"key", key_json(writer, seq, "soak-noquota")}, {"bytes", 4096}});
    const std::string body = json::serialize(
        json::object{{"instance_id", instance}, {"seq", seq}, {"events", std::move(events)}});
    auto res = soak.call(client, verb::post, "/l2/events", body);
    if (!res) return;  // not acknowledged: stop, the expectation stays what was acknowledged
    if (res->status != 200 || res->json().at("recorded").to_number<int>() != kEventsPerBatch + 1) {
      soak.problems.add(
          fmt::format("writer {} seq {}: {} {}", writer, seq, res->status, res->body));
      return;
    }
    expected.resize(known);
    for (const auto& [key, size] : changes) expected[key] = size;
    ++soak.progress;

    if (seq % 7 == 0) {  // a replay, as after a lost response: acknowledged, not applied
      auto replay = soak.call(client, verb::post, "/l2/events", body);
      if (!replay || replay->status != 200 || !replay->json().as_object().contains("duplicate")) {
        soak.problems.add(fmt::format("writer {} replay of seq {} not a duplicate: {}", writer, seq,
                                      replay ? replay->body : "no answer"));
      }
    }
    if (seq % 5 == 0) {
      auto beat = soak.call(client, verb::put, "/instances/" + instance + "/heartbeat");
      if (beat && beat->status != 200) {
        soak.problems.add(fmt::format("writer {} heartbeat: {}", writer, beat->status));
      }
    }
    std::this_thread::sleep_for(kWriterPause);
  }
}

std::string base64_u32(const std::vector<uint32_t>& tokens) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  for (uint32_t t : tokens) {
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>(t >> (8 * b)));
  }
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t j = 0; j < 3; ++j) {
      v = v << 8 | (j < n ? static_cast<uint8_t>(bytes[i + j]) : 0);
    }
    for (size_t j = 0; j < 4; ++j) {
      out.push_back(j <= n ? kAlphabet[(v >> (18 - 6 * j)) & 63] : '=');
    }
  }
  return out;
}

// Publishes ranges under its own scope, matches them back, removes some.
void run_blend(Soak& soak, int thread) {
  using verb = boost::beast::http::verb;
  HttpTestClient client(soak.port, 20s);
  const std::string scope = fmt::format("soak-scope-{}", thread);
  for (int round = 0; round < kMaxBlendRounds && !soak.over_time(); ++round) {
    std::vector<uint32_t> tokens;
    json::array keys;
    for (int chunk = 0; chunk < 8; ++chunk) {
      for (int t = 0; t < kBlendChunk; ++t) {
        tokens.push_back(static_cast<uint32_t>(thread * 1000000 + round * 100 + chunk * 10 + t));
      }
      keys.emplace_back(fmt::format("blend-{}-{}-{}", thread, round, chunk));
    }
    const json::object publish{
        {"ranges", json::array{json::object{{"model_scope", scope},
                                            {"tokens", json::array(tokens.begin(), tokens.end())},
                                            {"object_keys", keys},
                                            {"old_st_base", 0}}}}};
    auto res = soak.call(client, verb::post, "/blend/fingerprints", json::serialize(publish));
    if (res && res->status != 200) soak.problems.add("blend publish: " + res->body);

    // The published tokens after a two-token prefix: every chunk found, in order.
    std::vector<uint32_t> request{7, 7};
    request.insert(request.end(), tokens.begin(), tokens.end());
    auto match = soak.call(
        client, verb::post, "/blend/match",
        json::serialize(json::object{{"model_scope", scope}, {"tokens_b64", base64_u32(request)}}));
    if (match && match->status == 200) {
      const json::value answer = match->json();
      const auto& matches = answer.at("matches").as_array();
      if (matches.size() != 8 || matches[0].at("cur_st").to_number<int>() != 2) {
        soak.problems.add("blend match: " + match->body.substr(0, 300));
      }
    } else if (match) {
      soak.problems.add("blend match status: " + match->body);
    }
    if (round % 3 == 0) {
      auto removed = soak.call(client, verb::delete_, "/blend/fingerprints",
                               json::serialize(json::object{{"object_keys", keys}}));
      if (removed && (removed->status != 200 || removed->json().at("removed") != 8)) {
        soak.problems.add("blend remove: " + removed->body);
      }
    }
    std::this_thread::sleep_for(kBlendPause);
  }
}

// Instances come and go (some pointing at broken MP servers), prefetch is forwarded, and the
// listings, status and metrics are read.
void run_churn(Soak& soak, const std::vector<uint16_t>& mp_ports, uint16_t healthy_port,
               uint16_t failing_port) {
  using verb = boost::beast::http::verb;
  HttpTestClient client(soak.port, 20s);
  for (int round = 0; round < kMaxChurnRounds && !soak.over_time(); ++round) {
    const std::string id = fmt::format("soak-churn-{}", round % 5);
    soak.call(client, verb::post, "/instances",
              register_body(id, mp_ports[round % mp_ports.size()]));
    soak.call(client, verb::put, "/instances/" + id + "/heartbeat");
    soak.call(client, verb::get, "/instances");
    if (round % 4 == 0) soak.call(client, verb::get, "/metrics");
    if (round % 4 == 1) soak.call(client, verb::get, "/l2/status");
    if (round % 4 == 2) {
      // Forwarded to a healthy MP server (200) or to one that answers 503 (502 here).
      const bool failing = round % 8 == 2;
      const std::string target = failing ? "soak-prefetch-bad" : "soak-prefetch-ok";
      soak.call(client, verb::post, "/instances",
                register_body(target, failing ? failing_port : healthy_port));
      auto res = soak.call(client, verb::post, "/l2/prefetch",
                           json::serialize(json::object{{"instance_id", target},
                                                        {"model_name", "m"},
                                                        {"world_size", 1},
                                                        {"token_ids", json::array{1, 2, 3}}}),
                           502);
      if (res && res->status != (failing ? 502u : 200u)) {
        soak.problems.add(fmt::format("prefetch to {}: {} {}", target, res->status, res->body));
      }
    }
    if (round % 2 == 1) soak.call(client, verb::delete_, "/instances/" + id);
    std::this_thread::sleep_for(kChurnPause);
  }
}

// Sends a request's header one byte at a time, 100 ms apart, and returns how long the
// coordinator took to close the connection (nullopt: still open after `limit`).
std::optional<Clock::duration> slow_loris(uint16_t port, Clock::duration limit) {
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  const std::string header =
      "POST /instances HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "X-Padding: " +
      std::string(200, 'x') + "\r\n\r\n";
  const auto started = Clock::now();
  for (size_t i = 0; Clock::now() - started < limit; ++i) {
    if (i < header.size()) {
      // MSG_NOSIGNAL: a write to the closed connection must not raise SIGPIPE.
      if (::send(socket.native_handle(), &header[i], 1, MSG_NOSIGNAL) < 0) {
        return Clock::now() - started;
      }
    }
    pollfd fd{socket.native_handle(), POLLIN, 0};
    if (::poll(&fd, 1, 100) > 0) {
      char buffer[512];
      const ssize_t n = ::recv(socket.native_handle(), buffer, sizeof buffer, 0);
      if (n <= 0) return Clock::now() - started;  // closed (EOF or reset)
    }
  }
  return std::nullopt;
}

TEST(SoakTest, MixedLoadWithBrokenServersSlowClientsAndReplays) {
  FakeMpServer healthy;
  healthy.set_delay(20ms);
  FakeMpServer failing;
  failing.set_fail_all(503);
  FakeMpServer silent;
  silent.set_blackhole(true);
  uint16_t refused_port = 0;
  {
    FakeMpServer gone;
    refused_port = gone.port();
  }  // destroyed: connections to its port are refused

  // Under AddressSanitizer, freed memory sits in a quarantine (256 MB by default) that would
  // pass for growth: keep it small, keep the other options of the run.
  const char* inherited = std::getenv("ASAN_OPTIONS");
  const std::string asan_options =
      (inherited != nullptr && *inherited != 0 ? std::string(inherited) + ":" : std::string()) +
      "quarantine_size_mb=16";
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2", "--timeout-keep-alive", "1",
                                  "--blend-chunk-size", std::to_string(kBlendChunk)},
                                 {{"ASAN_OPTIONS", asan_options}});
  Soak soak;
  soak.port = coordinator.port();
  HttpTestClient admin(coordinator.port(), 20s);
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(admin.put(fmt::format("/l2/quota/soak-{}", w), R"({"limit_gb":1000})").status, 200);
  }

  const std::vector<uint16_t> mp_ports = {healthy.port(), failing.port(), silent.port(),
                                          refused_port};
  soak.deadline = Clock::now() + kWorkDuration;
  std::vector<WriterModel> expected(kWriters);
  std::vector<std::thread> threads;
  // A worker that throws (an answer that is not the JSON expected) records a problem.
  auto guarded = [&soak](auto work) {
    return [&soak, work] {
      try {
        work();
      } catch (const std::exception& error) {
        soak.problems.add(std::string("worker stopped: ") + error.what());
      }
    };
  };
  threads.reserve(kWriters + kBlendThreads + 1);  // and the churn thread
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back(
        guarded([&, w] { run_writer(soak, w, mp_ports[w % mp_ports.size()], expected[w]); }));
  }
  for (int b = 0; b < kBlendThreads; ++b) {
    threads.emplace_back(guarded([&, b] { run_blend(soak, b); }));
  }
  threads.emplace_back(guarded([&] { run_churn(soak, mp_ports, healthy.port(), failing.port()); }));

  // Midpoint: half the work time.
  std::this_thread::sleep_until(soak.deadline - kWorkDuration / 2);
  const uint64_t rss_mid = resident_bytes(coordinator.pid());

  // Abusive clients while the others keep going.
  std::optional<Clock::duration> loris_cut;
  const int progress_before_loris = soak.progress;
  std::thread loris([&] { loris_cut = slow_loris(coordinator.port(), 20s); });
  const std::string oversized =
      send_raw(coordinator.port(),
               "POST /l2/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: 1073741824\r\n\r\n{\"instance_id\":",
               20s);
  loris.join();
  const int progress_after_loris = soak.progress;

  for (auto& thread : threads) thread.join();
  const uint64_t rss_end = resident_bytes(coordinator.pid());

  EXPECT_EQ(soak.problems.count(), 0u) << soak.problems.text();
  EXPECT_NE(oversized.find("HTTP/1.1 413"), std::string::npos) << oversized;
  ASSERT_TRUE(loris_cut.has_value()) << "a slow-loris connection stayed open for 20 s";
  EXPECT_GE(*loris_cut, 900ms) << "closed before the keep-alive timeout";
  EXPECT_LT(*loris_cut, 15s);
  // The writers kept being served while the slow client was held.
  EXPECT_GT(progress_after_loris, progress_before_loris)
      << "nobody was served while the slow client was held";

  // Nothing acknowledged lost, nothing counted twice.
  auto status = admin.get("/l2/status");
  ASSERT_EQ(status.status, 200) << status.body;
  std::map<std::string, double> usage_gb;
  const json::value status_body = status.json();
  for (const auto& row : status_body.at("by_cache_salt").as_array()) {
    usage_gb[std::string(row.at("cache_salt").as_string())] =
        row.at("usage_gb").to_number<double>();
  }
  for (int w = 0; w < kWriters; ++w) {
    uint64_t bytes = 0;
    for (const auto& size : expected[w]) bytes += size.value_or(0);
    const std::string salt = fmt::format("soak-{}", w);
    EXPECT_EQ(std::llround(usage_gb[salt] * kGib), static_cast<long long>(bytes)) << salt;
    auto one = admin.get("/l2/status/" + salt);
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(std::llround(one.json().at("usage_gb").to_number<double>() * kGib),
              static_cast<long long>(bytes))
        << salt;
  }

  // Memory stays bounded.
  ASSERT_GT(rss_mid, 0u);
  EXPECT_LE(rss_end, 2 * rss_mid + 50ull * 1024 * 1024)
      << "RSS grew from " << rss_mid << " to " << rss_end << " bytes";

  // Still healthy, and the eviction loop did reach the MP servers.
  EXPECT_EQ(admin.get("/healthz").status, 200);
  EXPECT_GT(healthy.delete_bodies().size() + failing.requests().size(), 0u);
  std::cout << "soak: " << soak.requests << " requests, " << soak.progress
            << " writer batches, RSS mid " << rss_mid / 1024 << " KiB, end " << rss_end / 1024
            << " KiB, slow client cut after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(*loris_cut).count() << " ms\n";
}

}  // namespace
}  // namespace lmcache::testing
