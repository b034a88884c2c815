// A fake LMCache MP server for unit and end-to-end tests.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lmcache::testing {

// Serves the endpoints the coordinator calls on an MP server of one dialect on
// 127.0.0.1, on a free port, from its own thread and io_context:
//   - seed-era: DELETE /l2, GET /l2/keys, POST /l2/prefetch, GET /l2/prefetch/{id};
//   - v2: DELETE /cache/objects, POST /cache/prefetches, GET /cache/prefetches/{id}.
// It records every request and can be told how to answer or misbehave. All
// methods are thread-safe; configuration applies to requests that arrive
// afterwards. HTTP/1.1 keep-alive is honoured. Any other path (the other
// dialect's included) answers 404 {"detail":"Not Found"}, a wrong method 405,
// as FastAPI would.
class FakeMpServer {
 public:
  enum class Dialect { kSeedEra, kV2 };

  // One request as received.
  struct Request {
    std::string method;  // "DELETE", "GET", ...
    std::string target;  // path and query as sent, e.g. "/l2/keys?page_size=10"
    std::string body;
    // The X-LMCache-Coordinator-Epoch header as sent; empty when absent.
    std::string epoch;
  };

  // A canned answer.
  struct Response {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
  };

  // Real MP servers answer 422 to a larger page_size.
  static constexpr std::size_t kMaxPageSize = 5000;
  // Real MP servers answer 400 to a DELETE /l2 or /cache/objects with more keys.
  static constexpr std::size_t kMaxDeleteKeys = 10000;

  // Starts listening on 127.0.0.1:0 and serving `dialect` on a new thread.
  explicit FakeMpServer(Dialect dialect = Dialect::kSeedEra);
  // Stops the thread; open connections are dropped.
  ~FakeMpServer();
  FakeMpServer(const FakeMpServer&) = delete;
  FakeMpServer& operator=(const FakeMpServer&) = delete;

  // The port actually bound.
  uint16_t port() const { return port_; }
  // "127.0.0.1".
  std::string host() const { return "127.0.0.1"; }

  // --- inspection -------------------------------------------------------------

  // Every request received so far, in arrival order (answered or not).
  std::vector<Request> requests() const;
  // Bodies of the deletes of this server's dialect (DELETE /l2 or DELETE
  // /cache/objects), raw (with "tier" and "force" when sent), in arrival order.
  std::vector<std::string> delete_bodies() const;
  // The "keys" entries of every delete body that parsed, concatenated.
  std::vector<boost::json::value> deleted_keys() const;
  // Bodies of prefetch submissions (POST /l2/prefetch or POST /cache/prefetches), raw.
  std::vector<std::string> prefetch_bodies() const;
  // page_size of every GET /l2/keys request, as parsed (0 if missing or bad).
  std::vector<std::size_t> keys_page_sizes() const;
  // Waits until at least `n` deletes of this dialect (or any requests) arrived;
  // false on timeout.
  bool wait_for_deletes(std::size_t n, std::chrono::milliseconds timeout) const;
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  // Forgets recorded requests (not configuration).
  void clear_requests();

  // --- DELETE /l2 -------------------------------------------------------------

  // Default: 200 {"status":"ok","deleted":<number of keys>} (seed-era) or
  // 200 {"deleted":<number of keys>,"skipped":0,"ok":true} (v2). A body that is
  // not JSON or has no "keys" list gets 422, more than kMaxDeleteKeys keys 400,
  // whatever is configured here.
  void set_delete_response(unsigned status, std::string body);
  void reset_delete_response();

  // --- GET /l2/keys -----------------------------------------------------------

  // The entries served, each the raw JSON text of one
  // {"key":{...},"size_bytes":N} element (malformed ones are served as is).
  // Pages are {"entries":[...],"next_page_token":T|null}; T is opaque and
  // contains '&' and '=' on purpose, so a client that does not percent-encode it
  // gets 400. page_size defaults to 1000; < 1 or > kMaxPageSize is 422.
  void set_keys(std::vector<std::string> entries);
  // Page `page` (0-based: the first page, the one after it, ...) answers 500
  // every time it is asked for. nullopt: never.
  void set_keys_fail_at_page(std::optional<std::size_t> page);

  // --- POST /l2/prefetch, POST /cache/prefetches -------------------------------

  // Default: 202 {"request_id":"r-<n>","chunks":<token_ids/256>,"status":"submitted"},
  // n counting submissions from 1; a v2 server answers fewer than 256 token_ids with 200
  // {"chunks":0,"status":"noop"} and starts no job.
  void set_prefetch_submit_response(unsigned status, std::string body);
  void reset_prefetch_submit_response();

  // --- GET /l2/prefetch/{request_id} (seed-era) --------------------------------

  // Default: 200 {"request_id":<id>,"status":"done"}.
  void set_prefetch_status(const std::string& request_id, Response response);
  void set_prefetch_status_default(std::optional<Response> response);

  // --- GET /cache/prefetches/{request_id} (v2) ---------------------------------

  // A submitted request answers 200 {"request_id":<id>,"status":"pending"} to its
  // first poll, then 200 {"request_id":<id>,"status":"completed","found_keys":<chunks>,
  // "total_keys":<chunks>} and is forgotten, as a real server forgets a job once
  // a poll has seen it complete; an unknown id answers 404 {"detail":...}.

  // --- faults -----------------------------------------------------------------

  // Every answer is sent this much later (a timer: other connections go on).
  void set_delay(std::chrono::milliseconds delay);
  // Every request is answered with this status and {"detail":"injected failure"};
  // nullopt turns it off.
  void set_fail_all(std::optional<unsigned> status);
  // Requests are read and recorded but never answered; the connection stays
  // open until the client closes it or the server stops.
  void set_blackhole(bool on);

 private:
  struct State;
  class Session;
  struct Impl;

  // Everything shared between the test thread and the server thread.
  std::shared_ptr<State> state_;
  // Sockets, acceptor and the serving thread.
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace lmcache::testing
