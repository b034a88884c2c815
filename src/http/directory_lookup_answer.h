// The answer of `POST /directory/lookup` (protocol-v2.md Part B 2.4), written straight to text:
// `{"chunks":n,"results":[{"key":{...},"placements":[...],"token_ids":[...]}]}`. A lookup by
// 32,768 tokens at world size 8 answers 1,024 results; building them as a JSON tree first cost
// more than the lookup itself.
#pragma once

#include <boost/json/array.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/key_directory.h"
#include "core/l2_accounting.h"
#include "core/object_key.h"

namespace lmcache::http {

// `[{"instance_id","incarnation","tier","backend","size_bytes","shared"}]`, in the given order.
boost::json::array placements_json(std::span<const core::Placement> placements);

// The answer's text for `keys` (in request order) and what the directory found for them
// (`found` has placements and a binding for each key). Byte for byte what
// json_response would print for the same answer built as a tree (strings that are not UTF-8
// repaired the same way), so the two forms of the route cannot drift apart.
std::string lookup_answer_text(size_t chunks, std::span<const core::ObjectKeyView> keys,
                               const core::L2Accounting::KeysLookup& found);

}  // namespace lmcache::http
