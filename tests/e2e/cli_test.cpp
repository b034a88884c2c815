// End-to-end: the command line of the real binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {

TEST(CliTest, HelpListsEveryFlagWithItsEnvVariable) {
  auto result = run_lmcache({"coordinator", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag : {"--host",
                           "--port",
                           "--instance-timeout",
                           "--health-check-interval",
                           "--eviction-check-interval",
                           "--eviction-ratio",
                           "--trigger-watermark",
                           "--blend-chunk-size",
                           "--blend-probe-stride",
                           "--timeout-keep-alive",
                           "--state-path",
                           "--chunk-size",
                           "--hash-algorithm",
                           "--enable-blend-lookup",
                           "--checkpoint-path",
                           "--checkpoint-interval",
                           "--disable-metrics",
                           "--event-transport",
                           "--otlp-endpoint",
                           "--metadata-path",
                           "--extra-config"}) {
    EXPECT_NE(result.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(result.output.find("LMCACHE_MP_COORDINATOR_TRIGGER_WATERMARK"), std::string::npos);
  EXPECT_NE(result.output.find("LMCACHE_MP_COORDINATOR_RESYNC_PAGE_SIZE"), std::string::npos);
}

struct BadValue {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string named;  // the flag or variable the error must name
};

TEST(CliTest, BadValuesExitTwoWithOneClearLine) {
  const std::vector<BadValue> cases = {
      {{"--port", "70000"}, {}, "--port"},
      {{"--port", "abc"}, {}, "--port"},
      {{"--instance-timeout", "0"}, {}, "--instance-timeout"},
      {{"--health-check-interval", "-1"}, {}, "--health-check-interval"},
      {{"--eviction-ratio", "1.5"}, {}, "--eviction-ratio"},
      {{"--trigger-watermark", "0"}, {}, "--trigger-watermark"},
      {{"--blend-chunk-size", "0"}, {}, "--blend-chunk-size"},
      {{"--blend-probe-stride", "x"}, {}, "--blend-probe-stride"},
      {{"--timeout-keep-alive", "nan"}, {}, "--timeout-keep-alive"},
      {{}, {{"LMCACHE_MP_COORDINATOR_PORT", "port"}}, "LMCACHE_MP_COORDINATOR_PORT"},
      {{},
       {{"LMCACHE_MP_COORDINATOR_EVICTION_RATIO", "abc"}},
       "LMCACHE_MP_COORDINATOR_EVICTION_RATIO"},
      {{},
       {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", "maybe"}},
       "LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC"},
      {{},
       {{"LMCACHE_MP_COORDINATOR_RESYNC_PAGE_SIZE", "0"}},
       "LMCACHE_MP_COORDINATOR_RESYNC_PAGE_SIZE"},
      {{},
       {{"LMCACHE_MP_COORDINATOR_RESYNC_MAX_WAIT", "-3"}},
       "LMCACHE_MP_COORDINATOR_RESYNC_MAX_WAIT"},
      {{"--no-such-flag"}, {}, "--no-such-flag"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args = {"coordinator", "--host", "127.0.0.1", "--state-path",
                                     ":memory:"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    auto result = run_lmcache(args, bad.env);
    EXPECT_EQ(result.exit_code, 2) << bad.named << ": " << result.output;
    EXPECT_NE(result.output.find(bad.named), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("listening"), std::string::npos) << result.output;
  }
}

TEST(CliTest, FlagWinsOverEnvAndEnvOverDefault) {
  // The env asks for an invalid port but the flag overrides it.
  CoordinatorProcess flag_wins({}, {{"LMCACHE_MP_COORDINATOR_PORT", "not-a-port"}});
  HttpTestClient client(flag_wins.port());
  EXPECT_EQ(client.get("/healthz").status, 200);

  // Env is used when no flag is given: an invalid env value is reported.
  auto env_used = run_lmcache({"coordinator", "--state-path", ":memory:"},
                              {{"LMCACHE_MP_COORDINATOR_INSTANCE_TIMEOUT", "-5"}});
  EXPECT_EQ(env_used.exit_code, 2);
  EXPECT_NE(env_used.output.find("LMCACHE_MP_COORDINATOR_INSTANCE_TIMEOUT"), std::string::npos);
}

// Flags of the newest upstream CLI that we refuse: exit 2, one line saying
// what is not supported and what to use instead, and never a listening line.
TEST(CliTest, RefusedUpstreamFlagsExitTwoSayingWhatToUseInstead) {
  struct Refused {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::vector<std::string> said;  // every part the line must hold
  };
  const std::vector<Refused> cases = {
      {{"--event-transport", "kafka"},
       {},
       {"--event-transport", "Kafka transport is not supported", "POST /events"}},
      {{},
       {{"LMCACHE_MP_COORDINATOR_EVENT_TRANSPORT", "kafka"}},
       {"LMCACHE_MP_COORDINATOR_EVENT_TRANSPORT", "Kafka transport is not supported"}},
      {{"--otlp-endpoint", "http://collector:4317"},
       {},
       {"--otlp-endpoint", "OTLP export is not supported", "scrape GET /metrics"}},
      {{"--metadata-path", "/var/lib/meta.json"},
       {},
       {"--metadata-path", "not supported", "SQLite file of --state-path"}},
      {{"--extra-config", R"({"controller_packages":[]})"},
       {},
       {"--extra-config", "extra config is not supported", "pass flags"}},
      {{},
       {{"LMCACHE_MP_COORDINATOR_OTLP_ENDPOINT", "x"}},
       {"LMCACHE_MP_COORDINATOR_OTLP_ENDPOINT", "GET /metrics"}},
      {{"--hash-algorithm", "sha256"}, {}, {"--hash-algorithm", "only blake3 is supported"}},
      {{"--chunk-size", "512", "--blend-chunk-size", "256"},
       {},
       {"--chunk-size '512'", "--blend-chunk-size '256'"}},
      {{"--checkpoint-interval", "-1"}, {}, {"--checkpoint-interval", ">= 0"}},
  };
  for (const auto& refused : cases) {
    std::vector<std::string> args = {"coordinator", "--host",       "127.0.0.1", "--port",
                                     "0",           "--state-path", ":memory:"};
    args.insert(args.end(), refused.args.begin(), refused.args.end());
    auto result = run_lmcache(args, refused.env);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    for (const auto& part : refused.said) {
      EXPECT_NE(result.output.find(part), std::string::npos) << part << " in " << result.output;
    }
    EXPECT_EQ(result.output.find("listening"), std::string::npos) << result.output;
  }
}

TEST(CliTest, AcceptedUpstreamFlagsStartAndSayWhatTheyDo) {
  const std::string checkpoint =
      "/tmp/cli_test-" + std::to_string(::getpid()) + "-never-written.ckpt";
  CoordinatorProcess coordinator({"--chunk-size", "256", "--blend-chunk-size", "256",
                                  "--hash-algorithm", "blake3", "--enable-blend-lookup",
                                  "--event-transport", "http", "--checkpoint-path", checkpoint,
                                  "--checkpoint-interval", "0"});
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/healthz").status, 200);
  const std::string log = coordinator.log();
  EXPECT_NE(log.find("[info] enable-blend-lookup=true accepted"), std::string::npos) << log;
  EXPECT_NE(log.find("[info] no checkpoint at " + checkpoint + " yet: starting cold"),
            std::string::npos)
      << log;
}

TEST(CliTest, DisableMetricsUnroutesMetricsByFlagOrEnv) {
  CoordinatorProcess served;
  EXPECT_EQ(HttpTestClient(served.port()).get("/metrics").status, 200);

  CoordinatorProcess by_flag({"--disable-metrics"});
  CoordinatorProcess by_env({}, {{"LMCACHE_MP_COORDINATOR_DISABLE_METRICS", "true"}});
  for (const CoordinatorProcess* coordinator : {&by_flag, &by_env}) {
    HttpTestClient client(coordinator->port());
    const auto metrics = client.get("/metrics");
    EXPECT_EQ(metrics.status, 404);
    EXPECT_EQ(metrics.json(), boost::json::parse(R"({"detail":"Not Found"})"));
    EXPECT_EQ(client.get("/healthz").status, 200);  // everything else is still served
  }
}

TEST(CliTest, MissingSubcommandIsAnError) {
  auto result = run_lmcache({});
  EXPECT_EQ(result.exit_code, 2);
}

}  // namespace
}  // namespace lmcache::testing
