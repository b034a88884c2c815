// ArenaJsonBody: a request body parsed into a JSON tree that lives in a per-thread arena.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "http/request_validation.h"

namespace lmcache::http {

// Parses a large request body (an event batch) without a heap allocation per node: the tree is
// built in a 1 MiB block kept per thread (larger trees spill into the heap), by a parser that
// keeps its stack's capacity between requests. Malformed JSON adds the errors parse_json_body
// would (offset, empty body, extra data).
//
// The tree lives as long as this object; only one may exist per thread at a time.
class ArenaJsonBody {
 public:
  ArenaJsonBody(std::string_view body, ValidationErrors& errors);
  ArenaJsonBody(const ArenaJsonBody&) = delete;
  ArenaJsonBody& operator=(const ArenaJsonBody&) = delete;

  // The parsed tree; nullptr when the body was not JSON (errors were added).
  const boost::json::value* root() const { return ok_ ? &root_ : nullptr; }

 private:
  boost::json::monotonic_resource arena_;
  boost::json::value root_;  // in arena_, so the parsed tree moves into it without a copy
  bool ok_ = false;
};

}  // namespace lmcache::http
