#include "http/arena_json_body.h"

#include <boost/json/parser.hpp>
#include <cstddef>
#include <memory>

namespace lmcache::http {
namespace json = boost::json;

namespace {

// A batch of 256 events (~60 KB of JSON) builds a tree of roughly 200 KB.
constexpr size_t kArenaBytes = size_t{1024} * 1024;

// Per-thread parse state: the arena's first block and a parser whose internal stack keeps its
// capacity between requests.
struct ParseState {
  std::unique_ptr<unsigned char[]> block{new unsigned char[kArenaBytes]};
  json::parser parser{json::storage_ptr(), parse_options()};

  static json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 64;
    return options;
  }
};

ParseState& thread_state() {
  thread_local ParseState state;
  return state;
}

}  // namespace

ArenaJsonBody::ArenaJsonBody(std::string_view body, ValidationErrors& errors)
    : arena_(thread_state().block.get(), kArenaBytes), root_(json::storage_ptr(&arena_)) {
  json::parser& parser = thread_state().parser;
  parser.reset(json::storage_ptr(&arena_));
  boost::system::error_code ec;
  parser.write(body.data(), body.size(), ec);
  if (ec) {
    // Let the shared helper describe the failure in the shape of every other route; this
    // re-parse only happens for malformed bodies.
    parser.reset();
    parse_json_body(body, errors);
    if (errors.empty()) errors.add("json_invalid", json::array{"body", 0}, "JSON decode error", {});
    return;
  }
  root_ = parser.release();  // the same storage: the tree is moved, not copied
  parser.reset();            // drop the parser's reference to this object's arena
  ok_ = true;
}

}  // namespace lmcache::http
