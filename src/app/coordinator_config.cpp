#include "app/coordinator_config.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "client/etcd_client.h"
#include "core/admin_token_file.h"
#include "core/gib.h"
#include "http/fleet_networks.h"
#include "wire/lax_number.h"

namespace lmcache::app {
namespace {

constexpr const char* kEnvPrefix = "LMCACHE_MP_COORDINATOR_";

// Thrown inside this file only: one bad setting, already phrased for the operator.
struct BadSetting {
  std::string line;
};

// Where a raw value came from, so an error can name it.
struct RawSetting {
  std::string value;
  std::string origin;  // "--port" or "env LMCACHE_MP_COORDINATOR_PORT"
};

// The API's one trim rule (wire/lax_number.h), as an owning string for strtod and strtoull.
std::string trim(std::string_view s) { return std::string(wire::trim(s)); }

[[noreturn]] void reject(const RawSetting& raw, std::string_view what, std::string_view allowed) {
  throw BadSetting{fmt::format("error: invalid value '{}' for {}: {}; allowed: {}", raw.value,
                               raw.origin, what, allowed)};
}

double parse_number(const RawSetting& raw, std::string_view allowed) {
  const std::string text = trim(raw.value);
  if (text.empty()) reject(raw, "not a number", allowed);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) {
    reject(raw, "not a finite number", allowed);
  }
  return value;
}

uint64_t parse_integer(const RawSetting& raw, std::string_view allowed) {
  const std::string text = trim(raw.value);
  if (text.empty() || text.find_first_not_of("0123456789+") != std::string::npos ||
      text.find('+', 1) != std::string::npos) {
    reject(raw, "not a whole number", allowed);
  }
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno == ERANGE) reject(raw, "too large", allowed);
  return value;
}

