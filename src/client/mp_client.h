// The one outbound HTTP client the coordinator uses to talk to LMCache MP servers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/object_key.h"
#include "wire/delete_objects_answer.h"
#include "wire/keys_page.h"

namespace lmcache::client {

// Where an MP server listens. `host` is an IPv4 literal, an IPv6 literal (with or
// without brackets) or a host name.
struct MpEndpoint {
  std::string host;
  uint16_t port = 0;

  // The value of the Host header: "host:port", "[v6]:port" for IPv6 literals.
  std::string host_header() const;
  // The host as a resolver takes it: without the brackets it may come in ("[::1]" -> "::1").
  std::string bare_host() const;
};

// The outcome of one request. A transport failure (resolve, connect, timeout, a
// malformed or oversized response) sets `error`; any HTTP status, 2xx or not, is
// a response: `status` and `body` are set and `error` is empty.
struct MpResponse {
  boost::system::error_code error;
  // Which step failed and why, e.g. "connect: Connection refused"; empty on success.
  std::string error_text;
  unsigned status = 0;
  std::string body;
  // The response's header fields, in order (names as sent).
  std::vector<std::pair<std::string, std::string>> headers;

  // True when an HTTP response arrived (whatever its status).
  bool ok() const { return !error; }
  // True when an HTTP response arrived with a 2xx status.
  bool success() const { return ok() && status >= 200 && status < 300; }
};

// The outcome of GET /l2/keys: a decoded page, or why there is none.
struct MpKeysPageResult {
  // The response as for any request: transport error, status and body.
  MpResponse response;
  // Set when a 2xx response carried a valid page (wire::decode_keys_page).
  std::optional<wire::KeysPage> page;
  // Why `page` is empty, one line for the log: the transport error ("connect: Connection
  // refused"), "HTTP 500", or "malformed page: ..."; empty when `page` is set.
  std::string error;

  bool ok() const { return page.has_value(); }
};

// The outcome of DELETE /cache/objects: whether the server deleted the keys.
struct MpDeleteObjectsResult {
  // The response as for any request: transport error, status and body.
  MpResponse response;
  // Set when a 2xx response carried a valid answer (wire::decode_delete_objects_answer).
  std::optional<wire::DeleteObjectsAnswer> answer;
  // Why the delete failed, one line for the log: the transport error, "HTTP 503", or
  // "ok:false: <the server's error>" for a 2xx whose answer says the adapter raised. Empty when
  // it succeeded, which includes a 2xx whose body is not an answer (`answer` empty then): only an
  // explicit "ok": false says the keys were not deleted.
  std::string error;

  bool ok() const { return error.empty(); }
};

// Deadlines of one request (MpClient::Timeouts).
struct MpTimeouts {
  // Bounds name resolution plus TCP connect.
  std::chrono::milliseconds connect{2000};
  // Bounds the whole request, from the call to the last byte of the response.
  std::chrono::milliseconds request{10000};
};

// Percent-encodes everything but RFC 3986 unreserved characters, for query
// values and path segments.
std::string percent_encode(std::string_view text);

// Sends requests to MP servers without ever blocking the caller's thread.
//
// Each request opens its own connection ("Connection: close") and runs on its
// own strand of the executor, so any number may be in flight at once; the
// completion callback runs on that strand, exactly once, unless the executor's
// io_context is stopped or destroyed first, in which case it is dropped without
// being called (nothing is leaked or touched after that). The client holds no
// per-request state: it may be destroyed while requests are pending.
class MpClient {
 public:
  using Timeouts = MpTimeouts;
  // Responses with a larger body fail with an error (a broken server cannot
  // exhaust our memory). A 10,000-key page or delete is well below this.
  static constexpr std::size_t kMaxResponseBodyBytes = std::size_t{64} * 1024 * 1024;

  using Callback = std::function<void(MpResponse)>;
  using KeysPageCallback = std::function<void(MpKeysPageResult)>;
  using DeleteObjectsCallback = std::function<void(MpDeleteObjectsResult)>;

