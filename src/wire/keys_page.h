// One page of an MP server's key listing (GET /l2/keys), as startup resync reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/object_key.h"

namespace lmcache::wire {

// A decoded page.
struct KeysPage {
  // The parsable entries in page order: each key with its size_bytes.
  std::vector<std::pair<core::ObjectKey, uint64_t>> entries;
  // Entries that were not parsable and were left out.
  size_t skipped = 0;
  // The token of the next page; nullopt on the last page.
  std::optional<std::string> next_page_token;
};

// Either a page or why the body is not one.
struct KeysPageResult {
  std::optional<KeysPage> page;
  std::string error;  // one line for the log, e.g. "malformed page: entries is not a list"

  bool ok() const { return page.has_value(); }
};

// Decodes a page body:
//   {"entries": [{"key": KEY, "size_bytes": int >= 0}...], "next_page_token": str | null}
// An entry that is not an object, whose key does not decode (decode_object_key) or whose
// size_bytes is missing, not an integer (lax_integer) or negative is skipped and counted: one bad
// entry must not lose the rest of the page. A missing next_page_token means null. The body is not
// a page (an error, no entries) when it is not a JSON object, has no `entries` list, or its
// next_page_token is neither a string nor null.
KeysPageResult decode_keys_page(std::string_view body);

}  // namespace lmcache::wire
