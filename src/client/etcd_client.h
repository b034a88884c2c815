// An etcd v3 client over etcd's JSON gateway, for leadership and durable intent in HA mode.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/mp_client.h"

namespace lmcache::client {

// One key as etcd stores it (key and value decoded from base64).
struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // the revision that created the key; grows on re-creation
  int64_t mod_revision = 0;
  int64_t lease = 0;  // 0: not attached to a lease
};

// Outcomes. `error` is empty on success, else one line for the log ("connect: Connection
// refused", "HTTP 400: ...", "malformed answer"); the other fields are then unset.
struct EtcdLeaseResult {
  std::string error;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds left; 0 after a keep-alive means the lease is gone
};
struct EtcdRangeResult {
  std::string error;
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;  // the store's revision when read
};
struct EtcdTxnResult {
  std::string error;
  bool succeeded = false;  // the comparisons held and the success branch ran
  int64_t revision = 0;    // the store's revision after the transaction
  // create_if_absent(): the key that already existed when `succeeded` is false.
  std::optional<EtcdKeyValue> existing;
};

// Talks to etcd's v3 JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/kv/deleterange,
// /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke) with the project's Beast client, so it
// never blocks the executor's threads. Keys and values are base64 on the wire; int64 fields are
// read whether etcd sends them as strings or numbers.
//
// Endpoints: a request goes to the endpoint that answered last; on a transport error (refused,
// or no answer within the timeouts: a hung member) or a 5xx it is retried on the next one, each
// endpoint at most once per request. Callbacks run on the
// executor, exactly once unless the io_context is stopped first. The client must outlive its
// pending requests (the app owns it for the io_context's life).
//
// A write retried after a timeout may already have been applied; every write offered here is
// conditional or idempotent, so applying it twice changes nothing.
class EtcdClient {
 public:
  using LeaseCallback = std::function<void(EtcdLeaseResult)>;
  using RangeCallback = std::function<void(EtcdRangeResult)>;
  using TxnCallback = std::function<void(EtcdTxnResult)>;

  // `endpoints` must not be empty.
  EtcdClient(const boost::asio::any_io_executor& executor, std::vector<MpEndpoint> endpoints,
             MpTimeouts timeouts = {std::chrono::milliseconds(1000),
                                    std::chrono::milliseconds(2000)});

  // Parses "http://host:port[,http://host:port...]" (the scheme may be omitted; only http).
  // nullopt with `why` set when an entry is malformed or the list is empty.
  static std::optional<std::vector<MpEndpoint>> parse_endpoints(std::string_view list,
                                                                std::string* why);
  // The endpoints this client was given, in order.
  const std::vector<MpEndpoint>& endpoints() const { return endpoints_; }

  void grant_lease(int64_t ttl_seconds, LeaseCallback done);
  // One keep-alive round trip; `ttl` is 0 when etcd no longer knows the lease.
  void keep_alive(int64_t lease_id, LeaseCallback done);
  void revoke_lease(int64_t lease_id, std::function<void(std::string error)> done);

  // The key, if it exists (kvs holds 0 or 1 entries).
  void get(std::string_view key, RangeCallback done);
  // Every key starting with `prefix`, in key order.
  void get_prefix(std::string_view prefix, RangeCallback done);
  // The store's revision now (`revision`; `kvs` stays empty): a count-only read of `key`. It
  // moves with every write anywhere in etcd, so an unchanged revision means nothing changed.
  void current_revision(std::string_view key, RangeCallback done);

  // Creates `key` = `value` attached to `lease` only if the key does not exist (a transaction
  // comparing its create revision with 0). Succeeded: `revision` is the new key's create
  // revision. Otherwise `existing` holds the key as it is.
  void create_if_absent(std::string_view key, std::string_view value, int64_t lease,
                        TxnCallback done);
  // Puts `key` = `value` only while `guard_key` exists with create revision `guard_revision`
  // (a fenced write: a deposed leader's write fails with `succeeded` false).
  void put_if_guard(std::string_view guard_key, int64_t guard_revision, std::string_view key,
                    std::string_view value, TxnCallback done);
  // Deletes `key` under the same fence as put_if_guard().
  void delete_if_guard(std::string_view guard_key, int64_t guard_revision, std::string_view key,
                       TxnCallback done);
  // Deletes `key` unconditionally (DeleteRange); `revision` is the store's revision after.
  void remove(std::string_view key, TxnCallback done);

 private:
  using JsonCallback = std::function<void(std::string error, std::string body)>;

  // POSTs `body` to `path`, starting at the preferred endpoint, failing over as described above.
  void post(std::string path, std::string body, JsonCallback done);
  void post_to(const std::shared_ptr<std::string>& path, const std::shared_ptr<std::string>& body,
               size_t first, size_t attempt, const std::shared_ptr<JsonCallback>& done);
  // The one request/answer path: POSTs `request` to `path`; `read` fills the result from the
  // parsed answer (and may set its `error`); transport, HTTP and parse failures set `error`.
  template <typename Result>
  void call(std::string_view path, const boost::json::object& request,
            std::function<void(const boost::json::object&, Result&)> read,
            std::function<void(Result)> done);
  void range(const boost::json::object& request, RangeCallback done);
  void txn(const boost::json::object& request, TxnCallback done);
  void fenced_txn(std::string_view guard_key, int64_t guard_revision,
                  boost::json::object request_op, TxnCallback done);

  MpClient http_;  // ungated: etcd traffic is not MP-server dispatch
  std::vector<MpEndpoint> endpoints_;
  std::atomic<size_t> preferred_{0};  // the endpoint that answered last
};

// The end of the range of every key starting with `prefix` (etcd's range_end): the prefix with
// its last byte incremented (bytes of 0xff dropped first); "\0" (everything) for an empty prefix.
std::string etcd_prefix_end(std::string_view prefix);

// base64 (RFC 4648, padded), as etcd's gateway wants keys and values.
std::string etcd_base64_encode(std::string_view bytes);
// nullopt when `text` is not valid base64.
std::optional<std::string> etcd_base64_decode(std::string_view text);

}  // namespace lmcache::client
