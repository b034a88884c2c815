#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/string_hash.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// One registered LMCache MP server, as listed by GET /instances.
struct InstanceRecord {
  std::string instance_id;
  std::string ip;
  uint16_t http_port = 0;
  double registration_time = 0.0;                             // wall clock, seconds since the epoch
  std::vector<std::pair<std::string, std::string>> metadata;  // in the order received
  std::string p2p_advertised_url;
  uint16_t mq_port = 0;
};

// A registered instance with the time of its last heartbeat (or registration).
struct InstanceStatus {
  InstanceRecord record;
  std::chrono::steady_clock::time_point last_heartbeat;
};

// The fleet's membership: who is registered and when each last heartbeated.
//
// Thread-safe. Heartbeat times are on the monotonic clock passed in by the
// caller, so wall-clock jumps never evict anyone. Listing order is the order
// of first registration; a re-registration keeps its place, while a removed
// instance that registers again goes to the end.
class InstanceRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  struct Registration {
    std::string instance_id;  // minted when the request left it blank
    bool re_registered = false;
  };

  InstanceRegistry() = default;
  InstanceRegistry(const InstanceRegistry&) = delete;
  InstanceRegistry& operator=(const InstanceRegistry&) = delete;

  // Adds or replaces `record` and counts as its heartbeat. A blank
  // `record.instance_id` is replaced by a fresh "mp-" + 32 lowercase hex id.
  Registration register_instance(InstanceRecord record, Clock::time_point now);

  // Records a heartbeat. False when the id is not registered.
  bool heartbeat(std::string_view instance_id, Clock::time_point now);

  // Removes an instance. False when it was not registered.
  bool remove(std::string_view instance_id);

  // All records in first-registration order.
  std::vector<InstanceRecord> list() const;

  // All records with their last heartbeat, in first-registration order.
  std::vector<InstanceStatus> statuses() const;

  std::optional<InstanceRecord> find(std::string_view instance_id) const;

  size_t size() const;

  // Heartbeats accepted so far (registrations not included).
  uint64_t heartbeats() const;

  // Removes every instance whose last heartbeat is older than `timeout` at
  // `now` and returns their ids.
  std::vector<std::string> remove_lapsed(Clock::time_point now, Clock::duration timeout);

  // Treats every instance as having heartbeated at `now`. Used when the
  // coordinator itself stalled, so that nobody is removed on stale evidence.
  void refresh_all(Clock::time_point now);

 private:
  struct Entry {
    uint64_t order = 0;  // position in `by_order_`
    Clock::time_point last_heartbeat;
  };

  static std::string mint_instance_id();

  mutable Mutex mutex_;
  // id -> listing position and last heartbeat.
  boost::unordered_flat_map<std::string, Entry, StringHash, StringEqual> entries_
      GUARDED_BY(mutex_);
  // Listing position -> record; positions only grow, so iteration is registration order.
  std::map<uint64_t, InstanceRecord> by_order_ GUARDED_BY(mutex_);
  uint64_t next_order_ GUARDED_BY(mutex_) = 0;
  // Counted under the lock heartbeat() takes anyway, rather than in a counter of its own that
  // every heartbeat on every thread would contend for.
  uint64_t heartbeats_ GUARDED_BY(mutex_) = 0;
};

}  // namespace lmcache::core
