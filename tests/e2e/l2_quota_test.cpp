// End-to-end: the quota API (PUT/DELETE /l2/quota/{salt}, GET /l2/status) of the real binary,
// including durability across a restart.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr double kGib = 1073741824.0;

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        fs::temp_directory_path() / ("l2-quota-" + std::to_string(::getpid()) + "-" + test->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class L2QuotaTest : public ::testing::Test {
 protected:
  json::value put_quota(const std::string& segment, const std::string& body) {
    auto res = client_.put("/l2/quota/" + segment, body);
    EXPECT_EQ(res.status, 200) << segment << " " << body << " -> " << res.body;
    return res.json();
  }

  json::array detail_of(const TestResponse& res) {
    EXPECT_EQ(res.status, 422) << res.body;
    return res.json().at("detail").as_array();
  }

  void store(const std::string& salt, int64_t bytes) {
    const std::string body = json::serialize(json::object{
        {"instance_id", "n1"},
        {"seq", ++seq_},
        {"events", json::array{json::object{{"type", "store"},
                                            {"key", json::object{{"chunk_hash_hex", "ab"},
                                                                 {"model_name", "m"},
                                                                 {"kv_rank", 0},
                                                                 {"cache_salt", salt}}},
                                            {"bytes", bytes}}}}});
    auto res = client_.post("/l2/events", body);
    ASSERT_EQ(res.status, 200) << res.body;
    ASSERT_EQ(res.json().at("recorded"), 1) << res.body;
  }

  CoordinatorProcess coordinator_;
  HttpTestClient client_{coordinator_.port()};
  int64_t seq_ = 0;
};

TEST_F(L2QuotaTest, PutGetDeleteShapes) {
  EXPECT_EQ(put_quota("tenant", R"({"limit_gb":0.5})"),
            json::parse(R"({"cache_salt":"tenant","limit_gb":0.5,"status":"ok"})"));
  EXPECT_EQ(client_.get("/l2/status/tenant").json(),
            json::parse(R"({"cache_salt":"tenant","quota_limit_gb":0.5,"quota_exists":true,
                            "usage_gb":0.0})"));
  auto res = client_.del("/l2/quota/tenant");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.json(),
            json::parse(R"({"cache_salt":"tenant","limit_gb":0.0,"status":"removed"})"));
  res = client_.del("/l2/quota/tenant");
  EXPECT_EQ(res.json(),
            json::parse(R"({"cache_salt":"tenant","limit_gb":0.0,"status":"not_found"})"));
  EXPECT_EQ(client_.get("/l2/status/tenant").json(),
            json::parse(R"({"cache_salt":"tenant","quota_limit_gb":0.0,"quota_exists":false,
                            "usage_gb":0.0})"));
}

TEST_F(L2QuotaTest, DefaultSaltIsEmptyString) {
  EXPECT_EQ(put_quota("_default", R"({"limit_gb":1})"),
            json::parse(R"({"cache_salt":"","limit_gb":1.0,"status":"ok"})"));
  store("", 1024);
  auto status = client_.get("/l2/status/_default").json();
  EXPECT_EQ(status.at("cache_salt"), "");
  EXPECT_EQ(status.at("quota_exists"), true);
  EXPECT_DOUBLE_EQ(status.at("usage_gb").to_number<double>() * kGib, 1024);
  EXPECT_EQ(client_.del("/l2/quota/_default").json().at("cache_salt"), "");
  EXPECT_EQ(client_.del("/l2/quota/_default").json().at("status"), "not_found");
}

TEST_F(L2QuotaTest, GibConversions) {
  EXPECT_EQ(put_quota("t", R"({"limit_gb":"2.5"})").at("limit_gb"), 2.5);
  EXPECT_EQ(put_quota("t", R"({"limit_gb":" 3 "})").at("limit_gb"), 3.0);
  EXPECT_EQ(put_quota("t", R"({"limit_gb":0})").at("limit_gb"), 0.0);
  // floor(limit_gb * 2^30) bytes, reported back by the status routes as bytes / 2^30; the PUT
  // answer echoes the limit as sent.
  const double tiny = 1.5 / kGib;  // 1.5 bytes -> 1 byte
  auto res = put_quota("t", json::serialize(json::object{{"limit_gb", tiny}}));
  EXPECT_EQ(res.at("limit_gb").to_number<double>(), tiny);
  EXPECT_DOUBLE_EQ(
      client_.get("/l2/status/t").json().at("quota_limit_gb").to_number<double>() * kGib, 1.0);
}

