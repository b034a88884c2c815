// End-to-end: the v2 quota routes (/quota, /quota/{salt}, /quota/config) of the real binary, the
// quota table they share with /l2/quota, and the default limit of salts without a quota.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "fake_mp_server.h"
#include "http_test_client.h"
#include "metrics_scrape.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        fs::temp_directory_path() / ("quota-v2-" + std::to_string(::getpid()) + "-" + test->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string hash_hex(int i) { return fmt::format("{:064x}", i); }

// Posts one batch of `store` events (1 KiB each) for keys [first, last) of `salt`.
void store(HttpTestClient& client, const std::string& instance, int seq, int first, int last,
           const std::string& salt) {
  json::array events;
  for (int i = first; i < last; ++i) {
    events.emplace_back(json::object{{"type", "store"},
                                     {"key", json::object{{"chunk_hash_hex", hash_hex(i)},
                                                          {"model_name", "llama"},
                                                          {"kv_rank", 0},
                                                          {"cache_salt", salt}}},
                                     {"bytes", 1024}});
  }
  auto res = client.post(
      "/l2/events",
      json::serialize(json::object{{"instance_id", instance}, {"seq", seq}, {"events", events}}));
  ASSERT_EQ(res.status, 200) << res.body;
}

void register_instance(HttpTestClient& client, const std::string& id, uint16_t port) {
  auto res = client.post(
      "/instances",
      fmt::format(R"({{"instance_id":"{}","ip":"127.0.0.1","http_port":{}}})", id, port));
  ASSERT_EQ(res.status, 200) << res.body;
}

// The salts of every key in every DELETE /l2 received, in order.
std::vector<std::string> deleted_salts(const FakeMpServer& server) {
  std::vector<std::string> salts;
  for (const auto& key : server.deleted_keys()) {
    salts.emplace_back(key.at("cache_salt").as_string());
  }
  return salts;
}

class QuotaV2Test : public ::testing::Test {
 protected:
  // A 400 with upstream's {"detail": "..."}; returns the detail.
  std::string bad_request(const TestResponse& res) {
    EXPECT_EQ(res.status, 400) << res.body;
    return std::string(res.json().at("detail").as_string());
  }

  // A 422 whose first error is pydantic's `enum` error for `tier` at `where`.
  void expect_tier_enum_error(const TestResponse& res, const std::string& where,
                              const json::value& input) {
    ASSERT_EQ(res.status, 422) << res.body;
    const json::value body = res.json();
    const json::value& error = body.at("detail").as_array().at(0);
    EXPECT_EQ(error.at("type"), "enum") << res.body;
    EXPECT_EQ(error.at("loc"), (json::array{json::string(where), "tier"})) << res.body;
    EXPECT_EQ(error.at("msg"), "Input should be 'l1', 'l2' or 'all'");
    EXPECT_EQ(error.at("input"), input);
  }

