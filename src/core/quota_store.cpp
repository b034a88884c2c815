#include "core/quota_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

#include "core/gib.h"

namespace lmcache::core {
namespace {

// Collects the first column of every row of a statement run through sqlite3_exec.
int collect_first_column(void* out, int columns, char** values, char** /*names*/) {
  auto* rows = static_cast<std::vector<std::string>*>(out);
  rows->emplace_back(columns > 0 && values[0] ? values[0] : "");
  return 0;
}

// The `meta` row that holds the default limit: "none" (exempt) or a byte count in decimal.
constexpr const char* kDefaultLimitName = "default_limit_bytes";
constexpr std::string_view kExemptText = "none";

std::string default_limit_text(DefaultLimit limit) {
  return limit ? std::to_string(*limit) : std::string(kExemptText);
}

// nullopt when `text` is neither "none" nor a byte count within kMaxLimitBytes.
std::optional<DefaultLimit> parse_default_limit(std::string_view text) {
  if (text == kExemptText) return DefaultLimit{};
  uint64_t bytes = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (ec != std::errc() || end != text.data() + text.size() || bytes > kMaxLimitBytes) {
    return std::nullopt;
  }
  return DefaultLimit{bytes};
}

// Column `column` of the current row as bytes (a BLOB or TEXT), "" when NULL.
std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(statement, column));
  const int len = sqlite3_column_bytes(statement, column);
  return data ? std::string(data, static_cast<size_t>(len)) : std::string();
}

}  // namespace

QuotaStore::QuotaStore(const std::string& path, DefaultLimit fallback_default)
    : path_(path), durable_(path != kInMemory), default_limit_(fallback_default) {
  if (path.empty()) {
    // SQLite would open a private temporary file: it looks durable and is not.
    throw QuotaStoreError("quota database path is empty (use ':memory:' to keep quotas in memory)");
  }
  try {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) fail("cannot open or create it (is its directory present and writable?)");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);

    // A garbage file opens fine and fails on first read (SQLITE_NOTADB); quick_check also
    // catches damaged pages of a real database.
    std::vector<std::string> problems;
    char* err = nullptr;
    if (sqlite3_exec(db_, "PRAGMA quick_check", collect_first_column, &problems, &err) !=
        SQLITE_OK) {
      sqlite3_free(err);
      fail("not a readable SQLite database");
    }
    if (problems.size() != 1 || problems[0] != "ok") {
      std::string detail = problems.empty() ? "no result" : problems[0];
      throw QuotaStoreError("quota database '" + path_ + "' is corrupt: " + detail);
    }
    if (durable_) {
      // WAL + synchronous=FULL: a commit is on disk when sqlite3_step returns.
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=FULL");
    }
    exec(
        "CREATE TABLE IF NOT EXISTS quotas ("
        " cache_salt TEXT PRIMARY KEY NOT NULL,"
        " limit_bytes INTEGER NOT NULL CHECK (limit_bytes >= 0)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS pins ("
        " chunk_hash BLOB NOT NULL, model_name TEXT NOT NULL, kv_rank INTEGER NOT NULL,"
        " object_group_id INTEGER NOT NULL, cache_salt TEXT NOT NULL,"
        " pin_count INTEGER NOT NULL CHECK (pin_count > 0),"
        " PRIMARY KEY (chunk_hash, model_name, kv_rank, object_group_id, cache_salt))"
        " WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) "
        "WITHOUT ROWID");
    // A real write at open, so an unwritable database fails now rather than at the first PUT.
    exec(
        "INSERT INTO meta (name, value) VALUES ('schema_version', '1') "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    if (sqlite3_db_readonly(db_, "main") == 1) {
      throw QuotaStoreError("quota database '" + path_ + "' is read-only");
    }

    sqlite3_stmt* select = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT cache_salt, limit_bytes FROM quotas", -1, &select,
                           nullptr) != SQLITE_OK) {
      fail("cannot read quotas");
    }
    int step;
    while ((step = sqlite3_step(select)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select, 0));
      const int len = sqlite3_column_bytes(select, 0);
      const sqlite3_int64 limit = sqlite3_column_int64(select, 1);
      quotas_[std::string(text ? text : "", static_cast<size_t>(len))] =
          static_cast<uint64_t>(std::max<sqlite3_int64>(limit, 0));
    }
    sqlite3_finalize(select);
    if (step != SQLITE_DONE) fail("cannot read quotas");

    if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE name = ?1", -1, &select, nullptr) !=
        SQLITE_OK) {
      fail("cannot read the default quota");
    }
    sqlite3_bind_text(select, 1, kDefaultLimitName, -1, SQLITE_STATIC);
    step = sqlite3_step(select);
    std::optional<std::string> stored_default;
    if (step == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select, 0));
      stored_default.emplace(text ? text : "",
                             static_cast<size_t>(sqlite3_column_bytes(select, 0)));
    }
    sqlite3_finalize(select);
    if (step != SQLITE_ROW && step != SQLITE_DONE) fail("cannot read the default quota");
    if (stored_default) {
      auto parsed = parse_default_limit(*stored_default);
      if (!parsed) {
        throw QuotaStoreError("quota database '" + path_ + "' is corrupt: default quota '" +
                              *stored_default + "' is neither 'none' nor a byte count");
      }
      default_limit_ = *parsed;
    }

    if (sqlite3_prepare_v3(
            db_,
            "INSERT INTO quotas (cache_salt, limit_bytes) VALUES (?1, ?2) "
            "ON CONFLICT (cache_salt) DO UPDATE SET limit_bytes = excluded.limit_bytes",
            -1, SQLITE_PREPARE_PERSISTENT, &upsert_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db_, "DELETE FROM quotas WHERE cache_salt = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &delete_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db_,
                           "INSERT INTO meta (name, value) VALUES (?1, ?2) "
                           "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                           -1, SQLITE_PREPARE_PERSISTENT, &set_default_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(
            db_,
            "INSERT INTO pins (chunk_hash, model_name, kv_rank, object_group_id,"
            " cache_salt, pin_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            " ON CONFLICT (chunk_hash, model_name, kv_rank, object_group_id, cache_salt)"
            " DO UPDATE SET pin_count = excluded.pin_count",
            -1, SQLITE_PREPARE_PERSISTENT, &upsert_pin_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db_,
                           "DELETE FROM pins WHERE chunk_hash = ?1 AND model_name = ?2 AND"
                           " kv_rank = ?3 AND object_group_id = ?4 AND cache_salt = ?5",
                           -1, SQLITE_PREPARE_PERSISTENT, &delete_pin_, nullptr) != SQLITE_OK) {
      fail("cannot prepare statements");
    }
  } catch (...) {
    sqlite3_finalize(upsert_);
    sqlite3_finalize(delete_);
    sqlite3_finalize(set_default_);
    sqlite3_finalize(upsert_pin_);
    sqlite3_finalize(delete_pin_);
    sqlite3_close(db_);
    throw;
  }
}