// The answer's text, as Python's json module writes the float the original echoes.
TEST_F(L2QuotaTest, PutEchoesTheLimitInPythonsFloatForm) {
  EXPECT_EQ(client_.put("/l2/quota/f", R"({"limit_gb": 100000})").body,
            R"({"cache_salt":"f","limit_gb":100000.0,"status":"ok"})");
  EXPECT_EQ(client_.put("/l2/quota/f", R"({"limit_gb": 0.0001})").body,
            R"({"cache_salt":"f","limit_gb":0.0001,"status":"ok"})");
  EXPECT_EQ(client_.put("/l2/quota/f", R"({"limit_gb": 1e-5})").body,
            R"({"cache_salt":"f","limit_gb":1e-05,"status":"ok"})");
  // The stored limit is the byte count: floor(0.00001 * 2^30) = 10737 bytes.
  EXPECT_EQ(client_.get("/l2/status/f").json().at("quota_limit_gb").to_number<double>() * kGib,
            10737.0);
}

// A limit whose byte count does not fit in 63 bits is refused, and the old limit stays.
TEST_F(L2QuotaTest, LimitBeyond63BitsOfBytesIs422) {
  put_quota("big", R"({"limit_gb": 2})");
  for (const char* body :
       {R"({"limit_gb": 1e16})", R"({"limit_gb": 8589934592})", R"({"limit_gb": "1e300"})"}) {
    auto detail = detail_of(client_.put("/l2/quota/big", body));
    ASSERT_EQ(detail.size(), 1U) << body;
    EXPECT_EQ(detail[0].at("type"), "value_error") << body;
    EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","limit_gb"])")) << body;
  }
  EXPECT_EQ(client_.get("/l2/status/big").json().at("quota_limit_gb"), 2.0);
  // The largest whole number of GiB that fits.
  EXPECT_EQ(put_quota("big", R"({"limit_gb": 8589934591})").at("limit_gb"), 8589934591.0);
}

// A salt whose keys all hold 0 bytes has no usage: it is listed only once it has a quota.
TEST_F(L2QuotaTest, StatusLeavesOutSaltsWithOnlyEmptyKeys) {
  store("empty", 0);
  store("full", 10);
  auto rows = client_.get("/l2/status").json().at("by_cache_salt").as_array();
  ASSERT_EQ(rows.size(), 1U) << rows;
  EXPECT_EQ(rows[0].at("cache_salt"), "full");
  put_quota("empty", R"({"limit_gb": 1})");
  rows = client_.get("/l2/status").json().at("by_cache_salt").as_array();
  ASSERT_EQ(rows.size(), 2U) << rows;
  EXPECT_EQ(rows[0].at("cache_salt"), "empty");
  EXPECT_EQ(rows[0].at("usage_gb"), 0.0);
}

TEST_F(L2QuotaTest, StatusIsSortedUnionOfUsageAndQuotas) {
  put_quota("zeta", R"({"limit_gb":1})");
  put_quota("alpha", R"({"limit_gb":2})");
  store("mid", 2048);
  store("alpha", 1024);
  auto status = client_.get("/l2/status").json();
  EXPECT_DOUBLE_EQ(status.at("total_gb").to_number<double>() * kGib, 3072);
  const auto& rows = status.at("by_cache_salt").as_array();
  ASSERT_EQ(rows.size(), 3U) << status;
  EXPECT_EQ(rows[0], json::parse(R"({"cache_salt":"alpha","quota_limit_gb":2.0,
                                     "quota_exists":true,"usage_gb":9.5367431640625E-7})"));
  EXPECT_EQ(rows[1].at("cache_salt"), "mid");
  EXPECT_EQ(rows[1].at("quota_exists"), false);
  EXPECT_EQ(rows[2].at("cache_salt"), "zeta");
  EXPECT_EQ(rows[2].at("usage_gb"), 0.0);

  // Empty coordinator state.
  client_.del("/l2/quota/zeta");
  client_.del("/l2/quota/alpha");
  EXPECT_EQ(client_.get("/l2/status").json().at("by_cache_salt").as_array().size(), 2U);
}

