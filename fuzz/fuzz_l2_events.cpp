// Fuzzes the decoder of `POST /l2/events` bodies, the coordinator's hottest request, and the
// accounting behind it.
//
// Input: one request body. Checks, besides the response invariants of fuzz_support.h:
// - the fast path (l2_event_fast_decoder.h), when it takes a body, decodes exactly what the tree
//   decoder decodes, with nothing rejected;
// - the decoder either fails the batch with errors (422 through the route) or returns an
//   instance_id, seq >= 1 and events + rejected covering the `events` list exactly once, in
//   order, with only valid keys;
// - the route answers 200 {"recorded": <valid events>} (plus one "rejected" entry per rejected
//   event) on a fresh coordinator, and a replay of the same body is acknowledged as a duplicate
//   without being applied again;
// - the usage afterwards equals a reference model (store replaces a key's size, delete forgets
//   it, lookup changes nothing), per salt and in total.

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/l2_accounting.h"
#include "core/object_key.h"
#include "core/quota_store.h"
#include "fast_path_check.h"
#include "fuzz_support.h"
#include "http/l2_event_decoder.h"
#include "http/l2_event_fast_decoder.h"
#include "http/l2_routes.h"
#include "http/request_validation.h"

namespace {

using namespace lmcache;
using fuzz::require;
using verb = boost::beast::http::verb;

void check_decoded(const http::L2EventBatch& batch, std::string_view body) {
  require(batch.seq >= 1, "decoded seq < 1");
  size_t previous = 0;
  for (size_t i = 0; i < batch.rejected.size(); ++i) {
    require(i == 0 || batch.rejected[i].index > previous, "rejected indexes not ascending");
    require(!batch.rejected[i].error.empty(), "rejected event without a reason");
    previous = batch.rejected[i].index;
  }
  if (auto count = fuzz::wire_list_size(body, "events")) {
    require(batch.events.size() + batch.rejected.size() == *count,
            "events + rejected != the events sent");
    require(batch.rejected.empty() || batch.rejected.back().index < *count,
            "rejected index out of range");
  }
  for (const auto& event : batch.events) {
    const core::ObjectKey key = event.key.to_key();
    require(!key.chunk_hash.empty(), "accepted an empty chunk hash");
    require(!core::check_model_name(key.model_name), "accepted an invalid model_name");
    require(!core::check_cache_salt(key.cache_salt), "accepted an invalid cache_salt");
    const auto reparsed = core::parse_object_key(key.chunk_hash_hex(), key.model_name, key.kv_rank,
                                                 key.object_group_id, key.cache_salt);
    require(reparsed.ok() && *reparsed.key == key, "a decoded key does not round-trip");
  }
}

// A batch's instance_id, seq and events as comparable values.
using EventValues = std::tuple<core::L2EventType, core::ObjectKey, uint64_t>;
std::tuple<std::string, uint64_t, std::vector<EventValues>> values_of(
    const http::L2EventBatch& batch) {
  std::vector<EventValues> events;
  for (const auto& event : batch.events) {
    events.emplace_back(event.type, event.key.to_key(), event.bytes);
  }
  return {batch.instance_id, batch.seq, std::move(events)};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  fuzz::check_fast_path<http::L2EventBatch>(body, http::decode_l2_event_batch_fast,
                                            http::decode_l2_event_batch_from_tree, values_of);
  http::ValidationErrors errors;
  const auto batch = http::decode_l2_event_batch(body, errors);
  require(batch.has_value() == errors.empty(), "decoder result and errors disagree");
  if (batch) check_decoded(*batch, body);

  // POST /l2/events never touches quotas; opening SQLite per input would cost more than the rest.
  static core::QuotaStore quotas{std::string(core::QuotaStore::kInMemory)};
  core::L2Accounting l2{core::EvictionConfig{}};
  http::Router router;
  http::add_l2_routes(router, l2, quotas);

  const auto first =
      fuzz::dispatch_sync(router, fuzz::make_request(verb::post, "/l2/events", body));
  fuzz::check_response(first);
  if (!batch) {
    require(first.result_int() == 422, "an undecodable batch was not answered 422", &first);
    require(l2.total_bytes() == 0 && l2.salts().empty(), "a failed batch changed usage");
    return 0;
  }
  require(first.result_int() == 200, "a decodable batch was not answered 200", &first);
  const auto answer = fuzz::json_body(first).as_object();
  require(answer.at("recorded").to_number<uint64_t>() == batch->events.size(),
          "recorded != valid events", &first);
  const auto* rejected = answer.if_contains("rejected");
  require((rejected == nullptr) == batch->rejected.empty(), "rejected list presence", &first);
  if (rejected != nullptr) {
    require(rejected->as_array().size() == batch->rejected.size(), "rejected list size", &first);
  }

  const uint64_t total_before = l2.total_bytes();
  const auto replay =
      fuzz::dispatch_sync(router, fuzz::make_request(verb::post, "/l2/events", body));
  fuzz::check_response(replay);
  const auto replay_answer = fuzz::json_body(replay).as_object();
  require(replay.result_int() == 200 && replay_answer.contains("duplicate") &&
              replay_answer.at("recorded").to_number<uint64_t>() == 0,
          "a replayed batch was not acknowledged as a duplicate", &replay);
  require(l2.total_bytes() == total_before, "a replayed batch changed usage");

  // Reference model of the ledger.
  std::unordered_map<core::ObjectKey, uint64_t, core::ObjectKeyHash> sizes;
  for (const auto& event : batch->events) {
    if (event.type == core::L2EventType::kStore) sizes[event.key.to_key()] = event.bytes;
    if (event.type == core::L2EventType::kDelete) sizes.erase(event.key.to_key());
  }
  std::map<std::string, unsigned __int128> by_salt;
  unsigned __int128 total = 0;
  for (const auto& [key, bytes] : sizes) {
    by_salt[key.cache_salt] += bytes;
    total += bytes;
  }
  if (total > std::numeric_limits<uint64_t>::max()) return 0;  // overflow is not specified
  require(l2.total_bytes() == static_cast<uint64_t>(total), "total usage differs from the model");
  for (const auto& [salt, bytes] : by_salt) {
    require(l2.usage_bytes(salt) == static_cast<uint64_t>(bytes),
            "salt usage differs from the model");
  }
  uint64_t listed = 0;
  for (const auto& usage : l2.salts()) listed += usage.bytes;
  require(listed == l2.total_bytes(), "per-salt usage does not add up to the total");
  return 0;
}
