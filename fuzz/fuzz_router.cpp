// Fuzzes the whole HTTP surface: every route of the coordinator wired to real core objects, as
// the app wires them, fed a sequence of fuzz-chosen requests.
//
// Input: up to kMaxRequests records, each
//   byte 0: bits 0-2 pick the method, bits 3-5 what the fake MP server answers a forwarded
//           prefetch call with (see kReplies), bit 6 whether the record carries its own
//           Authorization header (else it sends the valid "Bearer fuzz-token"), bit 7 whether the
//           request comes from outside the fleet's networks;
//   the path (with an optional query) up to the first '\n';
//   with bit 6: the Authorization header's value up to the next '\n' (empty: no header);
//   the body up to the next NUL byte or the end of the input.
// The routes sit behind the access policy of --admin-token-file (protecting reads too) and
// --fleet-cidr 127.0.0.0/8,::1/128.
// State lives for one input only, so every crash reproduces from its input alone.
//
// Aborts when a response is a 500, another 5xx that the route may not produce, a JSON content
// type with a non-JSON body, a malformed 422, or when a request is not answered exactly once.
// An exception escaping a handler ends the process as it would end the server.

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/core_state_metrics.h"
#include "app/eviction_loop.h"
#include "app/health_sweep.h"
#include "client/mp_client.h"
#include "core/admin_tokens.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "core/token_chain_hasher.h"
#include "fuzz_support.h"
#include "http/access_policy.h"
#include "http/blend_lookup_route.h"
#include "http/blend_routes.h"
#include "http/cache_delete_route.h"
#include "http/event_routes.h"
#include "http/l2_routes.h"
#include "http/membership_routes.h"
#include "http/metrics_routes.h"
#include "http/pin_routes.h"
#include "http/prefetch_routes.h"
#include "http/quota_routes.h"
#include "http/request_metrics.h"
#include "http/route_access.h"

namespace {

using namespace lmcache;
using verb = boost::beast::http::verb;

constexpr size_t kMaxRequests = 16;

constexpr std::array<verb, 8> kMethods = {verb::get,   verb::post, verb::put,     verb::delete_,
                                          verb::patch, verb::head, verb::options, verb::unknown};

// What the fake MP server answers a forwarded prefetch call with. Never 500, although a poll
// relays the MP server's status verbatim: so any 500 is the coordinator's own failure.
struct Reply {
  bool reached;
  unsigned status;
  std::string_view body;  // "<echo>": the body of the request being handled
};
constexpr std::array<Reply, 8> kReplies = {{
    {false, 0, ""},
    {true, 202, R"({"request_id":"r-1","chunks":3,"status":"submitted"})"},
    {true, 200, "<echo>"},
    {true, 404, R"({"detail":"Not Found"})"},
    {true, 200, "plain text, not JSON"},
    {true, 503, R"({"detail":"injected failure"})"},
    {true, 204, ""},
    {true, 503, "<echo>"},
}};

// The operator tokens of the policy.
constexpr std::array<std::string_view, 2> kTokens = {"fuzz-token", "second token"};

// Whether an Authorization value carries one of kTokens, as RFC 6750 spells it (an oracle kept
// apart from the policy's own parsing).
bool carries_valid_token(std::string_view value) {
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  }
  value.remove_prefix(kScheme.size());
  const size_t first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  value = value.substr(first, value.find_last_not_of(" \t") - first + 1);
  return std::find(kTokens.begin(), kTokens.end(), value) != kTokens.end();
}

// The header value as a server would have parsed it: no CR, NUL or other control bytes.
std::string header_value(std::string_view raw) {
  std::string value;
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\t' || (byte >= 0x20 && byte != 0x7F)) value.push_back(c);
  }
  return value;
}

http::FleetNetworks loopback_networks() {
  std::string error;
  return *http::FleetNetworks::parse("127.0.0.0/8,::1/128", error);
}

