// GET /cluster/log: the leader's mutation log, tailed by followers (HA mode, warm takeover).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "core/mutation_log.h"
#include "http/router.h"

namespace lmcache::http {

// Headers of a log answer: the epoch served, and the oldest and newest seq it holds.
inline constexpr const char* kLogEpochHeader = "X-LMCache-Log-Epoch";
inline constexpr const char* kLogFirstHeader = "X-LMCache-Log-First";
inline constexpr const char* kLogLastHeader = "X-LMCache-Log-Last";
// On a 409: "epoch" (no log of that epoch here), "behind" (entries after `after` were dropped)
// or "ahead" (`after` is past the newest entry).
inline constexpr const char* kLogRefusalHeader = "X-LMCache-Log-Refusal";

struct ReplicationRouteOptions {
  std::chrono::milliseconds max_wait{1000};  // the longest a long-poll waits for an entry
  std::chrono::milliseconds poll{5};         // how often a waiting long-poll looks again
  size_t max_bytes = size_t{8} << 20;        // payload bytes per answer (at least one entry)
};

// GET /cluster/log?epoch=E&after=N: the entries of `log` after seq N of epoch E as
// application/octet-stream frames (core::append_mutation_frame), waiting up to max_wait for
// one when there is none yet (on timers of `executor`; no thread blocks) and then answering
// 200 with an empty body. 409 {"detail"} with kLogRefusalHeader when the log cannot continue
// from there; 422 for a missing or malformed parameter. Every answer but 422 carries the three
// log headers. `log` must outlive the router.
// The kind of mutation an accepted (2xx) request to `method path` (no query) is, when it
// changes the soft state a follower mirrors: POST /events, POST /l2/events, POST and DELETE
// /blend/fingerprints. nullopt for every other request.
std::optional<core::MutationKind> logged_mutation(beast_http::verb method, std::string_view path);

// The request that replays a logged `payload` of `kind` (one of those logged_mutation() names)
// through a router holding the same routes; nullopt for the kinds that are no request.
std::optional<HttpRequest> replay_request(core::MutationKind kind, std::string payload);

void add_replication_routes(Router& router, const boost::asio::any_io_executor& executor,
                            const core::MutationLog& log, ReplicationRouteOptions options = {});

}  // namespace lmcache::http