QuotaStore::~QuotaStore() {
  sqlite3_finalize(upsert_);
  sqlite3_finalize(delete_);
  sqlite3_finalize(set_default_);
  sqlite3_finalize(upsert_pin_);
  sqlite3_finalize(delete_pin_);
  sqlite3_close(db_);
}

void QuotaStore::fail(std::string_view what) const {
  std::string reason = db_ ? sqlite3_errmsg(db_) : "out of memory";
  throw QuotaStoreError("quota database '" + path_ + "': " + std::string(what) + ": " + reason);
}

void QuotaStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string reason = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw QuotaStoreError("quota database '" + path_ + "': " + reason + " (in: " + sql + ")");
  }
}

void QuotaStore::set(std::string_view cache_salt, uint64_t limit_bytes) {
  limit_bytes = std::min(limit_bytes, kMaxLimitBytes);
  MutexLock lock(mu_);
  sqlite3_reset(upsert_);
  sqlite3_bind_text(upsert_, 1, cache_salt.empty() ? "" : cache_salt.data(),
                    static_cast<int>(cache_salt.size()), SQLITE_STATIC);
  sqlite3_bind_int64(upsert_, 2, static_cast<sqlite3_int64>(limit_bytes));
  const int rc = sqlite3_step(upsert_);
  sqlite3_reset(upsert_);
  sqlite3_clear_bindings(upsert_);
  if (rc != SQLITE_DONE) fail("cannot write quota");
  auto it = quotas_.find(cache_salt);
  if (it != quotas_.end()) {
    it->second = limit_bytes;
  } else {
    quotas_.emplace(std::string(cache_salt), limit_bytes);
  }
}