// One in-memory quota store for the process, emptied for every input: opening SQLite costs
// more than the rest of an input.
core::QuotaStore& empty_quota_store() {
  static core::QuotaStore store{std::string(core::QuotaStore::kInMemory)};
  for (const auto& [salt, limit] : store.all()) store.remove(salt);
  std::vector<core::PinCount> pins = store.read_pins();
  for (auto& pin : pins) pin.count = 0;
  store.write_pins(pins);
  return store;
}

// The app's objects, built fresh for every input (the quota store and its pins emptied).
struct Coordinator {
  boost::asio::io_context io;  // never run: nothing here goes on the network
  prometheus::Registry metrics;
  core::QuotaStore& quotas = empty_quota_store();
  core::Pins pins{quotas};
  core::InstanceRegistry registry;
  core::L2Accounting l2{core::EvictionConfig{}, &pins.keys()};
  core::BlendIndex blend{4, 1, 42};
  core::BlendFeed blend_feed{blend};                // fed by POST /events
  core::TokenChainHasher chunk_hasher{4, 1 << 20};  // with a link cache, as served
  client::MpClient mp_client{io.get_executor()};
  app::HealthSweep health_sweep{registry, std::chrono::seconds(30), std::chrono::seconds(10),
                                metrics};
  core::EventIngest events{l2};  // POST /events, and the eviction loop's dialect source
  app::EvictionLoop eviction{l2, quotas, registry, events, mp_client, metrics};
  app::CoreStateMetrics core_state_metrics{registry, l2, quotas, blend, pins.keys(), chunk_hasher};
  http::RequestMetrics request_metrics;
  http::Router router;
  core::AdminTokens tokens{{std::string(kTokens[0]), std::string(kTokens[1])}};
  http::AccessPolicy access_policy{{&tokens, true, loopback_networks()}};

  // The reply the next forwarded call gets, and the request body it may echo.
  Reply reply = kReplies[0];
  std::string_view request_body;
  // The status relayed from the fake MP server by the request being handled, if any.
  std::optional<unsigned> relayed;

  Coordinator() {
    http::MembershipHooks hooks;
    hooks.on_registered = [this](const std::string& id) { l2.on_instance_registered(id); };
    http::add_membership_routes(router, registry, hooks);
    http::add_l2_routes(router, l2, quotas);
    http::add_quota_routes(router, l2, quotas);
    http::add_event_routes(router, events);
    http::add_blend_routes(router, blend);
    http::add_prefetch_routes(router, registry, forwarder());
    http::add_pin_routes(router, pins, chunk_hasher);
    events.set_blend_feed(&blend_feed);
    http::add_blend_lookup_route(router, blend);
    http::add_cache_prefetch_routes(router, registry, forwarder());
    http::add_cache_delete_route(router, registry, pins, chunk_hasher, deleter());
    http::add_metrics_route(router, {&metrics, &core_state_metrics, &request_metrics});
    request_metrics.observe(router);
    access_policy.guard(router);
  }

  http::PrefetchForwarder forwarder() {
    auto answer = [this](http::PrefetchForwarder::Done& done) {
      http::ForwardedReply forwarded;
      forwarded.reached = reply.reached;
      forwarded.error = reply.reached ? "" : "connection refused";
      forwarded.status = reply.status;
      forwarded.body = reply.body == "<echo>" ? std::string(request_body) : std::string(reply.body);
      if (reply.reached) relayed = reply.status;
      done(std::move(forwarded));
    };
    http::PrefetchForwarder forward;
    forward.submit = [answer](const core::InstanceRecord&, const std::string&,
                              http::PrefetchForwarder::Done done) { answer(done); };
    forward.poll = [answer](const core::InstanceRecord&, const std::string&,
                            http::PrefetchForwarder::Done done) { answer(done); };
    return forward;
  }