// A flag of the newest upstream CLI that we refuse whatever its value, saying what to use.
[[noreturn]] void refuse(const RawSetting& raw, std::string_view unsupported,
                         std::string_view instead) {
  throw BadSetting{fmt::format("error: {} '{}' is refused: {} is not supported; {}", raw.origin,
                               raw.value, unsupported, instead)};
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool parse_bool(const RawSetting& raw) {
  std::string text = trim(raw.value);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  reject(raw, "not a boolean", "true/false/1/0/yes/no (any case)");
}

// One setting: its flag (if any), its env variable and how to apply a raw value.
struct SettingSpec {
  std::string flag;  // empty for env-only settings
  std::string env;   // without the prefix
  std::string help;
  std::string default_text;
  std::function<void(CoordinatorConfig&, const RawSetting&)> apply;
  // false: a switch; the flag takes no value and means "true", its env is a boolean.
  bool takes_value = true;
};

SettingSpec switch_spec(std::string flag, std::string env, std::string help,
                        std::function<void(CoordinatorConfig&, bool)> apply) {
  SettingSpec spec{std::move(flag), std::move(env), std::move(help), "off",
                   [apply = std::move(apply)](CoordinatorConfig& c, const RawSetting& raw) {
                     apply(c, parse_bool(raw));
                   }};
  spec.takes_value = false;
  return spec;
}

// --chunk-size and --blend-chunk-size name one setting; both use this rule.
uint64_t parse_chunk_size(const RawSetting& raw) {
  const uint64_t value = parse_integer(raw, "an integer >= 1");
  if (value < 1 || value > (1U << 24)) reject(raw, "out of range", "1..16777216");
  return value;
}

// A whole number in lo..hi; `allowed` names the accepted input in a parse error.
auto bounded_integer_setting(uint64_t CoordinatorConfig::*field, uint64_t lo, uint64_t hi,
                             const char* allowed) {
  return [field, lo, hi, allowed](CoordinatorConfig& config, const RawSetting& raw) {
    const uint64_t value = parse_integer(raw, allowed);
    if (value < lo || value > hi) {
      reject(raw, "out of range", std::to_string(lo) + ".." + std::to_string(hi));
    }
    config.*field = value;
  };
}

// Seconds: a finite number; `zero_allowed` distinguishes ">= 0" from "> 0".
auto seconds_setting(double CoordinatorConfig::*field, bool zero_allowed) {
  return [field, zero_allowed](CoordinatorConfig& config, const RawSetting& raw) {
    const char* allowed = zero_allowed ? "a number of seconds >= 0" : "a number of seconds > 0";
    const double value = parse_number(raw, allowed);
    if (value < 0 || (!zero_allowed && value == 0)) reject(raw, "out of range", allowed);
    config.*field = value;
  };
}

std::vector<SettingSpec> setting_specs() {
  std::vector<SettingSpec> specs;
  specs.push_back({"--host", "HOST", "Bind address (IPv4 or IPv6)", "0.0.0.0",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     const std::string host = trim(raw.value);
                     if (host.empty()) reject(raw, "empty", "an IPv4 or IPv6 address");
                     c.host = host;
                   }});
  specs.push_back({"--port", "PORT", "TCP port; 0 picks a free port", "9300",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     const uint64_t port = parse_integer(raw, "0..65535");
                     if (port > 65535) reject(raw, "out of range", "0..65535");
                     c.port = static_cast<uint16_t>(port);
                   }});
  specs.push_back({"--instance-timeout", "INSTANCE_TIMEOUT",
                   "Seconds without heartbeat before an instance is dropped", "30",
                   seconds_setting(&CoordinatorConfig::instance_timeout_s, false)});
  specs.push_back({"--health-check-interval", "HEALTH_CHECK_INTERVAL",
                   "Seconds between health sweeps; 0 disables them", "10",
                   seconds_setting(&CoordinatorConfig::health_check_interval_s, true)});
  specs.push_back({"--eviction-check-interval", "EVICTION_CHECK_INTERVAL",
                   "Seconds between quota eviction sweeps; 0 disables them", "5",
                   seconds_setting(&CoordinatorConfig::eviction_check_interval_s, true)});
  specs.push_back({"--eviction-ratio", "EVICTION_RATIO",
                   "Fraction of an over-quota salt's keys evicted per sweep", "0.2",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     const double value = parse_number(raw, "0.0..1.0");
                     if (value < 0.0 || value > 1.0) reject(raw, "out of range", "0.0..1.0");
                     c.eviction_ratio = value;
                   }});
  specs.push_back({"--trigger-watermark", "TRIGGER_WATERMARK",
                   "A salt is over quota when usage >= watermark * limit", "1.0",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     const double value = parse_number(raw, "(0.0, 1.0]");
                     if (value <= 0.0 || value > 1.0) reject(raw, "out of range", "(0.0, 1.0]");
                     c.trigger_watermark = value;
                   }});
  specs.push_back({"--blend-chunk-size", "BLEND_CHUNK_SIZE",
                   "Tokens per CacheBlend chunk; must equal the servers' chunk size", "256",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     c.blend_chunk_size = parse_chunk_size(raw);
                   }});
  specs.push_back({"--chunk-size", "CHUNK_SIZE",
                   "Same setting as --blend-chunk-size (the newest upstream's name); if both "
                   "are given they must agree",
                   "256", [](CoordinatorConfig& c, const RawSetting& raw) {
                     c.blend_chunk_size = parse_chunk_size(raw);
                   }});
  specs.push_back({"--blend-probe-stride", "BLEND_PROBE_STRIDE",
                   "Match probes start at multiples of this many tokens", "1",
                   bounded_integer_setting(&CoordinatorConfig::blend_probe_stride, 1, 1U << 24,
                                           "an integer >= 1")});
  specs.push_back({"--timeout-keep-alive", "TIMEOUT_KEEP_ALIVE",
                   "Seconds an idle keep-alive connection stays open", "10",
                   seconds_setting(&CoordinatorConfig::timeout_keep_alive_s, false)});
  specs.push_back({"--state-path", "STATE_PATH",
                   "SQLite file that keeps quotas across restarts; ':memory:' for none",
                   "lmcache-coordinator.db", [](CoordinatorConfig& c, const RawSetting& raw) {
                     if (raw.value.empty()) reject(raw, "empty", "a file path or ':memory:'");
                     c.state_path = raw.value;
                   }});
  specs.push_back({"--default-quota-gb", "DEFAULT_QUOTA_GB",
                   "GiB each salt without a quota may keep while the state file sets no default "
                   "(PUT /quota/config); 'none': never evicted, 0: nothing",
                   "0", [](CoordinatorConfig& c, const RawSetting& raw) {
                     constexpr const char* kAllowed = "'none' or a number of GiB >= 0";
                     std::string text = trim(raw.value);
                     for (char& ch : text) {
                       ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                     }
                     if (text == "none") {
                       c.default_quota_bytes = std::nullopt;
                       return;
                     }
                     const double gib = parse_number(raw, kAllowed);
                     if (gib < 0) reject(raw, "out of range", kAllowed);
                     const auto bytes = core::gib_to_bytes(gib);
                     if (!bytes) {
                       reject(raw, "too large (the byte count must fit in 63 bits)", kAllowed);
                     }
                     c.default_quota_bytes = *bytes;
                   }});
  specs.push_back({"--log-level", "LOG_LEVEL", "Log level", "info",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     std::string level = trim(raw.value);
                     for (char& ch : level) {
                       ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                     }
                     static const char* kLevels[] = {"trace", "debug", "info",     "warning",
                                                     "warn",  "error", "critical", "off"};
                     for (const char* known : kLevels) {
                       if (level == known) {
                         c.log_level = level == "warning" ? "warn" : level;
                         return;
                       }
                     }
                     reject(raw, "unknown level",
                            "trace, debug, info, warning, error, critical, off");
                   }});
  specs.push_back({"--hash-algorithm", "HASH_ALGORITHM", "Token chunk hash; only blake3", "blake3",
                   [](CoordinatorConfig&, const RawSetting& raw) {
                     if (lowercase(trim(raw.value)) != "blake3") {
                       reject(raw, "only blake3 is supported", "blake3");
                     }
                   }});
  specs.push_back(
      switch_spec("--enable-blend-lookup", "ENABLE_BLEND_LOOKUP",
                  "Accepted for the newest upstream CLI; blend lookup is always on here",
                  [](CoordinatorConfig& c, bool value) { c.enable_blend_lookup = value; }));
  specs.push_back(
      {"--checkpoint-path", "CHECKPOINT_PATH",
       "Checkpoint file of derived state (not written yet); empty: none", "none",
       [](CoordinatorConfig& c, const RawSetting& raw) { c.checkpoint_path = raw.value; }});
  specs.push_back({"--checkpoint-interval", "CHECKPOINT_INTERVAL",
                   "Seconds between checkpoints; 0: only at a clean stop", "60",
                   seconds_setting(&CoordinatorConfig::checkpoint_interval_s, true)});
  specs.push_back(switch_spec("--disable-metrics", "DISABLE_METRICS",
                              "Do not serve GET /metrics (it answers 404)",
                              [](CoordinatorConfig& c, bool value) { c.disable_metrics = value; }));
  specs.push_back({"--event-transport", "EVENT_TRANSPORT",
                   "How MP servers send cache events; only http (POST /events)", "http",
                   [](CoordinatorConfig&, const RawSetting& raw) {
                     const std::string transport = lowercase(trim(raw.value));
                     if (transport == "kafka") {
                       refuse(raw, "Kafka transport", "post events over HTTP (POST /events)");
                     }
                     if (transport != "http") reject(raw, "unknown transport", "http");
                   }});
  specs.push_back({"--otlp-endpoint", "OTLP_ENDPOINT",
                   "Refused (exit 2): scrape GET /metrics instead", "unset",
                   [](CoordinatorConfig&, const RawSetting& raw) {
                     refuse(raw, "OTLP export", "scrape GET /metrics instead");
                   }});
  specs.push_back({"--metadata-path", "METADATA_PATH",
                   "Refused (exit 2): quotas, defaults and pins live in --state-path", "unset",
                   [](CoordinatorConfig&, const RawSetting& raw) {
                     refuse(raw, "a metadata file",
                            "quotas, defaults and pins live in the SQLite file of --state-path");
                   }});
  specs.push_back({"--extra-config", "EXTRA_CONFIG", "Refused (exit 2): pass flags instead",
                   "unset", [](CoordinatorConfig&, const RawSetting& raw) {
                     refuse(raw, "extra config", "pass flags instead");
                   }});
  specs.push_back(
      {"", "ENABLE_STARTUP_RESYNC", "", "true", [](CoordinatorConfig& c, const RawSetting& raw) {
         c.enable_startup_resync = parse_bool(raw);
       }});
  specs.push_back({"", "RESYNC_POLL_INTERVAL", "", "1",
                   seconds_setting(&CoordinatorConfig::resync_poll_interval_s, false)});
  specs.push_back({"", "RESYNC_MAX_WAIT", "", "60",
                   seconds_setting(&CoordinatorConfig::resync_max_wait_s, true)});
  specs.push_back({"", "RESYNC_PAGE_SIZE", "", "1000",
                   bounded_integer_setting(&CoordinatorConfig::resync_page_size, 1, 1000000,
                                           "an integer >= 1")});
  specs.push_back({"--admin-token-file", "ADMIN_TOKEN_FILE",
                   "File of operator bearer tokens, one per line (re-read on SIGHUP); quota, pin "
                   "and cache-delete routes then need 'Authorization: Bearer <token>'",
                   "none", [](CoordinatorConfig& c, const RawSetting& raw) {
                     // Read now, so a missing or empty file stops start-up with exit 2.
                     const core::AdminTokenFile file = core::read_admin_token_file(raw.value);
                     if (!file.error.empty()) {
                       throw BadSetting{fmt::format("error: {}: {}", raw.origin, file.error)};
                     }
                     c.admin_token_file = raw.value;
                   }});
  specs.push_back(switch_spec(
      "--protect-reads", "PROTECT_READS",
      "Tenant-revealing reads (/l2/status, GET /quota, /directory, /metrics, /instances/usage) "
      "need an operator token too; needs --admin-token-file",
      [](CoordinatorConfig& c, bool value) { c.protect_reads = value; }));
  specs.push_back({"--fleet-cidr", "FLEET_CIDR",
                   "CIDR[,CIDR...]: MP-server routes (register, heartbeat, events, blend, "
                   "prefetch) answer only these networks, others get 403",
                   "any", [](CoordinatorConfig& c, const RawSetting& raw) {
                     std::string error;
                     if (!http::FleetNetworks::parse(raw.value, error)) {
                       reject(raw, error, "IPv4 or IPv6 networks such as 10.0.0.0/8,fd00::/8");
                     }
                     c.fleet_cidr = raw.value;
                   }});
  // HA mode (etcd leadership); see app/leader_election.h.
  specs.push_back({"--etcd-endpoints", "ETCD_ENDPOINTS",
                   "etcd client URLs (http://host:port[,...]); turns HA mode on", "unset",
                   [](CoordinatorConfig& c, const RawSetting& raw) {
                     std::string why;
                     if (!client::EtcdClient::parse_endpoints(raw.value, &why)) {
                       reject(raw, why, "http://host:port[,http://host:port...]");
                     }
                     c.etcd_endpoints = trim(raw.value);
                   }});
  specs.push_back({"--etcd-prefix", "ETCD_PREFIX", "Key prefix of this cluster in etcd",
                   "/lmcache-coordinator/", [](CoordinatorConfig& c, const RawSetting& raw) {
                     const std::string prefix = trim(raw.value);
                     if (prefix.empty()) reject(raw, "empty", "a non-empty key prefix");
                     c.etcd_prefix = prefix;
                   }});
  specs.push_back({"--advertise-url", "ADVERTISE_URL",
                   "How other coordinators and clients reach this one (HA mode)",
                   "http://HOST:PORT", [](CoordinatorConfig& c, const RawSetting& raw) {
                     const std::string url = trim(raw.value);
                     std::string why;
                     if (!url.starts_with("http://") ||
                         !client::EtcdClient::parse_endpoints(url, &why) ||
                         url.find(',') != std::string::npos) {
                       reject(raw, "not an http://host:port URL", "http://host:port");
                     }
                     c.advertise_url = url;
                   }});
  specs.push_back({"--leader-lease", "LEADER_LEASE",
                   "Seconds of the leader's etcd lease: a dead leader is replaced after about "
                   "this long",
                   "5",
                   bounded_integer_setting(&CoordinatorConfig::leader_lease_s, 1, 3600,
                                           "whole seconds 1..3600")});
  // HTTPS. Whether the files can be used is checked when the server starts (also exit 2).
  auto pem_path = [](std::string CoordinatorConfig::*field) {
    return [field](CoordinatorConfig& c, const RawSetting& raw) {
      if (raw.value.empty()) reject(raw, "empty", "the path of a PEM file");
      c.*field = raw.value;
    };
  };
  specs.push_back({"--tls-cert", "TLS_CERT",
                   "PEM certificate chain: serve HTTPS (TLS 1.2+) instead of HTTP; needs "
                   "--tls-key; re-read on SIGHUP",
                   "none", pem_path(&CoordinatorConfig::tls_cert)});
  specs.push_back({"--tls-key", "TLS_KEY", "PEM private key of --tls-cert; re-read on SIGHUP",
                   "none", pem_path(&CoordinatorConfig::tls_key)});
  specs.push_back({"--tls-client-ca", "TLS_CLIENT_CA",
                   "PEM CA bundle: require client certificates signed by it (mTLS); needs "
                   "--tls-cert; re-read on SIGHUP",
                   "none", pem_path(&CoordinatorConfig::tls_client_ca)});
  specs.push_back({"--replication-log-mb", "REPLICATION_LOG_MB",
                   "MiB of recent mutations the HA leader keeps for followers to replay; a "
                   "follower further behind has a gap",
                   "256",
                   bounded_integer_setting(&CoordinatorConfig::replication_log_mb, 1, 65536,
                                           "whole MiB 1..65536")});
  specs.push_back({"--token-chain-cache-mb", "TOKEN_CHAIN_CACHE_MB",
                   "MiB of recently hashed token-chain links kept, so a prompt prefix seen before "
                   "is not hashed again by lookups, pins, deletes and prefetches by token_ids; 0 "
                   "turns it off",
                   "64",
                   bounded_integer_setting(&CoordinatorConfig::token_chain_cache_mb, 0, 65536,
                                           "whole MiB 0..65536")});
  return specs;
}

