// The whole coordinator (CoordinatorApp: HTTP server, router, L2 accounting, quotas, blend
// index, eviction and health loops, startup resync, metrics) in this process, with clients on
// several threads at once. The end-to-end tests drive the real binary in a child process; this
// test keeps the server's threads in the test process, so a ThreadSanitizer build of the unit
// tests sees every access the coordinator's threads make while clients race each other.
//
// What must hold: every request is answered 2xx, replays are recognised, the usage of every
// writer's salt equals what it stored minus what it deleted, the resynced keys are counted, and
// run() returns 0 after request_stop().
#include "app/coordinator_app.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_mp_server.h"
#include "support/http_test_client.h"
#include "support/problem_log.h"

namespace lmcache::app {
namespace {

namespace json = boost::json;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;
using testing::FakeMpServer;
using testing::HttpTestClient;
using testing::ProblemLog;
using testing::TestResponse;

constexpr int kWriters = 3;
constexpr int kBatchesPerWriter = 150;
constexpr int kEventsPerBatch = 8;
constexpr int kBlendThreads = 2;
constexpr int kBlendRounds = 100;
constexpr int kBlendChunk = 4;
constexpr int kChurnRounds = 150;
constexpr int kResyncKeys = 25;
constexpr uint64_t kResyncKeyBytes = 4096;
constexpr double kGib = 1073741824.0;

// Sends one request; a transport failure or a status other than 2xx is a problem.
std::optional<TestResponse> call(ProblemLog& problems, HttpTestClient& client, verb method,
                                 const std::string& target, const std::string& body = "") {
  try {
    TestResponse res = client.request(method, target, body);
    if (res.status < 200 || res.status >= 300) {
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

json::object key_json(const std::string& hash, const std::string& salt) {
  return json::object{{"chunk_hash_hex", hash},
                      {"model_name", "app-model"},
                      {"kv_rank", 0},
                      {"object_group_id", 0},
                      {"cache_salt", salt}};
}

std::string register_body(const std::string& id, uint16_t port) {
  return json::serialize(
      json::object{{"instance_id", id}, {"ip", "127.0.0.1"}, {"http_port", port}});
}

// Bytes recorded for a salt, from GET /l2/status/{salt}.
std::optional<uint64_t> usage_bytes(HttpTestClient& client, const std::string& salt) {
  const TestResponse res = client.get("/l2/status/" + salt);
  if (res.status != 200) return std::nullopt;
  return static_cast<uint64_t>(std::llround(res.json().at("usage_gb").to_number<double>() * kGib));
}

// One writer: its own instance and salt. Streams event batches (stores, deletes, lookups and a
// store to a salt without quota, which the eviction loop keeps sending to the MP server),
// replays some and heartbeats. Returns the bytes its salt must hold at the end.
uint64_t run_writer(ProblemLog& problems, uint16_t port, uint16_t mp_port, int writer) {
  HttpTestClient client(port, 60s);
  const std::string instance = fmt::format("app-writer-{}", writer);
  const std::string salt = fmt::format("app-{}", writer);
  call(problems, client, verb::post, "/instances", register_body(instance, mp_port));
  std::mt19937 rng(77 + writer);
  std::map<int, uint64_t> stored;  // key number -> size, for keys not deleted
  int next_key = 0;
  for (int seq = 1; seq <= kBatchesPerWriter; ++seq) {
    json::array events;
    std::map<int, std::optional<uint64_t>> changes;  // applied once acknowledged
    for (int e = 0; e < kEventsPerBatch; ++e) {
      const unsigned dice = rng() % 10;
      const int key = dice < 5 || next_key == 0 ? next_key++ : static_cast<int>(rng() % next_key);
      const std::string hash = fmt::format("{:08x}{:08x}", writer, key);
      if (dice < 7) {
        const uint64_t bytes = 1024 * (1 + rng() % 32);
        events.emplace_back(
            json::object{{"type", "store"}, {"key", key_json(hash, salt)}, {"bytes", bytes}});
        changes[key] = bytes;
      } else if (dice < 9) {
        events.emplace_back(
            json::object{{"type", "delete"}, {"key", key_json(hash, salt)}, {"bytes", 0}});
        changes[key] = std::nullopt;
      } else {
        events.emplace_back(
            json::object{{"type", "lookup"}, {"key", key_json(hash, salt)}, {"bytes", 0}});
      }
    }
    events.emplace_back(
        json::object{{"type", "store"},
                     {"key", key_json(fmt::format("{:08x}{:08x}", writer, seq), "app-noquota")},
                     {"bytes", 2048}});
    const std::string body = json::serialize(
        json::object{{"instance_id", instance}, {"seq", seq}, {"events", std::move(events)}});
    auto res = call(problems, client, verb::post, "/l2/events", body);
    if (!res || res->status != 200) return 0;
    if (res->json().at("recorded").to_number<int>() != kEventsPerBatch + 1) {
      problems.add(fmt::format("writer {} seq {}: {}", writer, seq, res->body));
    }
    for (const auto& [key, size] : changes) {
      if (size) {
        stored[key] = *size;
      } else {
        stored.erase(key);
      }
    }
    if (seq % 6 == 0) {  // a replay: acknowledged, not applied
      auto replay = call(problems, client, verb::post, "/l2/events", body);
      if (replay && !replay->json().as_object().contains("duplicate")) {
        problems.add(fmt::format("writer {} replay of seq {}: {}", writer, seq, replay->body));
      }
    }
    if (seq % 4 == 0) call(problems, client, verb::put, "/instances/" + instance + "/heartbeat");
  }
  uint64_t bytes = 0;
  for (const auto& [key, size] : stored) bytes += size;
  return bytes;
}

// Publishes chunks into a scope shared with the other blend thread, matches its own back and
// removes some of them.
void run_blend(ProblemLog& problems, uint16_t port, int thread) {
  HttpTestClient client(port, 60s);
  for (int round = 0; round < kBlendRounds; ++round) {
    json::array tokens;
    json::array keys;
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int t = 0; t < kBlendChunk; ++t) {
        tokens.emplace_back(thread * 100000 + round * 100 + chunk * 10 + t);
      }
      keys.emplace_back(fmt::format("blend-{}-{}-{}", thread, round, chunk));
    }
    json::array request{9, 9, 9};
    for (const auto& token : tokens) request.push_back(token);
    const json::object publish{{"ranges", json::array{json::object{{"model_scope", "app-scope"},
                                                                   {"tokens", tokens},
                                                                   {"object_keys", keys},
                                                                   {"old_st_base", 0}}}}};
    call(problems, client, verb::post, "/blend/fingerprints", json::serialize(publish));
    auto match = call(problems, client, verb::post, "/blend/match",
                      json::serialize(json::object{{"model_scope", "app-scope"},
                                                   {"tokens", std::move(request)}}));
    if (match && match->status == 200) {
      const json::value answer = match->json();
      const auto& matches = answer.at("matches").as_array();
      if (matches.size() != 4 || matches[0].at("cur_st").to_number<int>() != 3) {
        problems.add("blend match: " + match->body.substr(0, 300));
      }
    }
    if (round % 2 == 0) {
      auto removed = call(problems, client, verb::delete_, "/blend/fingerprints",
                          json::serialize(json::object{{"object_keys", keys}}));
      if (removed && removed->status == 200 && removed->json().at("removed") != 4) {
        problems.add("blend remove: " + removed->body);
      }
    }
  }
}

// Instances come and go, quotas of another salt change, and listings, status and metrics are
// read while everything else runs.
void run_churn(ProblemLog& problems, uint16_t port, uint16_t mp_port) {
  HttpTestClient client(port, 60s);
  for (int round = 0; round < kChurnRounds; ++round) {
    const std::string id = fmt::format("app-churn-{}", round % 3);
    call(problems, client, verb::post, "/instances", register_body(id, mp_port));
    call(problems, client, verb::put, "/instances/" + id + "/heartbeat");
    call(problems, client, verb::get, "/instances");
    call(problems, client, verb::put, "/l2/quota/app-churn",
         fmt::format(R"({{"limit_gb": {}}})", round % 5));
    if (round % 3 == 0) call(problems, client, verb::get, "/metrics");
    if (round % 3 == 1) call(problems, client, verb::get, "/l2/status");
    if (round % 3 == 2) call(problems, client, verb::delete_, "/instances/" + id);
  }
}

TEST(CoordinatorAppTest, ServesConcurrentClientsWhileItsLoopsRun) {
  const auto log_level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);

  FakeMpServer mp;  // answers the eviction loop's DELETE /l2 and the resync's GET /l2/keys
  std::vector<std::string> resync_entries;
  resync_entries.reserve(kResyncKeys);
  for (int i = 0; i < kResyncKeys; ++i) {
    resync_entries.push_back(
        json::serialize(json::object{{"key", key_json(fmt::format("{:016x}", i), "app-resync")},
                                     {"size_bytes", kResyncKeyBytes}}));
  }
  mp.set_keys(std::move(resync_entries));

  CoordinatorConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.state_path = ":memory:";
  config.eviction_check_interval_s = 0.02;
  config.health_check_interval_s = 0.02;
  config.instance_timeout_s = 600;
  config.blend_chunk_size = kBlendChunk;
  config.enable_startup_resync = true;
  config.resync_poll_interval_s = 0.01;
  config.resync_page_size = 10;  // several pages, applied while writers apply batches

  CoordinatorApp app(config);
  const uint16_t port = app.port();
  ASSERT_NE(port, 0);
  auto exit_code = std::async(std::launch::async, [&app] { return app.run(); });
  // A failed assertion returns early: stop the app first, or the future would wait forever.
  struct StopOnExit {
    CoordinatorApp& app;
    ~StopOnExit() { app.request_stop(); }
  } stop_on_exit{app};

  HttpTestClient admin(port, 60s);
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(admin.put(fmt::format("/l2/quota/app-{}", w), R"({"limit_gb":1000})").status, 200);
  }
  ASSERT_EQ(admin.put("/l2/quota/app-resync", R"({"limit_gb":1000})").status, 200);

