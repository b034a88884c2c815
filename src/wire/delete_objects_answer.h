// The answer of an MP server's DELETE /cache/objects, the v2 eviction dispatch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmcache::wire {

// What the server says it did.
struct DeleteObjectsAnswer {
  uint64_t deleted = 0;
  uint64_t skipped = 0;
  // False when the server's storage adapter raised: the keys may still be stored.
  bool ok = true;
  // The adapter's message when the server gave one; empty otherwise.
  std::string error;
};

// Either an answer or why the body is not one.
struct DeleteObjectsAnswerResult {
  std::optional<DeleteObjectsAnswer> answer;
  std::string error;  // one line for the log, e.g. "malformed answer: ok is not a boolean"

  bool ok() const { return answer.has_value(); }
};

// Decodes {"deleted": int >= 0, "skipped": int >= 0, "ok": bool[, "error": str | null]}.
// `ok` is required; a missing or null count is 0 and other counts follow lax_integer
// (lax_number.h); unknown fields are ignored. The body is not an answer when it is not a JSON
// object, `ok` is missing or not a boolean, a count is not a non-negative integer, or `error` is
// neither a string nor null.
DeleteObjectsAnswerResult decode_delete_objects_answer(std::string_view body);

}  // namespace lmcache::wire