  CoordinatorProcess coordinator_;
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(QuotaV2Test, PutGetDeleteShapes) {
  EXPECT_EQ(client_.put("/quota/tenant", R"({"limit_gb": 2.5, "tier": "l2"})").json(),
            json::parse(R"({"cache_salt":"tenant","limit_gb":2.5,"status":"ok"})"));
  EXPECT_EQ(client_.put("/quota/t2", R"({"limit_gb": 2})").json(),  // tier defaults to l2
            json::parse(R"({"cache_salt":"t2","limit_gb":2.0,"status":"ok"})"));
  EXPECT_EQ(client_.get("/quota/tenant").json(),
            json::parse(R"({"cache_salt":"tenant","quota_limit_gb":2.5,"quota_exists":true,
                            "usage_gb":0.0})"));
  EXPECT_EQ(client_.get("/quota/tenant?tier=l2").json().at("quota_exists"), true);
  // Never 404: an unknown salt has no quota and no usage.
  auto unknown = client_.get("/quota/nobody");
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(unknown.json(), json::parse(R"({"cache_salt":"nobody","quota_limit_gb":0.0,
                                            "quota_exists":false,"usage_gb":0.0})"));
  EXPECT_EQ(client_.del("/quota/tenant?tier=l2").json(),
            json::parse(R"({"cache_salt":"tenant","limit_gb":0.0,"status":"removed"})"));
  EXPECT_EQ(client_.del("/quota/tenant").json(),
            json::parse(R"({"cache_salt":"tenant","limit_gb":0.0,"status":"not_found"})"));
  EXPECT_EQ(client_.get("/quota/tenant").json().at("quota_exists"), false);
}

TEST_F(QuotaV2Test, DefaultSegmentIsTheEmptySalt) {
  ASSERT_EQ(client_.put("/quota/_default", R"({"limit_gb": 1})").json().at("cache_salt"), "");
  EXPECT_EQ(client_.get("/quota/_default").json().at("quota_limit_gb"), 1.0);
  EXPECT_EQ(client_.get("/l2/status/_default").json().at("quota_exists"), true);
  EXPECT_EQ(client_.del("/quota/_default").json().at("status"), "removed");
}

TEST_F(QuotaV2Test, BothDialectsShareOneQuotaTable) {
  ASSERT_EQ(client_.put("/quota/a", R"({"limit_gb": 1.5})").status, 200);
  EXPECT_EQ(client_.get("/l2/status/a").json().at("quota_limit_gb"), 1.5);
  ASSERT_EQ(client_.put("/l2/quota/b", R"({"limit_gb": 0.5})").status, 200);
  EXPECT_EQ(client_.get("/quota/b").json().at("quota_limit_gb"), 0.5);
  // The listing of either dialect shows both.
  EXPECT_EQ(client_.get("/quota").json(), client_.get("/l2/status").json());
  EXPECT_EQ(client_.get("/quota").json().at("by_cache_salt").as_array().size(), 2U);
  EXPECT_EQ(client_.del("/l2/quota/a").json().at("status"), "removed");
  EXPECT_EQ(client_.del("/quota/b").json().at("status"), "removed");
  EXPECT_EQ(client_.get("/l2/status").json().at("by_cache_salt").as_array().size(), 0U);
}

TEST_F(QuotaV2Test, ListingIsTheSortedUnionOfUsageAndQuotasPerTier) {
  store(client_, "mp-a", 1, 0, 2, "used");  // 2 KiB
  ASSERT_EQ(client_.put("/quota/a-quota", R"({"limit_gb": 1})").status, 200);
  const json::value expected = json::parse(R"({"total_gb":1.9073486328125e-06,"by_cache_salt":[
      {"cache_salt":"a-quota","quota_limit_gb":1.0,"quota_exists":true,"usage_gb":0.0},
      {"cache_salt":"used","quota_limit_gb":0.0,"quota_exists":false,"usage_gb":1.9073486328125e-06}]})");
  EXPECT_EQ(client_.get("/quota").json(), expected);
  EXPECT_EQ(client_.get("/quota?tier=l2").json(), expected);
  EXPECT_EQ(client_.get("/quota/used").json().at("usage_gb"), 1.9073486328125e-06);
  // L1: no quota rows, and no L1 usage tracked yet.
  EXPECT_EQ(client_.get("/quota?tier=l1").json(),
            json::parse(R"({"total_gb":0.0,"by_cache_salt":[]})"));
  EXPECT_EQ(client_.get("/quota/a-quota?tier=l1").json(),
            json::parse(R"({"cache_salt":"a-quota","quota_limit_gb":0.0,"quota_exists":false,
                            "usage_gb":0.0})"));
}