  ProblemLog problems;
  std::vector<uint64_t> expected(kWriters, 0);
  std::vector<std::thread> threads;
  threads.reserve(kWriters + kBlendThreads + 1);
  auto guarded = [&problems](auto work) {
    return [&problems, work] {
      try {
        work();
      } catch (const std::exception& error) {
        problems.add(std::string("worker stopped: ") + error.what());
      }
    };
  };
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back(
        guarded([&, w] { expected[w] = run_writer(problems, port, mp.port(), w); }));
  }
  for (int b = 0; b < kBlendThreads; ++b) {
    threads.emplace_back(guarded([&, b] { run_blend(problems, port, b); }));
  }
  threads.emplace_back(guarded([&] { run_churn(problems, port, mp.port()); }));
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(problems.count(), 0u) << problems.text();
  for (int w = 0; w < kWriters; ++w) {
    const std::string salt = fmt::format("app-{}", w);
    EXPECT_EQ(usage_bytes(admin, salt), expected[w]) << salt;
  }
  // The resync ran to the end, concurrently with the writers (its pages are small).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::optional<uint64_t> resynced;
  while ((resynced = usage_bytes(admin, "app-resync")) != kResyncKeys * kResyncKeyBytes &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(resynced, kResyncKeys * kResyncKeyBytes);
  // The eviction loop reached the MP server with the keys of the salt without quota.
  EXPECT_TRUE(mp.wait_for_deletes(1, 30s));
  EXPECT_EQ(admin.get("/metrics").status, 200);

  app.request_stop();
  ASSERT_EQ(exit_code.wait_for(30s), std::future_status::ready) << "run() did not return";
  EXPECT_EQ(exit_code.get(), 0);
  spdlog::set_level(log_level);
}

}  // namespace
}  // namespace lmcache::app