bool QuotaStore::remove(std::string_view cache_salt) {
  MutexLock lock(mu_);
  sqlite3_reset(delete_);
  sqlite3_bind_text(delete_, 1, cache_salt.empty() ? "" : cache_salt.data(),
                    static_cast<int>(cache_salt.size()), SQLITE_STATIC);
  const int rc = sqlite3_step(delete_);
  sqlite3_reset(delete_);
  sqlite3_clear_bindings(delete_);
  if (rc != SQLITE_DONE) fail("cannot remove quota");
  auto it = quotas_.find(cache_salt);
  if (it == quotas_.end()) return false;
  quotas_.erase(it);
  return true;
}

std::optional<uint64_t> QuotaStore::get(std::string_view cache_salt) const {
  MutexLock lock(mu_);
  auto it = quotas_.find(cache_salt);
  if (it == quotas_.end()) return std::nullopt;
  return it->second;
}

QuotaMap QuotaStore::all() const {
  MutexLock lock(mu_);
  return quotas_;
}

void QuotaStore::set_default_limit(DefaultLimit limit_bytes) {
  if (limit_bytes) limit_bytes = std::min(*limit_bytes, kMaxLimitBytes);
  const std::string text = default_limit_text(limit_bytes);
  MutexLock lock(mu_);
  sqlite3_reset(set_default_);
  sqlite3_bind_text(set_default_, 1, kDefaultLimitName, -1, SQLITE_STATIC);
  sqlite3_bind_text(set_default_, 2, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  const int rc = sqlite3_step(set_default_);
  sqlite3_reset(set_default_);
  sqlite3_clear_bindings(set_default_);
  if (rc != SQLITE_DONE) fail("cannot write the default quota");
  default_limit_ = limit_bytes;
}

DefaultLimit QuotaStore::default_limit() const {
  MutexLock lock(mu_);
  return default_limit_;
}

QuotaLimits QuotaStore::limits() const {
  MutexLock lock(mu_);
  return QuotaLimits{quotas_, default_limit_};
}

std::vector<PinCount> QuotaStore::read_pins() const {
  MutexLock lock(mu_);
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT chunk_hash, model_name, kv_rank, object_group_id, cache_salt,"
                         " pin_count FROM pins",
                         -1, &select, nullptr) != SQLITE_OK) {
    fail("cannot read pins");
  }
  std::vector<PinCount> pins;
  int step;
  while ((step = sqlite3_step(select)) == SQLITE_ROW) {
    PinCount pin;
    pin.key.chunk_hash = column_text(select, 0);
    pin.key.model_name = column_text(select, 1);
    pin.key.kv_rank = static_cast<int32_t>(sqlite3_column_int64(select, 2));
    pin.key.object_group_id = static_cast<uint32_t>(sqlite3_column_int64(select, 3));
    pin.key.cache_salt = column_text(select, 4);
    pin.count = static_cast<uint64_t>(std::max<sqlite3_int64>(sqlite3_column_int64(select, 5), 1));
    pins.push_back(std::move(pin));
  }
  sqlite3_finalize(select);
  if (step != SQLITE_DONE) fail("cannot read pins");
  return pins;
}

void QuotaStore::write_pins(std::span<const PinCount> counts) {
  MutexLock lock(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    for (const PinCount& pin : counts) {
      sqlite3_stmt* statement = pin.count > 0 ? upsert_pin_ : delete_pin_;
      const ObjectKey& key = pin.key;
      sqlite3_reset(statement);
      sqlite3_bind_blob(statement, 1, key.chunk_hash.data(),
                        static_cast<int>(key.chunk_hash.size()), SQLITE_STATIC);
      sqlite3_bind_text(statement, 2, key.model_name.data(),
                        static_cast<int>(key.model_name.size()), SQLITE_STATIC);
      sqlite3_bind_int64(statement, 3, key.kv_rank);
      sqlite3_bind_int64(statement, 4, key.object_group_id);
      sqlite3_bind_text(statement, 5, key.cache_salt.data(),
                        static_cast<int>(key.cache_salt.size()), SQLITE_STATIC);
      if (pin.count > 0) {
        sqlite3_bind_int64(statement, 6,
                           static_cast<sqlite3_int64>(
                               std::min<uint64_t>(pin.count, std::numeric_limits<int64_t>::max())));
      }
      const int rc = sqlite3_step(statement);
      sqlite3_reset(statement);
      sqlite3_clear_bindings(statement);
      if (rc != SQLITE_DONE) fail("cannot write pins");
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace lmcache::core