TEST_F(QuotaV2Test, TierRules) {
  // `all` has no usage accounting.
  EXPECT_EQ(bad_request(client_.get("/quota?tier=all")),
            "tier 'all' has no usage accounting; only 'l1', 'l2'");
  EXPECT_EQ(bad_request(client_.get("/quota/x?tier=all")),
            "tier 'all' has no usage accounting; only 'l1', 'l2'");
  // Writes and the config are L2 only.
  EXPECT_EQ(bad_request(client_.put("/quota/x", R"({"limit_gb": 1, "tier": "l1"})")),
            "quotas apply to tier 'l2' only, not 'l1'");
  EXPECT_EQ(bad_request(client_.put("/quota/x", R"({"limit_gb": 1, "tier": "all"})")),
            "quotas apply to tier 'l2' only, not 'all'");
  EXPECT_EQ(bad_request(client_.del("/quota/x?tier=l1")),
            "quotas apply to tier 'l2' only, not 'l1'");
  EXPECT_EQ(bad_request(client_.put("/quota/config", R"({"default_limit_gb": 1, "tier": "l1"})")),
            "quotas apply to tier 'l2' only, not 'l1'");
  EXPECT_EQ(bad_request(client_.get("/quota/config?tier=all")),
            "quotas apply to tier 'l2' only, not 'all'");
  // Nothing was written by the refused calls.
  EXPECT_EQ(client_.get("/quota/x").json().at("quota_exists"), false);
  EXPECT_EQ(client_.get("/quota/config").json().at("default_limit_gb"), 0.0);
  // An unknown tier is a validation error, wherever it is sent.
  expect_tier_enum_error(client_.get("/quota?tier=l3"), "query", "l3");
  expect_tier_enum_error(client_.get("/quota/x?tier=L2"), "query", "L2");
  expect_tier_enum_error(client_.del("/quota/x?tier="), "query", "");
  expect_tier_enum_error(client_.get("/quota/config?tier=disk"), "query", "disk");
  expect_tier_enum_error(client_.put("/quota/x", R"({"limit_gb": 1, "tier": "ssd"})"), "body",
                         "ssd");
  expect_tier_enum_error(client_.put("/quota/config", R"({"tier": 2})"), "body", 2);
}

TEST_F(QuotaV2Test, InvalidBodiesAndSaltsAre422) {
  const auto negative = client_.put("/quota/x", R"({"limit_gb": -1})");
  ASSERT_EQ(negative.status, 422) << negative.body;
  EXPECT_EQ(negative.json().at("detail").at(0).at("loc"), (json::array{"body", "limit_gb"}));
  EXPECT_EQ(client_.put("/quota/x", R"({"tier": "l2"})").status, 422);  // limit_gb is required
  EXPECT_EQ(client_.put("/quota/x", "{").status, 422);
  const auto huge = client_.put("/quota/x", R"({"limit_gb": 1e10})");  // 2^63 bytes and more
  ASSERT_EQ(huge.status, 422) << huge.body;
  EXPECT_EQ(huge.json().at("detail").at(0).at("type"), "value_error");
  const auto salt = client_.get("/quota/a@b");
  ASSERT_EQ(salt.status, 422) << salt.body;
  EXPECT_EQ(salt.json().at("detail").at(0).at("loc"), (json::array{"path", "salt"}));
  EXPECT_EQ(client_.del("/quota/a@b").status, 422);
  EXPECT_EQ(client_.put("/quota/a@b", R"({"limit_gb": 1})").status, 422);

  const auto config_negative = client_.put("/quota/config", R"({"default_limit_gb": -0.5})");
  ASSERT_EQ(config_negative.status, 422) << config_negative.body;
  EXPECT_EQ(config_negative.json().at("detail").at(0).at("loc"),
            (json::array{"body", "default_limit_gb"}));
  EXPECT_EQ(client_.put("/quota/config", R"({"default_limit_gb": "many"})").status, 422);
  EXPECT_EQ(client_.put("/quota/config", R"({"default_limit_gb": 1e10})").status, 422);
  EXPECT_EQ(client_.put("/quota/config", "").status, 422);
  EXPECT_EQ(client_.get("/quota/config").json().at("default_limit_gb"), 0.0);  // unchanged
}

