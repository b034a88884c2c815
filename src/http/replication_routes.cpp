#include "http/replication_routes.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/json/string.hpp>
#include <memory>
#include <string>

#include "http/json_response.h"
#include "http/query_params.h"
#include "http/request_validation.h"

namespace lmcache::http {
namespace json = boost::json;
using verb = beast_http::verb;
using status = beast_http::status;
using Clock = std::chrono::steady_clock;

namespace {

struct LogQuery {
  int64_t epoch = 0;
  uint64_t after = 0;
};

std::optional<int64_t> required_integer(const HttpRequest& request, std::string_view name,
                                        ValidationErrors& errors) {
  const auto text = query_param(request, name);
  if (!text) {
    errors.add("missing", json::array{"query", name}, "Field required", nullptr);
    return std::nullopt;
  }
  return read_integer(json::string(*text), json::array{"query", name}, errors, 0, INT64_MAX);
}

void set_log_headers(HttpResponse& response, const core::MutationLog::Read& read) {
  response.set(kLogEpochHeader, std::to_string(read.epoch));
  response.set(kLogFirstHeader, std::to_string(read.first));
  response.set(kLogLastHeader, std::to_string(read.last));
}

// The answer to `read`, or nullopt when it holds nothing yet (wait and look again).
std::optional<HttpResponse> answer(const core::MutationLog::Read& read, bool last_look) {
  using Status = core::MutationLog::Read::Status;
  HttpResponse response;
  if (read.status != Status::kOk) {
    const char* refusal = "epoch";
    std::string detail = "this node serves no mutation log of that epoch";
    if (read.status == Status::kBehind) {
      refusal = "behind";
      detail = "entries after that seq were dropped from the log: rebuild";
    } else if (read.status == Status::kAhead) {
      refusal = "ahead";
      detail = "that seq is past the newest entry of the log";
    }
    response = detail_response(status::conflict, detail);
    response.set(kLogRefusalHeader, refusal);
  } else if (read.entries.empty() && !last_look) {
    return std::nullopt;
  } else {
    size_t size = 0;
    for (const auto& entry : read.entries) size += entry->payload.size() + 13;
    std::string body;
    body.reserve(size);
    for (const auto& entry : read.entries) core::append_mutation_frame(body, *entry);
    response.result(status::ok);
    response.set(beast_http::field::content_type, "application/octet-stream");
    response.body() = std::move(body);
  }
  set_log_headers(response, read);
  response.prepare_payload();
  return response;
}

// One waiting long-poll: looks at the log every `poll` until an entry comes or time is up.
struct LogWait : std::enable_shared_from_this<LogWait> {
  LogWait(const boost::asio::any_io_executor& executor, const core::MutationLog& log,
          const ReplicationRouteOptions& options, LogQuery query, Respond respond)
      : timer(executor),
        log(log),
        options(options),
        query(query),
        gathered(Clock::now() + options.linger),
        deadline(Clock::now() + options.max_wait),
        respond(std::move(respond)) {}

  // The first look reads the log (answering a refusal at once); later ones read it only when
  // entries were gathered (see ReplicationRouteOptions::linger) or time is up.
  void look(bool first) {
    const Clock::time_point now = Clock::now();
    const bool last_look = now >= deadline;
    const uint64_t newest = log.last_seq();
    const bool gathering =
        newest <= query.after || (now < gathered && newest < query.after + options.gather_entries);
    if (!first && !last_look && gathering && log.active()) return wait();
    const core::MutationLog::Read read = log.read(query.epoch, query.after, options.max_bytes);
    const bool refused = read.status != core::MutationLog::Read::Status::kOk;
    if (!refused && !last_look && gathering) return wait();
    std::optional<HttpResponse> response = answer(read, last_look);
    if (!response) return wait();
    respond(std::move(*response));
  }

  void wait() {
    timer.expires_after(options.poll);
    timer.async_wait([self = shared_from_this()](boost::system::error_code) { self->look(false); });
  }

