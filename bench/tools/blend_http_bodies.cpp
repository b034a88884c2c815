// Request bodies for bench/blend_http_load.sh: POST /blend/fingerprints
// batches that publish CHUNKS chunks of CHUNK_SIZE pseudo-random tokens, and
// one POST /blend/match body of REQUEST_TOKENS tokens (tokens_b64) that
// contains HITS of the published chunks at unaligned offsets.
//
// Usage: blend_http_bodies OUT_DIR [CHUNKS=100000] [CHUNK_SIZE=256]
//                          [CHUNKS_PER_BATCH=1000] [REQUEST_TOKENS=32768] [HITS=8]
// Writes OUT_DIR/publish-NNNN.json and OUT_DIR/match.json; prints the number of
// matches the match body must produce.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "base64_encode.h"

namespace json = boost::json;

namespace {

constexpr uint64_t kVocabulary = 128000;  // token ids below this, like a real tokenizer
constexpr size_t kChunksPerRange = 16;    // one published range = one stored document

// Deterministic 64-bit generator (SplitMix64), so every run publishes the same content.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t token() { return static_cast<uint32_t>(next() % kVocabulary); }
};

// The tokens of published chunk `index` (a pure function of the index).
std::vector<uint32_t> chunk_tokens(size_t index, size_t chunk_size) {
  Random random{0x5EED0000ull + index};
  std::vector<uint32_t> tokens(chunk_size);
  for (auto& t : tokens) t = random.token();
  return tokens;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void write_publish_batches(const std::string& dir, size_t chunks, size_t chunk_size,
                           size_t per_batch) {
  size_t batch = 0;
  for (size_t first = 0; first < chunks; first += per_batch, ++batch) {
    const size_t last = std::min(chunks, first + per_batch);
    json::array ranges;
    for (size_t start = first; start < last; start += kChunksPerRange) {
      const size_t end = std::min(last, start + kChunksPerRange);
      json::array tokens;
      json::array keys;
      tokens.reserve((end - start) * chunk_size);
      for (size_t c = start; c < end; ++c) {
        for (uint32_t t : chunk_tokens(c, chunk_size)) tokens.emplace_back(t);
        keys.emplace_back("bench-model@0@" + std::to_string(c) + "@deadbeefdeadbeefdeadbeef");
      }
      ranges.emplace_back(json::object{{"model_scope", "bench-model"},
                                       {"tokens", std::move(tokens)},
                                       {"object_keys", std::move(keys)},
                                       {"old_st_base", (start % kChunksPerRange) * chunk_size}});
    }
    char name[32];
    std::snprintf(name, sizeof name, "/publish-%04zu.json", batch);
    write_file(dir + name, json::serialize(json::object{{"ranges", std::move(ranges)}}));
  }
}

// Random tokens with `hits` published chunks spread over the request at odd offsets.
size_t write_match_body(const std::string& dir, size_t chunks, size_t chunk_size,
                        size_t request_tokens, size_t hits) {
  Random random{42};
  std::vector<uint32_t> tokens(request_tokens);
  for (auto& t : tokens) t = random.token();
  size_t placed = 0;
  const size_t stride = hits == 0 ? 0 : request_tokens / hits;
  for (size_t h = 0; h < hits && stride > chunk_size; ++h) {
    const size_t offset = h * stride + 1 + h % 7;
    if (offset + chunk_size > request_tokens) break;
    const auto chunk = chunk_tokens((h * 7919) % chunks, chunk_size);
    std::copy(chunk.begin(), chunk.end(), tokens.begin() + static_cast<std::ptrdiff_t>(offset));
    ++placed;
  }
  const json::object body{
      {"model_scope", "bench-model"},
      {"tokens_b64", lmcache::testing::base64_encode(tokens.data(), tokens.size() * 4)}};
  write_file(dir + "/match.json", json::serialize(body));
  return placed;
}

size_t arg(int argc, char** argv, int i, size_t fallback) {
  return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s OUT_DIR [CHUNKS] [CHUNK_SIZE] [CHUNKS_PER_BATCH] [REQUEST_TOKENS] "
                 "[HITS]\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const size_t chunks = arg(argc, argv, 2, 100000);
  const size_t chunk_size = arg(argc, argv, 3, 256);
  const size_t per_batch = arg(argc, argv, 4, 1000);
  const size_t request_tokens = arg(argc, argv, 5, 32768);
  const size_t hits = arg(argc, argv, 6, 8);
  if (chunks == 0 || chunk_size == 0 || per_batch == 0) {
    std::fprintf(stderr, "CHUNKS, CHUNK_SIZE and CHUNKS_PER_BATCH must be >= 1\n");
    return 2;
  }
  write_publish_batches(dir, chunks, chunk_size, per_batch);
  std::printf("%zu\n", write_match_body(dir, chunks, chunk_size, request_tokens, hits));
  return 0;
}