  // DELETE /cache/objects answered from the same reply: a 2xx deletes every key sent.
  http::ObjectDeleter deleter() {
    return
        [this](const core::InstanceRecord&, const std::vector<core::ObjectKey>& keys,
               const std::string&, bool, const std::function<void(http::ObjectDeleteReply)>& done) {
          const bool ok = reply.reached && reply.status >= 200 && reply.status < 300;
          done(http::ObjectDeleteReply{ok, ok ? "" : "injected", ok ? keys.size() : 0, 0});
        };
  }
};

// The access policy's promises: a protected route answers only a valid token (401 with
// WWW-Authenticate without one), a fleet route nobody outside the fleet, and no answer echoes the
// Authorization header.
void check_access(verb method, std::string_view target, std::string_view body,
                  const std::optional<std::string>& authorization, bool outsider,
                  const http::HttpResponse& response) {
  const unsigned status = response.result_int();
  if (status == 401) {
    fuzz::require(response[boost::beast::http::field::www_authenticate] == "Bearer",
                  "401 without WWW-Authenticate: Bearer", &response);
  }
  if (status == 404 || status == 405) return;  // no route: the policy is not asked
  const http::RouteAccess access = http::classify_route(method, target.substr(0, target.find('?')));
  if (access == http::RouteAccess::kOperator || access == http::RouteAccess::kTenantRead) {
    if (!authorization) fuzz::require(status == 401, "protected route without a token", &response);
    if (!carries_valid_token(authorization.value_or(""))) {
      fuzz::require(status == 401 || status == 403, "protected route answered a bad token",
                    &response);
    }
    // A route may echo the body or the target (a 422's "input", a salt), escaped or not; only
    // the header is secret. The policy's own 401 and 403 echo nothing of the request.
    if (authorization && authorization->size() >= 8) {
      const std::string& secret = *authorization;
      const bool echoes_input = target.find(secret) != std::string_view::npos ||
                                target.find('%') != std::string_view::npos ||
                                body.find(secret) != std::string_view::npos ||
                                body.find('\\') != std::string_view::npos;
      if (status == 401 || status == 403 || !echoes_input) {
        fuzz::require(response.body().find(secret) == std::string::npos,
                      "the Authorization header echoed", &response);
      }
    }
  }
  if (access == http::RouteAccess::kFleet && outsider) {
    fuzz::require(status == 403, "fleet route answered outside --fleet-cidr", &response);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Coordinator coordinator;
  for (size_t n = 0; n < kMaxRequests && !input.empty(); ++n) {
    const auto control = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    const size_t newline = input.find('\n');
    const std::string_view target = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    std::optional<std::string> authorization = "Bearer fuzz-token";
    if ((control & 0x40) != 0) {
      const size_t end = input.find('\n');
      authorization = header_value(input.substr(0, end));
      if (authorization->empty()) authorization.reset();
      input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    }
    const bool outsider = (control & 0x80) != 0;
    const size_t nul = input.find('\0');
    const std::string_view body = input.substr(0, nul);
    input.remove_prefix(nul == std::string_view::npos ? input.size() : nul + 1);

    coordinator.reply = kReplies[(control >> 3) & 7];
    coordinator.request_body = body;
    coordinator.relayed.reset();
    const verb method = kMethods[control & 7];
    auto request = fuzz::make_request(method, target.empty() ? "/" : target, body);
    if (authorization) request.set(boost::beast::http::field::authorization, *authorization);
    const auto peer = boost::asio::ip::make_address(outsider ? "10.9.9.9" : "127.0.0.1");
    const auto response = fuzz::dispatch_sync(coordinator.router, std::move(request), peer);
    check_access(method, target, body, authorization, outsider, response);
    // 502: a forwarded call (prefetch, cache delete) could not reach the MP server or it
    // answered a non-2xx.
    const bool prefetch = target.find("l2/prefetch") != std::string_view::npos ||
                          target.find("cache/prefetches") != std::string_view::npos ||
                          target.find("cache/delete") != std::string_view::npos;
    fuzz::check_response(response, prefetch ? std::optional<unsigned>(502) : std::nullopt,
                         coordinator.relayed);
  }
  return 0;
}