// Cert and key come together; a client CA only with both.
void check_tls_files_complete(const std::vector<SettingSpec>& specs,
                              const std::vector<std::optional<RawSetting>>& given) {
  auto origin = [&](const char* flag) -> const RawSetting* {
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].flag == flag && given[i]) return &*given[i];
    }
    return nullptr;
  };
  const RawSetting* cert = origin("--tls-cert");
  const RawSetting* key = origin("--tls-key");
  const RawSetting* client_ca = origin("--tls-client-ca");
  if (cert != nullptr && key == nullptr) {
    throw BadSetting{fmt::format("error: {} '{}' needs --tls-key (env {}TLS_KEY) as well",
                                 cert->origin, cert->value, kEnvPrefix)};
  }
  if (key != nullptr && cert == nullptr) {
    throw BadSetting{fmt::format("error: {} '{}' needs --tls-cert (env {}TLS_CERT) as well",
                                 key->origin, key->value, kEnvPrefix)};
  }
  if (client_ca != nullptr && cert == nullptr) {
    throw BadSetting{fmt::format(
        "error: {} '{}' needs --tls-cert and --tls-key: client certificates are checked only "
        "over HTTPS",
        client_ca->origin, client_ca->value)};
  }
}

// --chunk-size and --blend-chunk-size, each from its flag or env, must not disagree.
void check_chunk_sizes_agree(const std::vector<SettingSpec>& specs,
                             const std::vector<std::optional<RawSetting>>& given) {
  const RawSetting* blend = nullptr;
  const RawSetting* chunk = nullptr;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!given[i]) continue;
    if (specs[i].flag == "--blend-chunk-size") blend = &*given[i];
    if (specs[i].flag == "--chunk-size") chunk = &*given[i];
  }
  if (blend == nullptr || chunk == nullptr) return;
  if (parse_chunk_size(*blend) == parse_chunk_size(*chunk)) return;
  throw BadSetting{fmt::format(
      "error: conflicting chunk sizes: {} '{}' and {} '{}' name the same setting; give one, or "
      "the same value",
      chunk->origin, chunk->value, blend->origin, blend->value)};
}

