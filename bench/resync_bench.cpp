// Startup resync throughput: keys recorded per second while paging through a
// fake MP server's GET /l2/keys over loopback, with the real MpClient,
// StartupResync and L2Accounting.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <future>
#include <thread>

#include "app/startup_resync.h"
#include "client/mp_client.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "support/fake_mp_server.h"

namespace {
using namespace lmcache;

void BM_ResyncKeys(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const auto keys = static_cast<size_t>(state.range(0));
  const auto page_size = static_cast<size_t>(state.range(1));
  testing::FakeMpServer server;
  std::vector<std::string> entries;
  entries.reserve(keys);
  for (size_t i = 0; i < keys; ++i) {
    entries.push_back(fmt::format(
        R"({{"key":{{"chunk_hash_hex":"{:064x}","model_name":"meta-llama/Llama-3.1-8B","kv_rank":{},"object_group_id":0,"cache_salt":"tenant-{}"}},"size_bytes":{}}})",
        i * 2654435761U, i % 8, i % 4, 1 << 20));
  }
  server.set_keys(std::move(entries));

  for (auto _ : state) {
    boost::asio::io_context io;
    core::InstanceRegistry registry;
    core::L2Accounting l2(core::EvictionConfig{});
    client::MpClient client(io.get_executor());
    core::InstanceRecord record;
    record.instance_id = "src";
    record.ip = "127.0.0.1";
    record.http_port = server.port();
    registry.register_instance(record, std::chrono::steady_clock::now());
    app::ResyncOptions options;
    options.page_size = page_size;
    auto resync =
        std::make_shared<app::StartupResync>(io.get_executor(), options, registry, l2, client);
    std::string how;
    resync->on_finish([&](const std::string& result) {
      how = result;
      io.stop();
    });
    resync->start();
    io.run();
    if (how != "done" || l2.counters().tracked_keys != keys) {
      state.SkipWithError(("resync ended: " + how).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * keys));
  state.counters["keys_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * keys), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ResyncKeys)
    ->Args({200000, 1000})
    ->Args({200000, 5000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
