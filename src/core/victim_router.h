#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/instance_registry.h"
#include "core/string_hash.h"

namespace lmcache::core {

// Chooses the instance each eviction victim's DELETE /l2 goes to. A victim
// goes to its owner (the instance whose `store` it last came in) while that
// instance is registered and has not just failed: with node-local L2 only the
// owner can free it. Otherwise it goes to a random registered instance,
// preferring those that have not just failed.
//
// Pure: time comes in as arguments and randomness from the injected source.
// Not thread-safe; the caller serialises calls.
class VictimRouter {
 public:
  using Clock = std::chrono::steady_clock;
  // Returns an index drawn uniformly from [0, n); called only with n >= 1.
  using RandomIndex = std::function<size_t(size_t n)>;

  // How long an instance whose dispatch failed is passed over.
  static constexpr Clock::duration kAvoidFailedFor = std::chrono::seconds(30);

  // Random choices from a std::mt19937_64 seeded by std::random_device.
  VictimRouter();
  explicit VictimRouter(RandomIndex random_index);

  // The choices of one sweep over `instances` at `now`. Building it costs O(instances); each
  // choice then costs O(1), so a sweep of V victims over N instances costs O(V + N). Valid while
  // `instances` and the router are.
  class Sweep {
   public:
    // Where a victim owned by `owner` ("" for none) goes, as a pointer into `instances`;
    // nullptr when `instances` is empty (nobody to send to). When every instance failed within
    // kAvoidFailedFor, any of them is chosen: a retry somewhere beats none.
    const InstanceRecord* choose(std::string_view owner) const;

   private:
    friend class VictimRouter;
    Sweep(const std::vector<InstanceRecord>& instances, const RandomIndex& random_index)
        : instances_(instances), random_index_(random_index) {}

    const std::vector<InstanceRecord>& instances_;
    const RandomIndex& random_index_;
    // Instances that have not just failed, by id and in registration order.
    boost::unordered_flat_map<std::string_view, const InstanceRecord*> healthy_by_id_;
    std::vector<const InstanceRecord*> healthy_;
  };

  Sweep sweep(const std::vector<InstanceRecord>& instances, Clock::time_point now) const;

  // Records that a dispatch to `instance_id` failed at `when`.
  void record_failure(const std::string& instance_id, Clock::time_point when);

 private:
  bool recently_failed(std::string_view instance_id, Clock::time_point now) const;

  RandomIndex random_index_;
  // Instance id -> when its last dispatch failed.
  boost::unordered_flat_map<std::string, Clock::time_point, StringHash, StringEqual> failed_at_;
};

}  // namespace lmcache::core
