// Fuzzes the CacheBlend routes (POST/DELETE /blend/fingerprints, POST /blend/match), their token
// decoders (JSON lists, base64 of uint32 and uint64 ids) and the index behind them.
//
// Input: byte 0 picks the mode, the chunk size (1..4) and the probe stride (1..2):
// - raw (bit 0 clear): the rest is one body, sent to publish, match and remove in turn, and
//   decoded directly as tokens_b64 / tokens_u64_b64 text; a successful base64 decode must
//   re-encode to text that decodes to the same bytes;
// - model (bit 0 set): the rest is read as a program of publishes, matches and removes. The
//   harness writes the JSON bodies itself (tokens from a small alphabet, so chunks repeat), and
//   every answer is compared with a reference model of the spec: `inserted` and `removed`
//   counts, and the exact match list (each window at a stride multiple whose content is
//   published and live in the scope reports the earliest-published live key of that content,
//   each key once, at its first occurrence).

#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/blend_index.h"
#include "fuzz_support.h"
#include "http/blend_routes.h"
#include "http/token_decoding.h"

namespace {

using namespace lmcache;
using fuzz::require;
using verb = boost::beast::http::verb;
namespace json = boost::json;

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

template <typename Token>
std::string token_bytes(const std::vector<Token>& tokens) {
  std::string out;
  for (Token token : tokens) {
    for (size_t b = 0; b < sizeof(Token); ++b) out.push_back(static_cast<char>(token >> (8 * b)));
  }
  return out;
}

template <typename Token>
void check_base64_round_trip(std::string_view text) {
  std::string error;
  const auto tokens = http::decode_base64_tokens<Token>(text, error);
  if (!tokens) {
    require(!error.empty(), "base64 failure without a reason");
    return;
  }
  const std::string bytes = token_bytes(*tokens);
  const auto size = http::base64_decoded_size(text, error);
  require(size && *size == bytes.size(), "base64_decoded_size disagrees with the decode");
  const std::string again = base64_encode(bytes);
  require(again.size() == text.size(), "base64 re-encoding has another length");
  const auto round = http::decode_base64_tokens<Token>(again, error);
  require(round && *round == *tokens, "base64 re-encoding decodes to other tokens");
}

void run_raw(core::BlendIndex& index, std::string_view body) {
  http::Router router;
  http::add_blend_routes(router, index);
  for (verb method : {verb::post, verb::delete_}) {
    const auto response =
        fuzz::dispatch_sync(router, fuzz::make_request(method, "/blend/fingerprints", body));
    fuzz::check_response(response);
  }
  const auto response =
      fuzz::dispatch_sync(router, fuzz::make_request(verb::post, "/blend/match", body));
  fuzz::check_response(response);
  check_base64_round_trip<uint32_t>(body);
  check_base64_round_trip<uint64_t>(body);
}

// Reads bytes of the program; zero once exhausted.
struct Program {
  std::string_view bytes;
  uint8_t next() {
    if (bytes.empty()) return 0;
    const auto b = static_cast<uint8_t>(bytes.front());
    bytes.remove_prefix(1);
    return b;
  }
};

// One live (content, object key) pair of the reference model.
struct Pair {
  std::string scope;
  std::string key;
  std::vector<uint64_t> content;
  uint64_t old_st = 0;
};

class Model {
 public:
  explicit Model(size_t chunk, size_t stride) : chunk_(chunk), stride_(stride) {}

  size_t publish(const std::vector<core::BlendRange>& ranges) {
    size_t inserted = 0;
    for (const auto& range : ranges) {
      if (range.tokens.size() / chunk_ != range.object_keys.size()) continue;
      for (size_t i = 0; i < range.object_keys.size(); ++i) {
        const auto chunk = std::span(range.tokens).subspan(i * chunk_, chunk_);
        std::vector<uint64_t> content(chunk.begin(), chunk.end());
        if (find(range.model_scope, range.object_keys[i], content) != nullptr) continue;
        pairs_.push_back({range.model_scope, range.object_keys[i], std::move(content),
                          range.old_st_base + i * chunk_});
        ++inserted;
      }
    }
    return inserted;
  }

  size_t remove(const std::vector<std::string>& keys) {
    size_t removed = 0;
    std::erase_if(pairs_, [&](const Pair& pair) {
      const bool gone = std::find(keys.begin(), keys.end(), pair.key) != keys.end();
      removed += gone ? 1 : 0;
      return gone;
    });
    return removed;
  }

  json::array match(std::string_view scope, const std::vector<uint64_t>& tokens) const {
    json::array out;
    std::vector<std::string> reported;
    for (size_t start = 0; start + chunk_ <= tokens.size(); start += stride_) {
      const auto tokens_at = std::span(tokens).subspan(start, chunk_);
      const std::vector<uint64_t> window(tokens_at.begin(), tokens_at.end());
      for (const Pair& pair : pairs_) {  // in publish order: the first hit is the earliest
        if (pair.scope != scope || pair.content != window) continue;
        if (std::find(reported.begin(), reported.end(), pair.key) == reported.end()) {
          reported.push_back(pair.key);
          out.push_back(
              json::object{{"object_key", pair.key}, {"old_st", pair.old_st}, {"cur_st", start}});
        }
        break;
      }
    }
    return out;
  }

