// GET /cluster/log and GET /cluster/snapshot: the HA leader's mutation log and snapshots of its
// soft state, for followers (warm takeover).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/mutation_log.h"
#include "http/router.h"

namespace lmcache::http {

// Headers of a log answer: the epoch served, and the oldest and newest seq it holds.
inline constexpr const char* kLogEpochHeader = "X-LMCache-Log-Epoch";
inline constexpr const char* kLogFirstHeader = "X-LMCache-Log-First";
inline constexpr const char* kLogLastHeader = "X-LMCache-Log-Last";
// A snapshot answer: its id, total size, the offset of this chunk, and the log position it
// includes (every entry up to that seq of its epoch is in it; later ones may be too).
inline constexpr const char* kSnapshotIdHeader = "X-LMCache-Snapshot-Id";
inline constexpr const char* kSnapshotBytesHeader = "X-LMCache-Snapshot-Bytes";
inline constexpr const char* kSnapshotOffsetHeader = "X-LMCache-Snapshot-Offset";
inline constexpr const char* kLogPositionHeader = "X-LMCache-Log-Position";
// On a 409: "epoch" (no log of that epoch here), "behind" (entries after `after` were dropped),
// "ahead" (`after` is past the newest entry) or, for a snapshot, "gone" (replaced by a newer one).
inline constexpr const char* kLogRefusalHeader = "X-LMCache-Log-Refusal";

struct ReplicationRouteOptions {
  std::chrono::milliseconds max_wait{1000};  // the longest a long-poll waits for an entry
  std::chrono::milliseconds poll{10};        // how often a waiting long-poll looks again
  size_t max_bytes = size_t{8} << 20;        // payload bytes per answer (at least one entry)
  // An answer gathers entries: it goes once `linger` has passed since the request came, or as
  // soon as `gather_entries` are pending. Each answer costs the leader a request's work, so
  // without it a follower that keeps up would fetch one entry per request.
  std::chrono::milliseconds linger{20};
  uint64_t gather_entries = 64;
};

// The kind of mutation an accepted (2xx) request to `method path` (no query) is, when its body
// is logged as it came: POST /l2/events, POST and DELETE /blend/fingerprints. nullopt for every
// other request (POST /events is logged batch by batch as each is admitted, in the compact
// record of core/cache_event_record.h).
std::optional<core::MutationKind> logged_mutation(beast_http::verb method, std::string_view path);

// The request that replays a logged `payload` of `kind` (one of those logged_mutation() names)
// through a router holding the same routes; nullopt for the kinds that are no request.
std::optional<HttpRequest> replay_request(core::MutationKind kind, std::string payload);

// GET /cluster/log?epoch=E&after=N: the entries of `log` after seq N of epoch E as
// application/octet-stream frames (core::append_mutation_frame), gathered for up to `linger`
// and waiting up to max_wait for one when there is none yet (on timers of `executor`; no thread
// blocks), then answering 200 with an empty body. 409 {"detail"} with kLogRefusalHeader when the
// log cannot continue from there; 422 for a missing or malformed parameter. Every answer but 422
// carries the three log headers. `log` must outlive the router.
void add_replication_routes(Router& router, const boost::asio::any_io_executor& executor,
                            const core::MutationLog& log, ReplicationRouteOptions options = {});

// One chunk of a snapshot of the leader's soft state (app/replication_snapshots.h makes them).
struct SnapshotChunk {
  enum class Status {
    kOk,
    kWrongEpoch,  // this node does not lead that epoch: 409
    kGone,        // no snapshot with that id any more (a newer one replaced it): 409
    kFailed,      // it could not be taken or read: 503 with Retry-After
  };
  Status status = Status::kOk;
  uint64_t id = 0;
  int64_t epoch = 0;
  uint64_t position = 0;  // the log seq it includes
  uint64_t total = 0;     // bytes of the whole snapshot
  uint64_t offset = 0;    // of `bytes`
  std::string bytes;
  std::string error;  // kFailed: why
};

struct SnapshotProvider {
  // Takes a new snapshot of `epoch` (or joins one being taken) and answers its first chunk.
  std::function<void(int64_t epoch, std::function<void(SnapshotChunk)> done)> take;
  // The chunk of snapshot `id` at `offset`.
  std::function<SnapshotChunk(int64_t epoch, uint64_t id, uint64_t offset)> read;
};

// GET /cluster/snapshot?epoch=E: takes a snapshot and answers its first chunk;
// GET /cluster/snapshot?epoch=E&id=I&offset=O: the chunk of snapshot I at O. 200
// application/octet-stream with the snapshot and log headers; 409 {"detail"} when this node
// does not lead epoch E or snapshot I is gone; 503 with Retry-After when it failed; 422 for
// malformed parameters.
void add_snapshot_route(Router& router, SnapshotProvider provider);

}  // namespace lmcache::http
