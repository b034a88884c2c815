#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace lmcache::app {

// Every setting of `lmcache coordinator`, after flags, environment and defaults
// have been merged (precedence: flag > env > default) and validated.
struct CoordinatorConfig {
  std::string host = "0.0.0.0";
  uint16_t port = 9300;
  double instance_timeout_s = 30.0;
  double health_check_interval_s = 10.0;   // 0 disables the health sweep
  double eviction_check_interval_s = 5.0;  // 0 disables the eviction loop
  double eviction_ratio = 0.2;
  double trigger_watermark = 1.0;
  uint64_t blend_chunk_size = 256;  // also --chunk-size, the newest upstream's name
  uint64_t blend_probe_stride = 1;
  double timeout_keep_alive_s = 10.0;
  std::string state_path = "lmcache-coordinator.db";  // ":memory:" keeps quotas in memory only
  // The default limit of salts without a quota while the state file stores none: bytes, or
  // nullopt ("none") when such salts are never evicted. 0 is the seed-era allowlist.
  std::optional<uint64_t> default_quota_bytes = 0;
  std::string log_level = "info";
  // Flags of the newest upstream CLI. --hash-algorithm (blake3 only) and
  // --event-transport (http only) are validated but leave nothing to store.
  std::optional<bool> enable_blend_lookup;  // as given; blend lookup is always on here
  std::string checkpoint_path;              // empty: no checkpoint
  double checkpoint_interval_s = 60.0;      // 0: only at a clean stop
  bool disable_metrics = false;             // true: GET /metrics is not routed (404)
  // Env-only startup-resync knobs.
  bool enable_startup_resync = true;
  double resync_poll_interval_s = 1.0;
  double resync_max_wait_s = 60.0;
  uint64_t resync_page_size = 1000;
  // Access control (README, "Access control").
  std::string admin_token_file;  // empty: operator routes need no token
  bool protect_reads = false;    // tenant-revealing reads need a token too (needs the file)
  std::string fleet_cidr;        // empty: fleet routes answer any address; else a valid list
  // HA mode: on when etcd_endpoints is set (validated "http://host:port[,...]").
  std::string etcd_endpoints;
  std::string etcd_prefix = "/lmcache-coordinator/";
  std::string advertise_url;    // empty: http://HOST:PORT with the bound port
  uint64_t leader_lease_s = 5;  // 1..3600
  bool ha() const { return !etcd_endpoints.empty(); }
  // HTTPS: PEM files; cert and key are given together or not at all (empty: plain HTTP). A
  // client CA requires and verifies client certificates (mTLS) and needs cert and key.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // HA mode: the leader keeps its recent accepted mutations for followers to replay, up to this
  // many MiB of bodies (app/replication_follower.h).
  uint64_t replication_log_mb = 256;   // 1..65536
  uint64_t token_chain_cache_mb = 64;  // 0..65536; 0: no ChainLinkCache
};

// What the command line asked for: run with a config, or exit now with a code
// (0 after --help, 2 after a bad flag or value) and the text to print.
struct ConfigExit {
  int code = 0;
  std::string message;  // printed to stdout when code is 0, to stderr otherwise
};
using ConfigOutcome = std::variant<CoordinatorConfig, ConfigExit>;

// Reads one environment variable; std::nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment, for main().
EnvLookup process_environment();

// A start-up line about a setting that is accepted but changes nothing (yet).
struct ConfigNotice {
  enum class Level { kInfo, kWarning };
  Level level = Level::kInfo;
  std::string text;
};

// The notices `config` calls for, in a fixed order; empty for the defaults.
std::vector<ConfigNotice> config_notices(const CoordinatorConfig& config);

// Logs config_notices(config) through the default spdlog logger.
void log_config_notices(const CoordinatorConfig& config);

// Parses `lmcache coordinator [options]` (argv[0] is the program name).
// Every invalid flag or env value yields code 2 and one line naming the flag
// or variable, the bad value and the allowed range; so does a refused upstream
// flag (the line says what to use instead), --chunk-size disagreeing with
// --blend-chunk-size (the line names both) and a TLS file without its partner
// (--tls-cert without --tls-key or the reverse, --tls-client-ca without both).
// Whether the TLS files can be used is checked when the server starts.
ConfigOutcome parse_coordinator_command_line(int argc, const char* const* argv,
                                             const EnvLookup& env);

}  // namespace lmcache::app