std::string env_only_help(const std::vector<SettingSpec>& specs) {
  std::string text =
      "\nEnvironment: every flag also reads " + std::string(kEnvPrefix) +
      "<NAME> (shown in brackets above); a flag wins over its variable.\nEnv-only startup resync "
      "settings:\n";
  for (const auto& spec : specs) {
    if (!spec.flag.empty()) continue;
    text += fmt::format("  {}{} (default {})\n", kEnvPrefix, spec.env, spec.default_text);
  }
  return text;
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value =
        std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read at start-up
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<ConfigNotice> config_notices(const CoordinatorConfig& config) {
  std::vector<ConfigNotice> notices;
  if (config.enable_blend_lookup) {
    notices.push_back(
        {ConfigNotice::Level::kInfo,
         fmt::format("enable-blend-lookup={} accepted: blend lookup is always on in this "
                     "coordinator",
                     *config.enable_blend_lookup)});
  }
  return notices;
}

void log_config_notices(const CoordinatorConfig& config) {
  for (const auto& notice : config_notices(config)) {
    spdlog::log(
        notice.level == ConfigNotice::Level::kWarning ? spdlog::level::warn : spdlog::level::info,
        notice.text);
  }
}

ConfigOutcome parse_coordinator_command_line(int argc, const char* const* argv,
                                             const EnvLookup& env) {
  const std::vector<SettingSpec> specs = setting_specs();
  CLI::App app{"LMCache multi-process mode tools", "lmcache"};
  app.require_subcommand(1);
  CLI::App* coordinator =
      app.add_subcommand("coordinator", "Run the LMCache MP coordinator (HTTP service)");
  coordinator->footer(env_only_help(specs));

  std::vector<std::optional<std::string>> flag_values(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    if (spec.flag.empty()) continue;
    std::string description = fmt::format("{} [env {}{}] (default {})", spec.help, kEnvPrefix,
                                          spec.env, spec.default_text);
    if (!spec.takes_value) {
      auto* option = coordinator->add_flag_callback(
          spec.flag, [&flag_values, i] { flag_values[i] = "true"; }, description);
      option->disable_flag_override();  // `--disable-metrics=false` is an error, not a no-op
      continue;
    }
    auto* option = coordinator->add_option_function<std::string>(
        spec.flag, [&flag_values, i](const std::string& value) { flag_values[i] = value; },
        description);
    option->type_name("VALUE");
    option->allow_extra_args(false);
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: last wins
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ConfigExit{0, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return ConfigExit{0, app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::ParseError& error) {
    return ConfigExit{
        2, fmt::format("error: {}\nRun 'lmcache coordinator --help' for usage.", error.what())};
  }

  CoordinatorConfig config;
  std::vector<std::optional<RawSetting>> given(specs.size());  // after flag > env
  try {
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& spec = specs[i];
      const std::string env_name = kEnvPrefix + spec.env;
      if (flag_values[i]) {
        given[i] = RawSetting{*flag_values[i], spec.flag};
      } else if (auto value = env(env_name)) {
        given[i] = RawSetting{*value, "env " + env_name};
      }
      if (given[i]) spec.apply(config, *given[i]);
    }
    check_chunk_sizes_agree(specs, given);
    if (config.protect_reads && config.admin_token_file.empty()) {
      throw BadSetting{
          "error: --protect-reads needs --admin-token-file (the tokens that may read)"};
    }
    check_tls_files_complete(specs, given);
  } catch (const BadSetting& bad) {
    return ConfigExit{2, bad.line};
  }
  return config;
}

}  // namespace lmcache::app
