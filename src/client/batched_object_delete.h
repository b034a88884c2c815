// Sends one logical DELETE /cache/objects of any number of keys as requests of at most 10,000.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/mp_client.h"
#include "core/object_key.h"

namespace lmcache::client {

// What the server did over all the requests sent.
struct BatchedDeleteResult {
  uint64_t deleted = 0;  // the answers' "deleted", summed
  uint64_t skipped = 0;  // the answers' "skipped", summed
  size_t requests = 0;   // requests sent
  // Why a request failed (MpDeleteObjectsResult::error, or "malformed answer" for a 2xx whose body
  // is not an answer); empty when every one succeeded.
  std::string error;

  bool ok() const { return error.empty(); }
};

// MP servers answer 400 to a DELETE /cache/objects of more keys than this.
inline constexpr size_t kMaxKeysPerDelete = 10'000;

// Sends `keys` to `to` as DELETE /cache/objects {keys, tier, force} requests of at most
// kMaxKeysPerDelete keys each, in order, one after the other (the next once the previous answered),
// and calls `done` once with the sums. The first failure stops the rest: `done` then reports it
// with the sums so far. No keys: no request, `done` is called at once with zeros. `client` must
// outlive the calls (it is the app's one outbound client).
void delete_objects_in_batches(MpClient& client, const MpEndpoint& to,
                               std::vector<core::ObjectKey> keys, std::string tier, bool force,
                               std::function<void(BatchedDeleteResult)> done,
                               size_t max_keys_per_request = kMaxKeysPerDelete);

}  // namespace lmcache::client