TEST_F(QuotaV2Test, ConfigSetsAndEchoesTheDefault) {
  // The flag's default (0) until set.
  EXPECT_EQ(client_.get("/quota/config").json(), json::parse(R"({"default_limit_gb":0.0})"));
  EXPECT_EQ(client_.put("/quota/config", R"({"default_limit_gb": 1.25, "tier": "l2"})").json(),
            json::parse(R"({"default_limit_gb":1.25})"));
  EXPECT_EQ(client_.get("/quota/config?tier=l2").json(),
            json::parse(R"({"default_limit_gb":1.25})"));
  // An integer is echoed as a float, like the per-salt PUT.
  EXPECT_EQ(client_.put("/quota/config", R"({"default_limit_gb": 3})").body,
            R"({"default_limit_gb":3.0})");
  // null, or no field at all, exempts salts without a quota.
  EXPECT_EQ(client_.put("/quota/config", R"({"default_limit_gb": null})").body,
            R"({"default_limit_gb":null})");
  EXPECT_EQ(client_.get("/quota/config").body, R"({"default_limit_gb":null})");
  ASSERT_EQ(client_.put("/quota/config", R"({"default_limit_gb": 0})").status, 200);
  EXPECT_EQ(client_.put("/quota/config", "{}").body, R"({"default_limit_gb":null})");
  EXPECT_EQ(client_.get("/quota/config").body, R"({"default_limit_gb":null})");
  // The default is never reported as a salt's quota (as upstream).
  ASSERT_EQ(client_.put("/quota/config", R"({"default_limit_gb": 2})").status, 200);
  EXPECT_EQ(client_.get("/quota/x").json().at("quota_exists"), false);
  EXPECT_EQ(client_.get("/l2/status/x").json().at("quota_limit_gb"), 0.0);
  // "config" is reserved: the config route is matched first.
  EXPECT_EQ(client_.get("/quota/config").json().as_object().count("cache_salt"), 0U);
}

TEST(QuotaV2DurabilityTest, DefaultSurvivesRestartAndBeatsTheFlag) {
  TempDir dir;
  const std::string db = dir.file("state.db");
  {
    // Nothing stored yet: the flag decides, on every start.
    CoordinatorProcess coordinator({"--state-path", db, "--default-quota-gb", "none"});
    HttpTestClient client(coordinator.port());
    EXPECT_EQ(client.get("/quota/config").body, R"({"default_limit_gb":null})");
    client.close();
    EXPECT_EQ(coordinator.stop(SIGTERM), 0) << coordinator.log();
  }
  {
    CoordinatorProcess coordinator({"--state-path", db, "--default-quota-gb", "0.5"});
    HttpTestClient client(coordinator.port());
    EXPECT_EQ(client.get("/quota/config").body, R"({"default_limit_gb":0.5})");
    ASSERT_EQ(client.put("/quota/config", R"({"default_limit_gb": 2.5})").status, 200);
    ASSERT_EQ(client.put("/quota/kept", R"({"limit_gb": 1})").status, 200);
    client.close();
    EXPECT_EQ(coordinator.stop(SIGTERM), 0) << coordinator.log();
  }
  {
    // Stored now: the flag no longer decides.
    CoordinatorProcess coordinator({"--state-path", db, "--default-quota-gb", "none"});
    HttpTestClient client(coordinator.port());
    EXPECT_EQ(client.get("/quota/config").body, R"({"default_limit_gb":2.5})");
    EXPECT_EQ(client.get("/l2/status/kept").json().at("quota_limit_gb"), 1.0);
    ASSERT_EQ(client.put("/quota/config", R"({"default_limit_gb": null})").status, 200);
    client.close();
    // Written before the answer: even a crash keeps it.
    EXPECT_EQ(coordinator.stop(SIGKILL), 128 + SIGKILL);
  }
  CoordinatorProcess coordinator({"--state-path", db, "--default-quota-gb", "1"});
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/quota/config").body, R"({"default_limit_gb":null})");
}