  boost::asio::steady_timer timer;
  const core::MutationLog& log;
  const ReplicationRouteOptions options;
  const LogQuery query;
  const Clock::time_point gathered;  // entries pending by then are answered
  const Clock::time_point deadline;
  Respond respond;
};

}  // namespace

namespace {

HttpResponse snapshot_answer(SnapshotChunk chunk) {
  using Status = SnapshotChunk::Status;
  HttpResponse response;
  switch (chunk.status) {
    case Status::kWrongEpoch:
      response = detail_response(status::conflict, "this node serves no log of that epoch");
      response.set(kLogRefusalHeader, "epoch");
      break;
    case Status::kGone:
      response = detail_response(status::conflict, "that snapshot is gone; take a new one");
      response.set(kLogRefusalHeader, "gone");
      break;
    case Status::kFailed:
      response = detail_response(status::service_unavailable, "no snapshot: " + chunk.error);
      response.set(beast_http::field::retry_after, "1");
      break;
    case Status::kOk:
      response.result(status::ok);
      response.set(beast_http::field::content_type, "application/octet-stream");
      response.set(kSnapshotIdHeader, std::to_string(chunk.id));
      response.set(kSnapshotBytesHeader, std::to_string(chunk.total));
      response.set(kSnapshotOffsetHeader, std::to_string(chunk.offset));
      response.set(kLogEpochHeader, std::to_string(chunk.epoch));
      response.set(kLogPositionHeader, std::to_string(chunk.position));
      response.body() = std::move(chunk.bytes);
      break;
  }
  response.prepare_payload();
  return response;
}

}  // namespace

void add_snapshot_route(Router& router, SnapshotProvider provider) {
  router.add_async(verb::get, "/cluster/snapshot",
                   [provider = std::move(provider)](const RouteRequest& request, Respond respond) {
                     ValidationErrors errors;
                     const auto epoch = required_integer(request.message, "epoch", errors);
                     std::optional<int64_t> id;
                     std::optional<int64_t> offset;
                     if (query_param(request.message, "id")) {
                       id = required_integer(request.message, "id", errors);
                       offset = required_integer(request.message, "offset", errors);
                     }
                     if (!errors.empty()) return respond(errors.to_response());
                     if (id) {
                       return respond(snapshot_answer(provider.read(
                           *epoch, static_cast<uint64_t>(*id), static_cast<uint64_t>(*offset))));
                     }
                     provider.take(*epoch, [respond = std::move(respond)](SnapshotChunk chunk) {
                       respond(snapshot_answer(std::move(chunk)));
                     });
                   });
}

std::optional<core::MutationKind> logged_mutation(verb method, std::string_view path) {
  using Kind = core::MutationKind;
  if (method == verb::post) {
    if (path == "/l2/events") return Kind::kL2Events;
    if (path == "/blend/fingerprints") return Kind::kBlendPublish;
  } else if (method == verb::delete_ && path == "/blend/fingerprints") {
    return Kind::kBlendRemove;
  }
  return std::nullopt;
}

std::optional<HttpRequest> replay_request(core::MutationKind kind, std::string payload) {
  using Kind = core::MutationKind;
  verb method = verb::post;
  const char* target = nullptr;
  switch (kind) {
    case Kind::kL2Events:
      target = "/l2/events";
      break;
    case Kind::kBlendPublish:
      target = "/blend/fingerprints";
      break;
    case Kind::kBlendRemove:
      method = verb::delete_;
      target = "/blend/fingerprints";
      break;
    default:
      return std::nullopt;
  }
  HttpRequest request{method, target, 11};
  request.set(beast_http::field::content_type, "application/json");
  request.body() = std::move(payload);
  request.prepare_payload();
  return request;
}

void add_replication_routes(Router& router, const boost::asio::any_io_executor& executor,
                            const core::MutationLog& log, ReplicationRouteOptions options) {
  auto shared = std::make_shared<const ReplicationRouteOptions>(options);
  router.add_async(
      verb::get, "/cluster/log",
      [executor, &log, shared](const RouteRequest& request, Respond respond) {
        ValidationErrors errors;
        const auto epoch = required_integer(request.message, "epoch", errors);
        const auto after = required_integer(request.message, "after", errors);
        if (!errors.empty()) return respond(errors.to_response());
        const LogQuery query{*epoch, static_cast<uint64_t>(*after)};
        std::make_shared<LogWait>(executor, log, *shared, query, std::move(respond))->look(true);
      });
}

}  // namespace lmcache::http
