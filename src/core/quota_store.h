// QuotaStore: the SQLite state file: per-salt L2 quotas, the default limit, and pin counts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/pinned_keys.h"
#include "core/quota_limits.h"
#include "core/thread_annotations.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lmcache::core {

// Raised when the quota database cannot be opened, read or written. The message names the path
// and SQLite's reason.
class QuotaStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Quotas (cache salt -> limit bytes) and the default limit of salts without one, stored in an
// SQLite database so they survive a restart. Every write is committed to disk before it returns
// (WAL journal, synchronous=FULL), so an answered PUT/DELETE is never lost. Everything is loaded
// at open and served from memory.
//
// The default limit is a row of the `meta` table, written only by set_default_limit(). A
// database without that row (older files, or one never configured) uses the `fallback_default`
// given at open, which is not written: the flag keeps deciding until an operator sets a default.
//
// The same file holds the pin counts (the `pins` table, created when missing so older files
// open): this class owns the one connection, and Pins reads and writes them through it.
//
// Thread-safe: one internal mutex serialises reads and writes.
class QuotaStore {
 public:
  // The path that keeps quotas in memory only (lost at exit).
  static constexpr std::string_view kInMemory = ":memory:";

  // Opens (creating if needed) the database at `path`. Throws QuotaStoreError when the file is
  // not a database, is corrupt (a stored default that does not parse included), or cannot be
  // created or written (e.g. its directory is missing). `fallback_default` is the default limit
  // while the database stores none.
  explicit QuotaStore(const std::string& path, DefaultLimit fallback_default = 0);
  ~QuotaStore();
  QuotaStore(const QuotaStore&) = delete;
  QuotaStore& operator=(const QuotaStore&) = delete;

  // Sets a salt's limit (values above kMaxLimitBytes are stored as kMaxLimitBytes). Durable on
  // return. Throws QuotaStoreError when the write fails; the quota is then unchanged.
  void set(std::string_view cache_salt, uint64_t limit_bytes);

  // Removes a salt's quota; returns whether it existed. Durable on return; throws like set().
  bool remove(std::string_view cache_salt);

  // The salt's limit, or nullopt when it has no quota.
  std::optional<uint64_t> get(std::string_view cache_salt) const;

  // A copy of every quota.
  QuotaMap all() const;

  // Sets the default limit of salts without a quota (nullopt: exempt; values above
  // kMaxLimitBytes are stored as kMaxLimitBytes). Durable on return; throws like set().
  void set_default_limit(DefaultLimit limit_bytes);

  // The default limit: the stored one, else the fallback given at open.
  DefaultLimit default_limit() const;

  // Every quota and the default, as one consistent snapshot for an eviction sweep.
  QuotaLimits limits() const;

  // Every stored pin count (each > 0), in no particular order. Throws QuotaStoreError.
  std::vector<PinCount> read_pins() const;

  // Stores each key's count, 0 removing the key, in one transaction: durable on return, or
  // nothing written when it throws QuotaStoreError.
  void write_pins(std::span<const PinCount> counts);

  // False for ":memory:".
  bool durable() const { return durable_; }
  const std::string& path() const { return path_; }

 private:
  // Throws QuotaStoreError naming `what` and SQLite's last error on this connection.
  [[noreturn]] void fail(std::string_view what) const REQUIRES(mu_);
  // Runs one statement at open.
  void exec(const char* sql) REQUIRES(mu_);

  const std::string path_;
  const bool durable_;
  mutable Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_) = nullptr;
  sqlite3_stmt* upsert_ GUARDED_BY(mu_) = nullptr;
  sqlite3_stmt* delete_ GUARDED_BY(mu_) = nullptr;
  sqlite3_stmt* set_default_ GUARDED_BY(mu_) = nullptr;
  sqlite3_stmt* upsert_pin_ GUARDED_BY(mu_) = nullptr;
  sqlite3_stmt* delete_pin_ GUARDED_BY(mu_) = nullptr;
  QuotaMap quotas_ GUARDED_BY(mu_);             // mirror of the table
  DefaultLimit default_limit_ GUARDED_BY(mu_);  // the stored default, else the fallback
};

}  // namespace lmcache::core
