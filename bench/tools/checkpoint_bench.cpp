// Checkpoint pause and warm-restart time at N keys (default 10,000,000), in-process.
//
// Fills the derived state through core::EventIngest with v2 store batches of 256 entries (one
// L2 placement per key, 4 salts, 8 ranks), then keeps a writer thread ingesting access and store
// batches of the same instance (no new keys or placements) while app::Checkpointer forks and its
// child writes the file. Reports:
//   - the freeze (the fork, every state lock held),
//   - the writer's batch latency (max, p99.9) before and while the child writes: what a request
//     waits because of a checkpoint, copy-on-write page faults included,
//   - the child's write time and the file size,
//   - the load time of the file into a fresh state (the warm part of a restart),
//   - RSS before and after.
//
// Usage: checkpoint_bench [KEYS=10000000] [PATH=/tmp/checkpoint_bench.ckpt]
#include <prometheus/registry.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/checkpoint_file.h"
#include "app/checkpointer.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/derived_state.h"
#include "core/event_ingest.h"
#include "core/l2_accounting.h"

namespace {

using namespace lmcache;
using Clock = std::chrono::steady_clock;
constexpr size_t kBatch = 256;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1048576.0;
}

// Anonymous memory on huge pages, from /proc/self/smaps_rollup.
double huge_mb() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) return std::stod(line.substr(14)) / 1024.0;
  }
  return 0;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

const char* const kSalts[] = {"tenant-0", "tenant-1", "tenant-2", "tenant-3"};

// Builds and offers one batch of keys first..first+kBatch-1 (wrapping at `keys`).
struct BatchMaker {
  std::vector<std::string> hashes = std::vector<std::string>(kBatch, std::string(32, '\0'));
  std::vector<core::CacheEventEntry> entries = std::vector<core::CacheEventEntry>(kBatch);
  uint64_t seq = 0;
  std::string instance;

  void offer(core::EventIngest& ingest, uint64_t first, uint64_t keys, core::CacheEventType type) {
    for (size_t i = 0; i < kBatch; ++i) {
      const uint64_t n = (first + i) % keys;
      for (int w = 0; w < 4; ++w) {
        const uint64_t v = splitmix64(n * 4 + w);
        for (int b = 0; b < 8; ++b) hashes[i][w * 8 + b] = static_cast<char>(v >> (8 * b));
      }
      const auto rank = static_cast<int32_t>((8u << 24) | ((n % 8) << 16) | (8u << 8) | (n % 8));
      entries[i] = {core::ObjectKeyView(hashes[i], "meta-llama/Llama-3.1-8B-Instruct", rank, 0,
                                        kSalts[n % 4]),
                    2097152 + (n % 64) * 4096,
                    {},
                    -1};
    }
    core::CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = 1788000000;
    batch.seq = ++seq;
    batch.type = type;
    batch.backend = "fs";
    batch.entries = entries;
    ingest.ingest(batch);
  }
};

struct Latencies {
  std::vector<double> ms;
  void add(double v) { ms.push_back(v); }
  void print(const char* what) {
    if (ms.empty()) {
      std::printf("  %s: no batches\n", what);
      return;
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) {
      return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
    };
    std::printf("  %s: %zu batches, p50 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", what, ms.size(),
                at(0.5), at(0.999), ms.back());
  }
};

}  // namespace

int main(int argc, char** argv) {
  const uint64_t keys = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  const std::string path = argc > 2 ? argv[2] : "/tmp/checkpoint_bench.ckpt";

  core::L2Accounting l2{core::EvictionConfig{}};
  core::EventIngest ingest{l2};
  core::BlendIndex blend{256, 1};  // empty: this measures the ledger and directory
  core::BlendFeed blend_feed{blend};
  BatchMaker filler;
  filler.instance = "mp-fill";
  const Clock::time_point fill_start = Clock::now();
  for (uint64_t first = 0; first < keys; first += kBatch) {
    filler.offer(ingest, first, keys, core::CacheEventType::kStore);
  }
  const double fill_s = ms(Clock::now() - fill_start) / 1000;
  const double rss_filled = rss_mb();
  std::printf("filled %llu keys in %.2f s (%.2fM entries/s), RSS %.0f MB (%.0f MB on huge pages)\n",
              static_cast<unsigned long long>(l2.counters().tracked_keys), fill_s,
              static_cast<double>(keys) / fill_s / 1e6, rss_filled, huge_mb());

  // The writer: access and store batches over the whole key space, timing each.
  std::atomic<int> phase{0};  // 0 baseline, 1 checkpoint running, 2 stop
  Latencies baseline, during;
  std::thread writer([&] {
    // The instance that stored the keys goes on (its next seq): its stores replace its own
    // placements, so the state keeps its size and only the checkpoint differs between phases.
    BatchMaker& maker = filler;
    uint64_t i = 0;
    while (phase.load() != 2) {
      const uint64_t first = splitmix64(i) % keys;
      const Clock::time_point t0 = Clock::now();
      maker.offer(ingest, first, keys,
                  i % 10 < 7 ? core::CacheEventType::kAccess : core::CacheEventType::kStore);
      const double took = ms(Clock::now() - t0);
      (phase.load() == 0 ? baseline : during).add(took);
      ++i;
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const double huge_at_fork = huge_mb();
  prometheus::Registry metrics;
  app::Checkpointer checkpointer(path, core::DerivedState(ingest, blend, blend_feed), metrics);
  const Clock::time_point start = Clock::now();
  phase = 1;
  if (!checkpointer.start()) {
    std::fprintf(stderr, "checkpoint did not start\n");
    return 1;
  }
  while (checkpointer.poll()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double write_s = ms(Clock::now() - start) / 1000;
  phase = 2;
  writer.join();
  const double rss_after = rss_mb();

  std::string error;
  bool missing = false;
  const Clock::time_point load_start = Clock::now();
  const auto loaded = app::CheckpointFile::load(path, error, missing);
  if (!loaded) {
    std::fprintf(stderr, "checkpoint not loaded: %s\n", error.c_str());
    return 1;
  }
  const double verify_s = ms(Clock::now() - load_start) / 1000;
  core::L2Accounting l2_again{core::EvictionConfig{}};
  core::EventIngest ingest_again{l2_again};
  core::BlendIndex blend_again{256, 1};
  core::BlendFeed blend_feed_again{blend_again};
  core::SnapshotReader reader(loaded->body());
  const bool ok = core::DerivedState(ingest_again, blend_again, blend_feed_again).load(reader) &&
                  reader.at_end();
  const double load_s = ms(Clock::now() - load_start) / 1000;

  std::printf(
      "checkpoint of %llu keys: freeze (fork) %.3f ms with %.0f MB on huge pages, written in "
      "%.2f s, %.0f MB\n",
      static_cast<unsigned long long>(keys), ms(checkpointer.max_pause()), huge_at_fork, write_s,
      static_cast<double>(loaded->file_bytes()) / 1048576.0);
  baseline.print("writer batches before the checkpoint");
  during.print("writer batches while the child wrote");
  std::printf("RSS %.0f MB before, %.0f MB after the checkpoint (copy-on-write)\n", rss_filled,
              rss_after);
  std::printf("load: checks %.2f s, state rebuilt %s in %.2f s in all (%llu keys)\n", verify_s,
              ok ? "ok" : "FAILED", load_s,
              static_cast<unsigned long long>(l2_again.counters().tracked_keys));
  ::unlink(path.c_str());
  return ok ? 0 : 1;
}