 private:
  const Pair* find(std::string_view scope, std::string_view key,
                   const std::vector<uint64_t>& content) const {
    for (const Pair& pair : pairs_) {
      if (pair.scope == scope && pair.key == key && pair.content == content) return &pair;
    }
    return nullptr;
  }

  size_t chunk_;
  size_t stride_;
  std::vector<Pair> pairs_;  // in publish order
};

std::vector<uint64_t> read_tokens(Program& program, size_t max_count) {
  std::vector<uint64_t> tokens(program.next() % (max_count + 1));
  for (auto& token : tokens) {
    const uint8_t b = program.next();
    // Mostly a three-letter alphabet so that chunks repeat; now and then a wide id.
    token = b < 240 ? b % 3 : (uint64_t{1} << 32) + b % 3;
  }
  return tokens;
}

std::string read_key(Program& program) { return "k" + std::to_string(program.next() % 6); }

uint64_t answered_count(const fuzz::HttpResponse& response, std::string_view field) {
  require(response.result_int() == 200, "a valid blend request was not answered 200", &response);
  return fuzz::json_body(response).as_object().at(field).to_number<uint64_t>();
}

void run_model(core::BlendIndex& index, Program program) {
  http::Router router;
  http::add_blend_routes(router, index);
  Model model(index.chunk_size(), index.probe_stride());
  for (int step = 0; step < 24 && !program.bytes.empty(); ++step) {
    const uint8_t op = program.next();
    const std::string scope = (op & 8) ? "m1" : "m0";
    if (op % 3 == 0) {
      core::BlendRange range;
      range.model_scope = scope;
      range.tokens = read_tokens(program, 16);
      size_t keys = range.tokens.size() / index.chunk_size();
      if (op & 16) keys += 1;  // a mismatched range must be skipped
      for (size_t i = 0; i < keys; ++i) range.object_keys.push_back(read_key(program));
      range.old_st_base = program.next();
      json::array tokens(range.tokens.begin(), range.tokens.end());
      json::array keys_json(range.object_keys.begin(), range.object_keys.end());
      const json::object body{
          {"ranges", json::array{json::object{{"model_scope", scope},
                                              {"tokens", tokens},
                                              {"object_keys", keys_json},
                                              {"old_st_base", range.old_st_base}}}}};
      const auto response = fuzz::dispatch_sync(
          router, fuzz::make_request(verb::post, "/blend/fingerprints", json::serialize(body)));
      fuzz::check_response(response);
      require(answered_count(response, "inserted") == model.publish({range}),
              "inserted differs from the model", &response);
    } else if (op % 3 == 1) {
      std::vector<uint64_t> tokens = read_tokens(program, 32);
      json::object body{{"model_scope", scope}};
      const bool wide =
          std::any_of(tokens.begin(), tokens.end(), [](uint64_t t) { return t > UINT32_MAX; });
      switch ((op >> 5) % 3) {
        case 0:
          if (!wide) {
            body["tokens_b64"] =
                base64_encode(token_bytes(std::vector<uint32_t>(tokens.begin(), tokens.end())));
            break;
          }
          [[fallthrough]];
        case 1:
          body["tokens_u64_b64"] = base64_encode(token_bytes(tokens));
          break;
        default:
          body["tokens"] = json::array(tokens.begin(), tokens.end());
      }
      const auto response = fuzz::dispatch_sync(
          router, fuzz::make_request(verb::post, "/blend/match", json::serialize(body)));
      fuzz::check_response(response);
      require(response.result_int() == 200, "a valid match was not answered 200", &response);
      const json::value expected = model.match(scope, tokens);
      require(fuzz::json_body(response).as_object().at("matches") == expected,
              "matches differ from the model", &response);
    } else {
      std::vector<std::string> keys(program.next() % 3);
      for (auto& key : keys) key = read_key(program);
      const json::object body{{"object_keys", json::array(keys.begin(), keys.end())}};
      const auto response = fuzz::dispatch_sync(
          router, fuzz::make_request(verb::delete_, "/blend/fingerprints", json::serialize(body)));
      fuzz::check_response(response);
      require(answered_count(response, "removed") == model.remove(keys),
              "removed differs from the model", &response);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t chunk = 1 + ((control >> 1) & 3);
  const size_t stride = 1 + ((control >> 3) & 1);
  core::BlendIndex index(chunk, stride, 7);
  if (control & 1) {
    run_model(index, Program{rest});
  } else {
    run_raw(index, rest);
  }
  return 0;
}
