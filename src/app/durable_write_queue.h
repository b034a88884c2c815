// The order in which the leader's quota and pin changes reach etcd (HA mode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "http/route_request.h"

namespace lmcache::app {

// One durable etcd key and the local state it mirrors: `read` gives the local value as etcd
// stores it (nullopt: the key is absent), `restore` puts such a value back into the local state.
struct DurableKey {
  std::string etcd_key;
  std::function<std::optional<std::string>()> read;
  std::function<void(const std::optional<std::string>&)> restore;
};

// Orders the etcd writes that follow the leader's local quota and pin changes, so that etcd sees
// a key's writes in the order they are answered and ends up with the value the leader holds.
//
// A write is admitted before its route changes the local state; admit() returns the respond to
// hand the route. Per etcd key at most one etcd write is in flight. It carries the local value
// read when it is sent, and when etcd has committed it, every write of that key whose route had
// answered by then is answered, in admission order. So each 2xx answer comes after etcd holds its
// change (or a later one), and the last write of a key carries the local value. A route's non-2xx
// answer changed nothing and is passed on at once.
//
// When etcd refuses a write or cannot be reached, the local value goes back to the last one etcd
// committed and every write of that key admitted so far is answered 503 with Retry-After (its
// change is not stored), including those whose route answers later: their change is undone
// then. Writes of the key admitted while such a failed write is still outstanding fail the same
// way, so no change is applied over a restore and then confirmed.
//
// Thread-safe; `write`'s callback and the routes' answers may come from any thread.
class DurableWriteQueue {
 public:
  // Writes `value` (nullopt: deletes the key) at `etcd_key`; `done` gets "" once etcd committed
  // it, else one line saying why not.
  using Write =
      std::function<void(const std::string& etcd_key, const std::optional<std::string>& value,
                         std::function<void(std::string error)> done)>;

  explicit DurableWriteQueue(Write write);
  DurableWriteQueue(const DurableWriteQueue&) = delete;
  DurableWriteQueue& operator=(const DurableWriteQueue&) = delete;

  // Admits a write of `key` whose route is about to run; answers through `respond` as above.
  http::Respond admit(DurableKey key, http::Respond respond) EXCLUDES(mu_);

  // How many keys have writes not answered yet.
  size_t busy_keys() const EXCLUDES(mu_);

 private:
  struct Ticket {
    uint64_t id = 0;
    http::Respond respond;
    std::optional<http::HttpResponse> response;  // the route's 2xx answer, once it came
    bool in_write = false;                       // its change is in the etcd write in flight
    bool doomed = false;  // a write before it failed: it will be undone and answered 503
  };
  struct Chain {
    DurableKey key;
    std::optional<std::string> committed;  // what etcd holds, as far as this node wrote it
    std::deque<Ticket> tickets;            // in admission order
    bool in_flight = false;
    bool failed = false;  // doomed tickets are outstanding
  };
  // What to do once the lock is released: answers in order, then at most one write.
  struct Actions {
    std::vector<std::pair<http::Respond, http::HttpResponse>> answers;
    std::function<void()> send;
    void run();
  };

  void answered(const std::string& etcd_key, uint64_t id, http::HttpResponse response)
      EXCLUDES(mu_);
  void written(const std::string& etcd_key, const std::optional<std::string>& value,
               const std::string& error) EXCLUDES(mu_);
  // Sends the chain's next write if none is in flight and its first ticket is ready.
  void pump(Chain& chain, Actions& actions) REQUIRES(mu_);
  void forget_if_idle(const std::string& etcd_key) REQUIRES(mu_);

  const Write write_;
  mutable core::Mutex mu_;
  std::map<std::string, Chain> chains_ GUARDED_BY(mu_);  // keys with unanswered writes
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
};

}  // namespace lmcache::app
