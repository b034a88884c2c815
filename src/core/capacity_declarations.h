// CapacityDeclarations: what each MP server says it can hold, per (tier, backend), from the
// `config` batches of `POST /events`.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cache_event.h"
#include "core/mutex.h"
#include "core/snapshot_stream.h"
#include "core/string_hash.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// One compartment of a declaration.
struct CapacityCompartment {
  CacheTier tier = CacheTier::kL2;
  std::string backend;
  uint64_t capacity_bytes = 0;  // 0: undeclared or unlimited
  bool shared = false;          // a fleet-shared pool (counted once in GET /instances/usage)

  bool operator==(const CapacityCompartment&) const = default;
};

// An instance's declaration under one stamp (incarnation, capacity_revision).
struct CapacityDeclaration {
  uint64_t incarnation = 0;
  uint64_t revision = 0;
  std::vector<CapacityCompartment> compartments;  // in the order first declared
};

// The latest capacity declaration of every instance that sent one.
//
// Stamps order declarations: (incarnation, capacity_revision), compared in that order. A newer
// stamp replaces the instance's whole declaration (the server restarted or re-read its
// configuration, so compartments it no longer names are gone); an equal stamp adds or overwrites
// one compartment (a declaration arrives one compartment per batch); an older stamp is ignored.
// The declarations will feed GET /instances/usage. Forgotten on deregistration only: a server
// dropped by the health sweep keeps its declaration until it re-declares.
//
// Thread-safe.
class CapacityDeclarations {
 public:
  enum class Outcome : uint8_t { kReplaced, kUpdated, kIgnored };

  CapacityDeclarations() = default;
  CapacityDeclarations(const CapacityDeclarations&) = delete;
  CapacityDeclarations& operator=(const CapacityDeclarations&) = delete;

  // Applies one compartment declared under the stamp (incarnation, revision).
  Outcome declare(std::string_view instance_id, uint64_t incarnation, uint64_t revision,
                  CacheTier tier, std::string_view backend, uint64_t capacity_bytes,
                  bool shared = false) EXCLUDES(mutex_);

  // Forgets an instance's declaration. False when it had none.
  bool forget(std::string_view instance_id) EXCLUDES(mutex_);

  std::optional<CapacityDeclaration> find(std::string_view instance_id) const EXCLUDES(mutex_);
  // Every declaration, in no particular order.
  std::vector<std::pair<std::string, CapacityDeclaration>> all() const EXCLUDES(mutex_);

  // The lock that freezes the declarations (for a checkpoint; see EventIngest::freeze).
  Mutex& mutex() const RETURN_CAPABILITY(mutex_) { return mutex_; }
  // Every declaration with its stamp, for a checkpoint.
  void save(SnapshotWriter& out) const REQUIRES(mutex_);
  // Adds the declarations a save() wrote. False on malformed input.
  bool load(SnapshotReader& in) EXCLUDES(mutex_);
  // Empties this to the state of a freshly constructed one: every declaration is forgotten.
  // Takes its own lock.
  void clear() EXCLUDES(mutex_);

 private:
  mutable Mutex mutex_;
  boost::unordered_flat_map<std::string, CapacityDeclaration, StringHash, StringEqual> by_instance_
      GUARDED_BY(mutex_);
};

}  // namespace lmcache::core
