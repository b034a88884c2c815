// Fuzzes `POST /events` (the v2 cache-event stream) and the checkpoint of the state it feeds.
//
// Input: one request body, sent twice to a fresh coordinator state. Checks, besides the response
// invariants of fuzz_support.h:
// - the fast path (cache_event_fast_decoder.h), when it takes a body, decodes exactly what the
//   tree decoder decodes, with nothing rejected;
// - a 200 answer counts every batch once: applied + duplicates + stale + rejected = the batches
//   sent (when the body has a `batches` list); anything else is a 422;
// - sent again, nothing is applied: every admitted batch is now a duplicate (or stale);
// - the derived state saved to a checkpoint body and loaded into a fresh state has the same L2
//   usage per salt, the same keys and the same cursors, and saving that again gives a body of
//   the same size.

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/event_ingest.h"
#include "core/l2_accounting.h"
#include "core/snapshot_stream.h"
#include "fast_path_check.h"
#include "fuzz_support.h"
#include "http/cache_event_decoder.h"
#include "http/cache_event_fast_decoder.h"
#include "http/event_routes.h"
#include "http/request_validation.h"

namespace {

using namespace lmcache;
using fuzz::require;
using verb = boost::beast::http::verb;

uint64_t count_of(const boost::json::object& answer, const char* field) {
  const boost::json::value* v = answer.if_contains(field);
  if (v == nullptr) return 0;
  if (v->is_array()) return v->get_array().size();
  return v->to_number<uint64_t>();
}

std::string save(const core::EventIngest& ingest) {
  std::string bytes;
  core::SnapshotWriter out([&bytes](std::string_view chunk) {
    bytes.append(chunk);
    return true;
  });
  ingest.save(out);
  require(out.finish(), "a snapshot into memory failed");
  return bytes;
}

// A batch's fields and entries as comparable values (ts by its bits, so -0.0 differs from 0.0).
using EntryValues = std::tuple<core::ObjectKey, uint64_t, std::vector<int64_t>, int64_t>;
using BatchValues =
    std::tuple<std::string, uint64_t, uint64_t, core::CacheEventType, core::CacheTier, std::string,
               bool, uint64_t, uint64_t, uint64_t, std::vector<EntryValues>>;

std::vector<BatchValues> values_of(const http::CacheEventRequest& request) {
  std::vector<BatchValues> values;
  for (const core::CacheEventBatch& batch : request.batches) {
    std::vector<EntryValues> entries;
    for (const core::CacheEventEntry& entry : batch.entries) {
      entries.emplace_back(entry.key.to_key(), entry.size_bytes,
                           std::vector<int64_t>(entry.token_ids.begin(), entry.token_ids.end()),
                           entry.token_offset);
    }
    uint64_t ts_bits = 0;
    std::memcpy(&ts_bits, &batch.ts, sizeof ts_bits);
    values.emplace_back(std::string(batch.instance_id), batch.incarnation, batch.seq, batch.type,
                        batch.tier, std::string(batch.backend), batch.shared, ts_bits,
                        batch.capacity_bytes, batch.capacity_revision, std::move(entries));
  }
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  fuzz::check_fast_path<http::CacheEventRequest>(body, http::decode_cache_event_request_fast,
                                                 http::decode_cache_event_request_from_tree,
                                                 values_of);
  core::L2Accounting l2{core::EvictionConfig{}};
  core::EventIngest ingest{l2};
  http::Router router;
  http::add_event_routes(router, ingest);

  const auto first = fuzz::dispatch_sync(router, fuzz::make_request(verb::post, "/events", body));
  fuzz::check_response(first);
  const std::optional<size_t> batches = fuzz::wire_list_size(body, "batches");
  if (first.result_int() != 200) {
    require(first.result_int() == 422, "POST /events answered neither 200 nor 422", &first);
    require(!batches.has_value(), "a body with a batches list was refused whole", &first);
    return 0;
  }
  require(batches.has_value(), "a body without a batches list was accepted", &first);
  const boost::json::object answer = fuzz::json_body(first).as_object();
  const uint64_t applied = count_of(answer, "applied");
  require(applied + count_of(answer, "duplicates") + count_of(answer, "stale") +
                  count_of(answer, "rejected") ==
              *batches,
          "the answer does not count every batch once", &first);

  const core::L2Counters before = l2.counters();
  const auto again = fuzz::dispatch_sync(router, fuzz::make_request(verb::post, "/events", body));
  fuzz::check_response(again);
  require(again.result_int() == 200, "the same body answered differently", &again);
  require(count_of(fuzz::json_body(again).as_object(), "applied") == 0,
          "a replayed batch was applied again", &again);
  require(l2.counters().total_bytes == before.total_bytes, "a replay changed the usage");

  // The checkpoint round trip.
  const std::string saved = save(ingest);
  core::L2Accounting l2_again{core::EvictionConfig{}};
  core::EventIngest ingest_again{l2_again};
  core::SnapshotReader in(saved);
  require(ingest_again.load(in) && in.at_end(), "a saved state does not load");
  require(l2_again.counters().tracked_keys == before.tracked_keys, "keys changed by a round trip");
  require(l2_again.total_bytes() == l2.total_bytes(), "usage changed by a round trip");
  for (const core::SaltUsage& salt : l2.salts()) {
    require(l2_again.usage_bytes(salt.cache_salt) == salt.bytes, "a salt's usage changed");
  }
  require(ingest_again.gate().cursor_count() == ingest.gate().cursor_count(),
          "cursors changed by a round trip");
  require(save(ingest_again).size() == saved.size(), "a second save differs in size");
  return 0;
}
