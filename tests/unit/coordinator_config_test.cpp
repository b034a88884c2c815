#include "app/coordinator_config.h"

#include <gtest/gtest.h>

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

TEST(CoordinatorConfigTest, HelpExitsZero) {
  const auto exit = parse_exit({"--help"});
  EXPECT_EQ(exit.code, 0);
  EXPECT_NE(exit.message.find("--blend-probe-stride"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::app

namespace lmcache::app {
namespace {

TEST(CoordinatorConfigTest, RepeatedFlagTakesTheLastValue) {
  EXPECT_EQ(parse_ok({"--port", "1", "--port", "2"}).port, 2);
  EXPECT_EQ(parse_ok({"--state-path", ":memory:", "--state-path", "/tmp/x.db"}).state_path,
            "/tmp/x.db");
}

}  // namespace
}  // namespace lmcache::app