  // Decides, just before a request is sent, whether it may go: the epoch to send in
  // X-LMCache-Coordinator-Epoch, or nullopt to refuse it (the request then fails with
  // operation_aborted and "fenced: ..." without touching the network). Asked when the request is
  // made and again after connecting, right before the first byte is written. May be called from
  // any thread.
  using DispatchGate = std::function<std::optional<uint64_t>()>;
  static constexpr std::string_view kEpochHeader = "X-LMCache-Coordinator-Epoch";

  explicit MpClient(boost::asio::any_io_executor executor, Timeouts timeouts = {});

  // Installs the gate (HA mode: only a leader holding its lease dispatches). Set before the
  // first request; without one every request goes and carries no epoch.
  void set_dispatch_gate(DispatchGate gate) { gate_ = std::move(gate); }

  const Timeouts& timeouts() const { return timeouts_; }

  // Sends `method target` with `json_body` (Content-Type: application/json when
  // non-empty) to `to`, and calls `done` with the outcome.
  void request(boost::beast::http::verb method, const MpEndpoint& to, std::string_view target,
               std::string json_body, Callback done);

  // Sends `method target` with `body` and the given extra header fields (Host, Connection and
  // Content-Length are set here) to `to`: a request relayed as it came (follower forwarding).
  void send(boost::beast::http::verb method, const MpEndpoint& to, std::string_view target,
            const std::vector<std::pair<std::string, std::string>>& fields, std::string body,
            Callback done);

  // DELETE /l2 with {"keys":[...]} (eviction dispatch), the keys encoded
  // before this returns (wire::encode_delete_keys_body), so they need not
  // outlive the call.
  void delete_keys(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys, Callback done);
  // DELETE /cache/objects with {"keys":[...]} (eviction dispatch to a v2 server; it deletes from
  // its L2 tier by default), the keys encoded before this returns. `done` gets the answer decoded
  // (wire::decode_delete_objects_answer).
  void delete_objects(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys,
                      DeleteObjectsCallback done);
  // The same with {"keys":[...],"tier":tier,"force":force} (POST /cache/delete).
  void delete_objects(const MpEndpoint& to, std::span<const core::ObjectKeyView> keys,
                      std::string_view tier, bool force, DeleteObjectsCallback done);
  // GET /l2/keys?page_size=N[&page_token=T] (startup resync); the token is
  // percent-encoded. `done` gets the page decoded (wire::decode_keys_page).
  void get_keys_page(const MpEndpoint& to, std::size_t page_size,
                     const std::optional<std::string>& page_token, KeysPageCallback done);
  // POST /l2/prefetch (warm prefetch submit).
  void submit_prefetch(const MpEndpoint& to, std::string json_body, Callback done);
  // GET /l2/prefetch/{request_id}; the id is percent-encoded as one path segment.
  void poll_prefetch(const MpEndpoint& to, std::string_view request_id, Callback done);
  // POST /cache/prefetches (v2 warm prefetch submit).
  void submit_cache_prefetch(const MpEndpoint& to, std::string json_body, Callback done);
  // GET /cache/prefetches/{request_id}; the id is percent-encoded as one path segment.
  void poll_cache_prefetch(const MpEndpoint& to, std::string_view request_id, Callback done);

 private:
  // Sends DELETE /cache/objects with `body` and decodes the answer for `done`.
  void send_delete_objects(const MpEndpoint& to, std::string body, DeleteObjectsCallback done);
  // Fences `request` through the gate (adding the epoch) and starts its session.
  void start(const MpEndpoint& to,
             boost::beast::http::request<boost::beast::http::string_body> request, Callback done);

  // Where sessions run; each gets its own strand of it.
  boost::asio::any_io_executor executor_;
  Timeouts timeouts_;
  DispatchGate gate_;  // empty: every request goes, without an epoch header
};

}  // namespace lmcache::client