TEST(QuotaV2EvictionTest, NoDefaultLeavesSaltsWithoutAQuotaAlone) {
  FakeMpServer server;
  CoordinatorProcess coordinator(
      {"--eviction-check-interval", "0.2", "--default-quota-gb", "none"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server.port());
  ASSERT_EQ(client.put("/quota/limited", R"({"limit_gb": 0})").status, 200);
  store(client, "mp-a", 1, 0, 5, "free");
  store(client, "mp-a", 2, 10, 13, "limited");
  // The explicit 0 quota is enforced; later sweeps still send nothing of the exempt salt.
  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 3));
  EXPECT_EQ(deleted_salts(server), (std::vector<std::string>(3, "limited")));
  EXPECT_EQ(client.get("/quota/free").json().at("usage_gb"), 5 * 1024 / 1073741824.0);
}

TEST(QuotaV2EvictionTest, ZeroDefaultEvictsSaltsWithoutAQuotaAndDeleteFallsBackToIt) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2", "--default-quota-gb", "0"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server.port());
  ASSERT_EQ(client.put("/quota/roomy", R"({"limit_gb": 1})").status, 200);
  store(client, "mp-a", 1, 0, 4, "roomy");
  store(client, "mp-a", 2, 10, 13, "unquotad");
  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  EXPECT_EQ(deleted_salts(server), (std::vector<std::string>(3, "unquotad")));
  // Deleting the explicit quota falls back to the 0 default: everything goes.
  ASSERT_EQ(client.del("/quota/roomy").json().at("status"), "removed");
  ASSERT_TRUE(server.wait_for_deletes(2, 15s));
  std::vector<std::string> expected(3, "unquotad");
  expected.insert(expected.end(), 4, "roomy");
  EXPECT_EQ(deleted_salts(server), expected);
}

TEST(QuotaV2EvictionTest, DefaultSetAtRunTimeStartsEvicting) {
  FakeMpServer server;
  CoordinatorProcess coordinator({"--eviction-check-interval", "0.2", "--default-quota-gb", "none",
                                  "--eviction-ratio", "0.5"});
  HttpTestClient client(coordinator.port());
  register_instance(client, "mp-a", server.port());
  store(client, "mp-a", 1, 0, 4, "t");  // 4 KiB
  ASSERT_TRUE(wait_for_more_eviction_sweeps(client, 2));
  EXPECT_TRUE(server.deleted_keys().empty());
  // A 2 KiB default: "t" is over (4 >= 2) and loses half its keys, from the LRU end.
  ASSERT_EQ(client
                .put("/quota/config",
                     json::serialize(json::object{{"default_limit_gb", 2048 / 1073741824.0}}))
                .status,
            200);
  ASSERT_TRUE(server.wait_for_deletes(1, 15s));
  std::vector<std::string> hashes;
  for (const auto& key : server.deleted_keys()) {
    hashes.emplace_back(key.at("chunk_hash_hex").as_string());
  }
  EXPECT_EQ(hashes, (std::vector<std::string>{hash_hex(0), hash_hex(1)}));
}

TEST(QuotaV2ConfigTest, InvalidDefaultQuotaFlagExits2) {
  for (const char* bad : {"-1", "unlimited", "nan"}) {
    const auto result =
        run_lmcache({"coordinator", "--state-path", ":memory:", "--default-quota-gb", bad});
    EXPECT_EQ(result.exit_code, 2) << bad << ": " << result.output;
    EXPECT_NE(result.output.find("--default-quota-gb"), std::string::npos) << result.output;
  }
  const auto env = run_lmcache({"coordinator", "--state-path", ":memory:"},
                               {{"LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB", "-2"}});
  EXPECT_EQ(env.exit_code, 2) << env.output;
  EXPECT_NE(env.output.find("LMCACHE_MP_COORDINATOR_DEFAULT_QUOTA_GB"), std::string::npos);
}

}  // namespace
}  // namespace lmcache::testing