TEST_F(L2QuotaTest, InvalidPathSaltIs422) {
  const std::string long_salt(129, 's');
  for (const std::string& segment : {std::string("a@b"), std::string("a%2Fb"), std::string("a%5Cb"),
                                     std::string("a%00b"), long_salt}) {
    for (auto method : {boost::beast::http::verb::put, boost::beast::http::verb::delete_,
                        boost::beast::http::verb::get}) {
      const std::string prefix =
          method == boost::beast::http::verb::get ? "/l2/status/" : "/l2/quota/";
      auto res = client_.request(method, prefix + segment, R"({"limit_gb":1})");
      auto detail = detail_of(res);
      ASSERT_EQ(detail.size(), 1U) << segment;
      EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["path","salt"])")) << segment;
      EXPECT_EQ(detail[0].at("type"), "value_error");
    }
  }
  // 128 characters is fine.
  put_quota(std::string(128, 's'), R"({"limit_gb":1})");
}

TEST_F(L2QuotaTest, InvalidBodyIs422) {
  struct Case {
    const char* body;
    const char* type;
  };
  const Case cases[] = {
      {R"({})", "missing"},
      {R"({"limit_gb":-1})", "greater_than_equal"},
      {R"({"limit_gb":"abc"})", "float_parsing"},
      {R"({"limit_gb":null})", "float_type"},
      {R"({"limit_gb":[1]})", "float_type"},
  };
  for (const auto& c : cases) {
    auto detail = detail_of(client_.put("/l2/quota/t", c.body));
    ASSERT_EQ(detail.size(), 1U) << c.body;
    EXPECT_EQ(detail[0].at("type"), c.type) << c.body;
    EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","limit_gb"])")) << c.body;
  }
  EXPECT_EQ(detail_of(client_.put("/l2/quota/t", "{")).at(0).at("type"), "json_invalid");
  EXPECT_EQ(detail_of(client_.put("/l2/quota/t", "")).at(0).at("type"), "missing");
  EXPECT_EQ(detail_of(client_.put("/l2/quota/t", "[]")).at(0).at("type"), "model_attributes_type");
  // Path and body problems are reported together.
  EXPECT_EQ(detail_of(client_.put("/l2/quota/a@b", R"({"limit_gb":-1})")).size(), 2U);
  // Nothing was stored.
  EXPECT_EQ(client_.get("/l2/status/t").json().at("quota_exists"), false);
}

TEST(L2QuotaDurabilityTest, RestartKeepsQuotas) {
  TempDir dir;
  const std::string db = (dir.path() / "state.db").string();
  {
    CoordinatorProcess coordinator({"--state-path", db});
    HttpTestClient client(coordinator.port());
    ASSERT_EQ(client.put("/l2/quota/tenant", R"({"limit_gb":2.5})").status, 200);
    ASSERT_EQ(client.put("/l2/quota/_default", R"({"limit_gb":1})").status, 200);
    ASSERT_EQ(client.put("/l2/quota/gone", R"({"limit_gb":1})").status, 200);
    ASSERT_EQ(client.del("/l2/quota/gone").status, 200);
    client.close();
    EXPECT_EQ(coordinator.stop(SIGTERM), 0) << coordinator.log();
  }
  CoordinatorProcess coordinator({"--state-path", db});
  HttpTestClient client(coordinator.port());
  EXPECT_EQ(client.get("/l2/status/tenant").json(),
            json::parse(R"({"cache_salt":"tenant","quota_limit_gb":2.5,"quota_exists":true,
                            "usage_gb":0.0})"));
  auto rows = client.get("/l2/status").json().at("by_cache_salt").as_array();
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].at("cache_salt"), "");
  EXPECT_EQ(rows[0].at("quota_limit_gb"), 1.0);
  EXPECT_EQ(rows[1].at("cache_salt"), "tenant");
}

TEST(L2QuotaDurabilityTest, CorruptDatabaseStopsStartUp) {
  TempDir dir;
  const std::string db = (dir.path() / "state.db").string();
  {
    std::ofstream out(db, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not an SQLite database\n";
  }
  auto result =
      run_lmcache({"coordinator", "--host", "127.0.0.1", "--port", "0", "--state-path", db});
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find(db), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("cannot start"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("listening on"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace lmcache::testing
