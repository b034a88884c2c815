#include "app/coordinator_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

namespace lmcache::app {
namespace {

ConfigOutcome parse(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {}) {
  std::vector<const char*> argv = {"lmcache", "coordinator"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  EnvLookup lookup = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parse_coordinator_command_line(static_cast<int>(argv.size()), argv.data(), lookup);
}

CoordinatorConfig parse_ok(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {}) {
  auto outcome = parse(args, env);
  if (auto* exit = std::get_if<ConfigExit>(&outcome)) {
    ADD_FAILURE() << "unexpected exit: " << exit->message;
    return {};
  }
  return std::get<CoordinatorConfig>(outcome);
}

ConfigExit parse_exit(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {}) {
  auto outcome = parse(args, env);
  if (auto* exit = std::get_if<ConfigExit>(&outcome)) return *exit;
  ADD_FAILURE() << "expected an exit";
  return {};
}

TEST(CoordinatorConfigTest, Defaults) {
  const auto config = parse_ok({});
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 9300);
  EXPECT_EQ(config.instance_timeout_s, 30.0);
  EXPECT_EQ(config.health_check_interval_s, 10.0);
  EXPECT_EQ(config.eviction_check_interval_s, 5.0);
  EXPECT_EQ(config.eviction_ratio, 0.2);
  EXPECT_EQ(config.trigger_watermark, 1.0);
  EXPECT_EQ(config.blend_chunk_size, 256U);
  EXPECT_EQ(config.blend_probe_stride, 1U);
  EXPECT_EQ(config.timeout_keep_alive_s, 10.0);
  EXPECT_EQ(config.state_path, "lmcache-coordinator.db");
  EXPECT_TRUE(config.enable_startup_resync);
  EXPECT_EQ(config.resync_poll_interval_s, 1.0);
  EXPECT_EQ(config.resync_max_wait_s, 60.0);
  EXPECT_EQ(config.resync_page_size, 1000U);
}

TEST(CoordinatorConfigTest, FlagBeatsEnvBeatsDefault) {
  const auto config = parse_ok(
      {"--port", "1234"},
      {{"LMCACHE_MP_COORDINATOR_PORT", "999"}, {"LMCACHE_MP_COORDINATOR_EVICTION_RATIO", "0.5"}});
  EXPECT_EQ(config.port, 1234);
  EXPECT_EQ(config.eviction_ratio, 0.5);
}

TEST(CoordinatorConfigTest, FractionalSecondsAndZeroIntervals) {
  const auto config = parse_ok({"--instance-timeout", "0.25", "--health-check-interval", "0",
                                "--eviction-check-interval", "0", "--timeout-keep-alive", "1.5"});
  EXPECT_EQ(config.instance_timeout_s, 0.25);
  EXPECT_EQ(config.health_check_interval_s, 0.0);
  EXPECT_EQ(config.eviction_check_interval_s, 0.0);
  EXPECT_EQ(config.timeout_keep_alive_s, 1.5);
}

TEST(CoordinatorConfigTest, ResyncBooleansAcceptEveryDocumentedSpelling) {
  for (const char* yes : {"true", "TRUE", "1", "yes", "Yes"}) {
    EXPECT_TRUE(parse_ok({}, {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", yes}})
                    .enable_startup_resync);
  }
  for (const char* no : {"false", "False", "0", "no", "NO"}) {
    EXPECT_FALSE(
        parse_ok({}, {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", no}}).enable_startup_resync);
  }
}

TEST(CoordinatorConfigTest, RangeBoundaries) {
  EXPECT_EQ(parse_ok({"--port", "0"}).port, 0);
  EXPECT_EQ(parse_ok({"--port", "65535"}).port, 65535);
  EXPECT_EQ(parse_ok({"--eviction-ratio", "0"}).eviction_ratio, 0.0);
  EXPECT_EQ(parse_ok({"--eviction-ratio", "1"}).eviction_ratio, 1.0);
  EXPECT_EQ(parse_ok({"--trigger-watermark", "1.0"}).trigger_watermark, 1.0);
  EXPECT_EQ(parse_exit({"--trigger-watermark", "1.01"}).code, 2);
  EXPECT_EQ(parse_exit({"--trigger-watermark", "0.0"}).code, 2);
  EXPECT_EQ(parse_exit({"--port", "-1"}).code, 2);
  EXPECT_EQ(parse_exit({"--port", "80.5"}).code, 2);
  EXPECT_EQ(parse_exit({"--blend-chunk-size", "0"}).code, 2);
  EXPECT_EQ(parse_exit({"--instance-timeout", "inf"}).code, 2);
}

TEST(CoordinatorConfigTest, ErrorNamesFlagValueAndRange) {
  const auto exit = parse_exit({"--eviction-ratio", "2"});
  EXPECT_EQ(exit.code, 2);
  EXPECT_NE(exit.message.find("--eviction-ratio"), std::string::npos);
  EXPECT_NE(exit.message.find("'2'"), std::string::npos);
  EXPECT_NE(exit.message.find("0.0..1.0"), std::string::npos);
  EXPECT_EQ(exit.message.find('\n'), std::string::npos);

  const auto env_exit = parse_exit({}, {{"LMCACHE_MP_COORDINATOR_HEALTH_CHECK_INTERVAL", "soon"}});
  EXPECT_EQ(env_exit.code, 2);
  EXPECT_NE(env_exit.message.find("LMCACHE_MP_COORDINATOR_HEALTH_CHECK_INTERVAL"),
            std::string::npos);
  EXPECT_NE(env_exit.message.find("'soon'"), std::string::npos);
}

TEST(CoordinatorConfigTest, DefaultQuotaIsNoneZeroOrGib) {
  EXPECT_EQ(parse_ok({}).default_quota_bytes, 0u);  // the seed-era allowlist
  EXPECT_EQ(parse_ok({"--default-quota-gb", "none"}).default_quota_bytes, std::nullopt);
  EXPECT_EQ(parse_ok({"--default-quota-gb", " None "}).default_quota_bytes, std::nullopt);
  EXPECT_EQ(parse_ok({"--default-quota-gb", "0"}).default_quota_bytes, 0u);
  EXPECT_EQ(parse_ok({"--default-quota-gb", "2.5"}).default_quota_bytes, uint64_t{5} << 29);
  EXPECT_EQ(parse_ok({}, {{"LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB", "none"}}).default_quota_bytes,
            std::nullopt);
  EXPECT_EQ(
      parse_ok({"--default-quota-gb", "1"}, {{"LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB", "none"}})
          .default_quota_bytes,
      uint64_t{1} << 30);
  for (const char* bad : {"-1", "null", "", "nan", "inf", "1e10"}) {
    const auto exit = parse_exit({"--default-quota-gb", bad});
    EXPECT_EQ(exit.code, 2) << bad;
    EXPECT_NE(exit.message.find("--default-quota-gb"), std::string::npos) << exit.message;
    EXPECT_NE(exit.message.find("'none' or a number of GiB >= 0"), std::string::npos)
        << exit.message;
    EXPECT_EQ(exit.message.find('\n'), std::string::npos);
  }
  const auto env_exit = parse_exit({}, {{"LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB", "lots"}});
  EXPECT_EQ(env_exit.code, 2);
  EXPECT_NE(env_exit.message.find("LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB"), std::string::npos);
}

TEST(CoordinatorConfigTest, TokenChainCacheSizeIsWholeMibFromZero) {
  EXPECT_EQ(parse_ok({}).token_chain_cache_mb, 64u);
  EXPECT_EQ(parse_ok({"--token-chain-cache-mb", "0"}).token_chain_cache_mb, 0u);
  EXPECT_EQ(
      parse_ok({}, {{"LMCACHE_MP_COORDINATOR_TOKEN_CHAIN_CACHE_MB", "512"}}).token_chain_cache_mb,
      512u);
  for (const char* bad : {"-1", "65537", "1.5", "lots"}) {
    const auto exit = parse_exit({"--token-chain-cache-mb", bad});
    EXPECT_EQ(exit.code, 2) << bad;
    EXPECT_NE(exit.message.find("--token-chain-cache-mb"), std::string::npos) << exit.message;
  }
}

TEST(CoordinatorConfigTest, HelpExitsZero) {
  const auto exit = parse_exit({"--help"});
  EXPECT_EQ(exit.code, 0);
  EXPECT_NE(exit.message.find("--blend-probe-stride"), std::string::npos);
}

TEST(CoordinatorConfigTest, RepeatedFlagTakesTheLastValue) {
  EXPECT_EQ(parse_ok({"--port", "1", "--port", "2"}).port, 2);
  EXPECT_EQ(parse_ok({"--state-path", ":memory:", "--state-path", "/tmp/x.db"}).state_path,
            "/tmp/x.db");
}

}  // namespace
}  // namespace lmcache::app

// Flags of the newest upstream CLI (protocol-v2.md Part A item 11).
namespace lmcache::app {
namespace {

constexpr const char* kEnv = "LMCACHE_MP_COORDINATOR_";

std::string env_name(const std::string& name) { return kEnv + name; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(UpstreamFlagsTest, DefaultsLeaveEveryNewSettingOff) {
  const auto config = parse_ok({});
  EXPECT_EQ(config.enable_blend_lookup, std::nullopt);
  EXPECT_EQ(config.checkpoint_path, "");
  EXPECT_EQ(config.checkpoint_interval_s, 60.0);
  EXPECT_FALSE(config.disable_metrics);
  EXPECT_TRUE(config_notices(config).empty());
}

TEST(UpstreamFlagsTest, ChunkSizeIsTheBlendChunkSizeByFlagOrEnv) {
  EXPECT_EQ(parse_ok({"--chunk-size", "512"}).blend_chunk_size, 512U);
  EXPECT_EQ(parse_ok({}, {{env_name("CHUNK_SIZE"), "128"}}).blend_chunk_size, 128U);
  EXPECT_EQ(parse_ok({"--chunk-size", "64"}, {{env_name("CHUNK_SIZE"), "128"}}).blend_chunk_size,
            64U);
  // Given twice with the same value (any spelling of it) is fine.
  EXPECT_EQ(parse_ok({"--chunk-size", "512", "--blend-chunk-size", "0512"}).blend_chunk_size, 512U);
  EXPECT_EQ(
      parse_ok({"--chunk-size", "32"}, {{env_name("BLEND_CHUNK_SIZE"), "32"}}).blend_chunk_size,
      32U);
  const auto bad = parse_exit({"--chunk-size", "0"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.message, "--chunk-size")) << bad.message;
  EXPECT_TRUE(contains(bad.message, "1..16777216")) << bad.message;
}

TEST(UpstreamFlagsTest, DisagreeingChunkSizesExitNamingBoth) {
  const auto flags = parse_exit({"--chunk-size", "512", "--blend-chunk-size", "256"});
  EXPECT_EQ(flags.code, 2);
  EXPECT_TRUE(contains(flags.message, "--chunk-size '512'")) << flags.message;
  EXPECT_TRUE(contains(flags.message, "--blend-chunk-size '256'")) << flags.message;
  EXPECT_FALSE(contains(flags.message, "\n"));

  const auto mixed = parse_exit({"--blend-chunk-size", "256"}, {{env_name("CHUNK_SIZE"), "512"}});
  EXPECT_EQ(mixed.code, 2);
  EXPECT_TRUE(contains(mixed.message, "env LMCACHE_MP_COORDINATOR_CHUNK_SIZE '512'"))
      << mixed.message;
  EXPECT_TRUE(contains(mixed.message, "--blend-chunk-size '256'")) << mixed.message;

  const auto envs =
      parse_exit({}, {{env_name("CHUNK_SIZE"), "512"}, {env_name("BLEND_CHUNK_SIZE"), "1024"}});
  EXPECT_EQ(envs.code, 2);
  EXPECT_TRUE(contains(envs.message, "LMCACHE_MP_COORDINATOR_BLEND_CHUNK_SIZE")) << envs.message;

  // The flag of one setting hides its own env, so only the flags are compared.
  EXPECT_EQ(parse_ok({"--chunk-size", "64", "--blend-chunk-size", "64"},
                     {{env_name("CHUNK_SIZE"), "512"}, {env_name("BLEND_CHUNK_SIZE"), "1024"}})
                .blend_chunk_size,
            64U);
}

TEST(UpstreamFlagsTest, HashAlgorithmIsBlake3Only) {
  parse_ok({"--hash-algorithm", "blake3"});
  parse_ok({"--hash-algorithm", " BLAKE3 "});
  parse_ok({}, {{env_name("HASH_ALGORITHM"), "blake3"}});
  for (const char* other : {"sha256", "", "builtin"}) {
    const auto exit = parse_exit({"--hash-algorithm", other});
    EXPECT_EQ(exit.code, 2) << other;
    EXPECT_TRUE(contains(exit.message, "--hash-algorithm")) << exit.message;
    EXPECT_TRUE(contains(exit.message, "only blake3 is supported")) << exit.message;
  }
  const auto env_exit = parse_exit({}, {{env_name("HASH_ALGORITHM"), "xxhash"}});
  EXPECT_EQ(env_exit.code, 2);
  EXPECT_TRUE(contains(env_exit.message, "LMCACHE_MP_COORDINATOR_HASH_ALGORITHM"));
  EXPECT_TRUE(contains(env_exit.message, "'xxhash'"));
}

TEST(UpstreamFlagsTest, EnableBlendLookupIsAcceptedAndLoggedOnce) {
  const auto flag = parse_ok({"--enable-blend-lookup"});
  EXPECT_EQ(flag.enable_blend_lookup, true);
  const auto notices = config_notices(flag);
  ASSERT_EQ(notices.size(), 1U);
  EXPECT_EQ(notices[0].level, ConfigNotice::Level::kInfo);
  EXPECT_TRUE(contains(notices[0].text, "blend lookup is always on")) << notices[0].text;

  EXPECT_EQ(parse_ok({}, {{env_name("ENABLE_BLEND_LOOKUP"), "Yes"}}).enable_blend_lookup, true);
  EXPECT_EQ(parse_ok({}, {{env_name("ENABLE_BLEND_LOOKUP"), "0"}}).enable_blend_lookup, false);
  // The flag (a switch) wins over its env.
  EXPECT_EQ(parse_ok({"--enable-blend-lookup"}, {{env_name("ENABLE_BLEND_LOOKUP"), "false"}})
                .enable_blend_lookup,
            true);
  const auto bad = parse_exit({}, {{env_name("ENABLE_BLEND_LOOKUP"), "maybe"}});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.message, "LMCACHE_MP_COORDINATOR_ENABLE_BLEND_LOOKUP"));
  EXPECT_TRUE(contains(bad.message, "true/false/1/0/yes/no"));
}

TEST(UpstreamFlagsTest, SwitchesTakeNoValue) {
  EXPECT_EQ(parse_exit({"--disable-metrics=false"}).code, 2);
  EXPECT_EQ(parse_exit({"--enable-blend-lookup=no"}).code, 2);
  // A following word is not swallowed as the switch's value.
  EXPECT_EQ(parse_exit({"--disable-metrics", "false"}).code, 2);
}

TEST(UpstreamFlagsTest, CheckpointPathAndIntervalAreValidated) {
  const auto config =
      parse_ok({"--checkpoint-path", "/var/lib/ckpt.bin", "--checkpoint-interval", "0"});
  EXPECT_EQ(config.checkpoint_path, "/var/lib/ckpt.bin");
  EXPECT_EQ(config.checkpoint_interval_s, 0.0);
  // Checkpoints are written (app/checkpointer.h): nothing to warn about.
  EXPECT_TRUE(config_notices(config).empty());

  const auto env =
      parse_ok({"--checkpoint-interval", "2.5"},
               {{env_name("CHECKPOINT_PATH"), "c.bin"}, {env_name("CHECKPOINT_INTERVAL"), "7"}});
  EXPECT_EQ(env.checkpoint_path, "c.bin");
  EXPECT_EQ(env.checkpoint_interval_s, 2.5);
  // An interval without a path is validated but warns about nothing.
  EXPECT_TRUE(config_notices(parse_ok({"--checkpoint-interval", "5"})).empty());
  // An empty path is "none", as upstream's default "".
  EXPECT_TRUE(config_notices(parse_ok({"--checkpoint-path", ""})).empty());

  for (const char* bad : {"-1", "soon", "inf"}) {
    const auto exit = parse_exit({"--checkpoint-interval", bad});
    EXPECT_EQ(exit.code, 2) << bad;
    EXPECT_TRUE(contains(exit.message, "--checkpoint-interval")) << exit.message;
    EXPECT_TRUE(contains(exit.message, ">= 0")) << exit.message;
  }
  const auto env_exit = parse_exit({}, {{env_name("CHECKPOINT_INTERVAL"), "-2"}});
  EXPECT_EQ(env_exit.code, 2);
  EXPECT_TRUE(contains(env_exit.message, "LMCACHE_MP_COORDINATOR_CHECKPOINT_INTERVAL"));
}

TEST(UpstreamFlagsTest, DisableMetricsByFlagOrEnv) {
  EXPECT_TRUE(parse_ok({"--disable-metrics"}).disable_metrics);
  EXPECT_TRUE(parse_ok({}, {{env_name("DISABLE_METRICS"), "TRUE"}}).disable_metrics);
  EXPECT_FALSE(parse_ok({}, {{env_name("DISABLE_METRICS"), "no"}}).disable_metrics);
  EXPECT_TRUE(
      parse_ok({"--disable-metrics"}, {{env_name("DISABLE_METRICS"), "0"}}).disable_metrics);
  const auto bad = parse_exit({}, {{env_name("DISABLE_METRICS"), "off-ish"}});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.message, "LMCACHE_MP_COORDINATOR_DISABLE_METRICS"));
}

TEST(UpstreamFlagsTest, EventTransportHttpOnly) {
  parse_ok({"--event-transport", "http"});
  parse_ok({"--event-transport", "HTTP"}, {{env_name("EVENT_TRANSPORT"), "kafka"}});

  const auto kafka = parse_exit({"--event-transport", "kafka"});
  EXPECT_EQ(kafka.code, 2);
  EXPECT_TRUE(contains(kafka.message, "--event-transport")) << kafka.message;
  EXPECT_TRUE(contains(kafka.message, "Kafka transport is not supported")) << kafka.message;
  EXPECT_TRUE(contains(kafka.message, "POST /events")) << kafka.message;
  EXPECT_FALSE(contains(kafka.message, "\n"));

  const auto env_kafka = parse_exit({}, {{env_name("EVENT_TRANSPORT"), "kafka"}});
  EXPECT_EQ(env_kafka.code, 2);
  EXPECT_TRUE(contains(env_kafka.message, "LMCACHE_MP_COORDINATOR_EVENT_TRANSPORT"));
  EXPECT_TRUE(contains(env_kafka.message, "Kafka transport is not supported"));

  const auto other = parse_exit({"--event-transport", "grpc"});
  EXPECT_EQ(other.code, 2);
  EXPECT_TRUE(contains(other.message, "'grpc'")) << other.message;
  EXPECT_TRUE(contains(other.message, "allowed: http")) << other.message;
}

struct RefusedFlag {
  std::string flag;
  std::string env;
  std::string unsupported;
  std::string instead;
};

TEST(UpstreamFlagsTest, RefusedFlagsExitSayingWhatToUseInstead) {
  const std::vector<RefusedFlag> refused = {
      {"--otlp-endpoint", "OTLP_ENDPOINT", "OTLP export is not supported", "GET /metrics"},
      {"--metadata-path", "METADATA_PATH", "metadata file is not supported",
       "SQLite file of --state-path"},
      {"--extra-config", "EXTRA_CONFIG", "extra config is not supported", "pass flags"},
  };
  for (const auto& r : refused) {
    for (const char* value : {"x", "", "{\"controller_packages\":[]}"}) {
      const auto exit = parse_exit({r.flag, value});
      EXPECT_EQ(exit.code, 2) << r.flag;
      EXPECT_TRUE(contains(exit.message, r.flag)) << exit.message;
      EXPECT_TRUE(contains(exit.message, r.unsupported)) << exit.message;
      EXPECT_TRUE(contains(exit.message, r.instead)) << exit.message;
      EXPECT_FALSE(contains(exit.message, "\n")) << exit.message;
    }
    const auto env_exit = parse_exit({}, {{env_name(r.env), "http://collector:4317"}});
    EXPECT_EQ(env_exit.code, 2) << r.env;
    EXPECT_TRUE(contains(env_exit.message, env_name(r.env))) << env_exit.message;
    EXPECT_TRUE(contains(env_exit.message, r.instead)) << env_exit.message;
  }
}

TEST(UpstreamFlagsTest, HelpListsEveryNewFlagWithEnvAndDefault) {
  const auto help = parse_exit({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* name : {"CHUNK_SIZE", "HASH_ALGORITHM", "ENABLE_BLEND_LOOKUP", "CHECKPOINT_PATH",
                           "CHECKPOINT_INTERVAL", "DISABLE_METRICS", "EVENT_TRANSPORT",
                           "OTLP_ENDPOINT", "METADATA_PATH", "EXTRA_CONFIG"}) {
    EXPECT_TRUE(contains(help.message, std::string("[env ") + kEnv + name + "]")) << name;
  }
  for (const char* flag :
       {"--chunk-size", "--hash-algorithm", "--enable-blend-lookup", "--checkpoint-path",
        "--checkpoint-interval", "--disable-metrics", "--event-transport", "--otlp-endpoint",
        "--metadata-path", "--extra-config"}) {
    EXPECT_TRUE(contains(help.message, flag)) << flag;
  }
}

// A token file in a fresh temporary folder, removed with the fixture.
class AccessControlFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("config-access-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(AccessControlFlagsTest, DefaultsLeaveEveryRouteOpen) {
  const auto config = parse_ok({});
  EXPECT_EQ(config.admin_token_file, "");
  EXPECT_FALSE(config.protect_reads);
  EXPECT_EQ(config.fleet_cidr, "");
}

TEST_F(AccessControlFlagsTest, TokenFileByFlagOrEnv) {
  const std::string path = write("tokens", "secret-one\n");
  EXPECT_EQ(parse_ok({"--admin-token-file", path}).admin_token_file, path);
  const auto config = parse_ok({}, {{std::string(kEnv) + "ADMIN_TOKEN_FILE", path},
                                    {std::string(kEnv) + "PROTECT_READS", "yes"}});
  EXPECT_EQ(config.admin_token_file, path);
  EXPECT_TRUE(config.protect_reads);
  EXPECT_TRUE(parse_ok({"--admin-token-file", path, "--protect-reads"}).protect_reads);
}

TEST_F(AccessControlFlagsTest, AnEmptyOrMissingTokenFileExitsTwoWithoutEchoingTokens) {
  const std::string empty = write("empty", "\n   \n");
  auto exit = parse_exit({"--admin-token-file", empty});
  EXPECT_EQ(exit.code, 2);
  EXPECT_TRUE(contains(exit.message, "--admin-token-file")) << exit.message;
  EXPECT_TRUE(contains(exit.message, "no token")) << exit.message;
  EXPECT_FALSE(contains(exit.message, "\n")) << exit.message;

  exit = parse_exit({}, {{std::string(kEnv) + "ADMIN_TOKEN_FILE", (dir_ / "absent").string()}});
  EXPECT_EQ(exit.code, 2);
  EXPECT_TRUE(contains(exit.message, "ADMIN_TOKEN_FILE")) << exit.message;
  EXPECT_TRUE(contains(exit.message, "cannot read")) << exit.message;
}

TEST_F(AccessControlFlagsTest, ProtectReadsNeedsATokenFile) {
  const auto exit = parse_exit({"--protect-reads"});
  EXPECT_EQ(exit.code, 2);
  EXPECT_TRUE(contains(exit.message, "--admin-token-file")) << exit.message;
}

TEST_F(AccessControlFlagsTest, FleetCidrIsValidated) {
  EXPECT_EQ(parse_ok({"--fleet-cidr", "10.0.0.0/8,fd00::/8"}).fleet_cidr, "10.0.0.0/8,fd00::/8");
  EXPECT_EQ(parse_ok({}, {{std::string(kEnv) + "FLEET_CIDR", "192.168.0.0/16"}}).fleet_cidr,
            "192.168.0.0/16");
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/8,", "10.1.0.0/8"}) {
    const auto exit = parse_exit({"--fleet-cidr", bad});
    EXPECT_EQ(exit.code, 2) << bad;
    EXPECT_TRUE(contains(exit.message, "--fleet-cidr")) << exit.message;
    EXPECT_TRUE(contains(exit.message, bad)) << exit.message;
  }
}

TEST(HaFlagsTest, OffByDefaultWithDocumentedDefaults) {
  const auto config = parse_ok({});
  EXPECT_FALSE(config.ha());
  EXPECT_EQ(config.etcd_prefix, "/lmcache-coordinator/");
  EXPECT_EQ(config.advertise_url, "");
  EXPECT_EQ(config.leader_lease_s, 5U);
}

TEST(HaFlagsTest, FlagsAndEnvTurnHaModeOn) {
  auto config =
      parse_ok({"--etcd-endpoints", "http://10.0.0.1:2379,http://10.0.0.2:2379", "--etcd-prefix",
                "/c1/", "--advertise-url", "http://10.0.0.9:9300", "--leader-lease", "3"});
  EXPECT_TRUE(config.ha());
  EXPECT_EQ(config.etcd_endpoints, "http://10.0.0.1:2379,http://10.0.0.2:2379");
  EXPECT_EQ(config.etcd_prefix, "/c1/");
  EXPECT_EQ(config.advertise_url, "http://10.0.0.9:9300");
  EXPECT_EQ(config.leader_lease_s, 3U);
  config = parse_ok({}, {{"LMCACHE_MP_COORDINATOR_ETCD_ENDPOINTS", "127.0.0.1:2379"},
                         {"LMCACHE_MP_COORDINATOR_LEADER_LEASE", "7"}});
  EXPECT_TRUE(config.ha());
  EXPECT_EQ(config.leader_lease_s, 7U);
}

TEST(HaFlagsTest, BadValuesExitTwoNamingTheFlag) {
  const std::vector<std::vector<std::string>> bad = {
      {"--etcd-endpoints", ""},        {"--etcd-endpoints", "https://h:2379"},
      {"--etcd-endpoints", "h"},       {"--etcd-endpoints", "http://h:70000"},
      {"--etcd-prefix", " "},          {"--advertise-url", "10.0.0.1:9300"},
      {"--advertise-url", "http://h"}, {"--leader-lease", "0"},
      {"--leader-lease", "1.5"},       {"--leader-lease", "3601"},
  };
  for (const auto& args : bad) {
    const ConfigExit exit = parse_exit(args);
    EXPECT_EQ(exit.code, 2) << args[0] << " " << args[1];
    EXPECT_NE(exit.message.find(args[0]), std::string::npos) << exit.message;
  }
  const ConfigExit env_exit = parse_exit({}, {{"LMCACHE_MP_COORDINATOR_LEADER_LEASE", "-1"}});
  EXPECT_EQ(env_exit.code, 2);
  EXPECT_NE(env_exit.message.find("LMCACHE_MP_COORDINATOR_LEADER_LEASE"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::app

namespace lmcache::app {
namespace {

TEST(TlsFlagsTest, PlainHttpByDefault) {
  const CoordinatorConfig config = parse_ok({});
  EXPECT_EQ(config.tls_cert, "");
  EXPECT_EQ(config.tls_key, "");
  EXPECT_EQ(config.tls_client_ca, "");
}

TEST(TlsFlagsTest, CertKeyAndClientCaByFlagOrEnv) {
  CoordinatorConfig config =
      parse_ok({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"});
  EXPECT_EQ(config.tls_cert, "c.pem");
  EXPECT_EQ(config.tls_key, "k.pem");
  EXPECT_EQ(config.tls_client_ca, "ca.pem");
  config = parse_ok({"--tls-key", "flag.pem"}, {{"LMCACHE_MP_COORDINATOR_TLS_CERT", "env.pem"},
                                                {"LMCACHE_MP_COORDINATOR_TLS_KEY", "env.key"}});
  EXPECT_EQ(config.tls_cert, "env.pem");
  EXPECT_EQ(config.tls_key, "flag.pem");
}

TEST(TlsFlagsTest, CertAndKeyComeTogetherAndAClientCaNeedsBoth) {
  ConfigExit exit = parse_exit({"--tls-cert", "c.pem"});
  EXPECT_EQ(exit.code, 2);
  EXPECT_EQ(exit.message,
            "error: --tls-cert 'c.pem' needs --tls-key (env LMCACHE_MP_COORDINATOR_TLS_KEY) as "
            "well");
  exit = parse_exit({}, {{"LMCACHE_MP_COORDINATOR_TLS_KEY", "k.pem"}});
  EXPECT_EQ(exit.code, 2);
  EXPECT_EQ(exit.message,
            "error: env LMCACHE_MP_COORDINATOR_TLS_KEY 'k.pem' needs --tls-cert (env "
            "LMCACHE_MP_COORDINATOR_TLS_CERT) as well");
  exit = parse_exit({"--tls-client-ca", "ca.pem"});
  EXPECT_EQ(exit.code, 2);
  EXPECT_NE(exit.message.find("--tls-client-ca 'ca.pem' needs --tls-cert and --tls-key"),
            std::string::npos)
      << exit.message;
  exit = parse_exit({"--tls-cert", "", "--tls-key", "k.pem"});
  EXPECT_EQ(exit.code, 2);
  EXPECT_NE(exit.message.find("invalid value '' for --tls-cert: empty"), std::string::npos)
      << exit.message;
}

}  // namespace
}  // namespace lmcache::app
