// End-to-end: the membership API of the real binary over HTTP.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {

// "mp-" followed by 32 lowercase hex digits.
bool is_minted_id(const std::string& id) {
  return id.size() == 35 && id.rfind("mp-", 0) == 0 &&
         id.find_first_not_of("0123456789abcdef", 3) == std::string::npos;
}
namespace json = boost::json;

class MembershipTest : public ::testing::Test {
 protected:
  CoordinatorProcess coordinator_;
  HttpTestClient client_{coordinator_.port()};
};

TEST_F(MembershipTest, HealthzIsHealthy) {
  auto res = client_.get("/healthz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.json(), json::parse(R"({"status":"healthy"})"));
  EXPECT_EQ(res.header("content-type"), "application/json");
}

TEST_F(MembershipTest, RegisterStripsWhitespaceAndListsRecord) {
  auto res =
      client_.post("/instances", R"({"instance_id":"  node-a ","ip":" 10.0.0.1\t","http_port":8080,
      "metadata":{"zone":"a"},"p2p_advertised_url":" tcp://x:1 ","mq_port":5555})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"node-a","re_registered":false})"));

  auto list = client_.get("/instances").json();
  ASSERT_EQ(list.at("instances").as_array().size(), 1U);
  const auto& record = list.at("instances").at(0).as_object();
  EXPECT_EQ(record.at("instance_id"), "node-a");
  EXPECT_EQ(record.at("ip"), "10.0.0.1");
  EXPECT_EQ(record.at("http_port").to_number<int>(), 8080);
  EXPECT_EQ(record.at("metadata"), json::parse(R"({"zone":"a"})"));
  EXPECT_EQ(record.at("p2p_advertised_url"), "tcp://x:1");
  EXPECT_EQ(record.at("mq_port").to_number<int>(), 5555);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(record.at("registration_time").to_number<double>(), now, 60.0);
  EXPECT_FALSE(record.contains("last_heartbeat"));
}

TEST_F(MembershipTest, BlankIdIsMinted) {
  for (const char* body : {R"({"ip":"1.1.1.1","http_port":1})",
                           R"({"instance_id":"   ","ip":"1.1.1.1","http_port":1})"}) {
    auto res = client_.post("/instances", body);
    ASSERT_EQ(res.status, 200);
    const std::string id(res.json().at("instance_id").as_string());
    EXPECT_TRUE(is_minted_id(id)) << id;
    EXPECT_EQ(res.json().at("re_registered"), false);
  }
  EXPECT_EQ(client_.get("/instances").json().at("instances").as_array().size(), 2U);
}

TEST_F(MembershipTest, ReRegistrationReplacesAndKeepsOrder) {
  client_.post("/instances", R"({"instance_id":"a","ip":"1.1.1.1","http_port":1})");
  client_.post("/instances", R"({"instance_id":"b","ip":"2.2.2.2","http_port":2})");
  auto res = client_.post("/instances", R"({"instance_id":"a","ip":"3.3.3.3","http_port":3})");
  EXPECT_EQ(res.json(), json::parse(R"({"instance_id":"a","re_registered":true})"));
  auto instances = client_.get("/instances").json().at("instances").as_array();
  ASSERT_EQ(instances.size(), 2U);
  EXPECT_EQ(instances[0].at("instance_id"), "a");
  EXPECT_EQ(instances[0].at("ip"), "3.3.3.3");
  EXPECT_EQ(instances[1].at("instance_id"), "b");

  // Removed and registered again: goes to the end.
  EXPECT_EQ(client_.del("/instances/a").status, 204);
  client_.post("/instances", R"({"instance_id":"a","ip":"1.1.1.1","http_port":1})");
  instances = client_.get("/instances").json().at("instances").as_array();
  EXPECT_EQ(instances[0].at("instance_id"), "b");
  EXPECT_EQ(instances[1].at("instance_id"), "a");
}

TEST_F(MembershipTest, HeartbeatKnownAndUnknown) {
  client_.post("/instances", R"({"instance_id":"a","ip":"1.1.1.1","http_port":1})");
  auto ok = client_.put("/instances/a/heartbeat");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json(), json::parse(R"({"instance_id":"a"})"));
  auto missing = client_.put("/instances/ghost/heartbeat");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json(), json::parse(R"({"error":"unknown instance ghost; re-register"})"));
}

TEST_F(MembershipTest, DeleteIsIdempotent) {
  client_.post("/instances", R"({"instance_id":"a","ip":"1.1.1.1","http_port":1})");
  auto first = client_.del("/instances/a");
  EXPECT_EQ(first.status, 204);
  EXPECT_TRUE(first.body.empty());
  EXPECT_EQ(client_.del("/instances/a").status, 204);
  EXPECT_EQ(client_.del("/instances/never").status, 204);
  EXPECT_EQ(client_.put("/instances/a/heartbeat").status, 404);
}

TEST_F(MembershipTest, ValidationErrorsHaveFastApiShape) {
  auto blank_ip = client_.post("/instances", R"({"ip":"   ","http_port":80})");
  EXPECT_EQ(blank_ip.status, 422);
  EXPECT_EQ(blank_ip.json().at("detail").at(0).at("loc"), json::parse(R"(["body","ip"])"));

  auto missing = client_.post("/instances", R"({"http_port":80})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.json().at("detail").at(0).at("type"), "missing");
  EXPECT_EQ(missing.json().at("detail").at(0).at("loc"), json::parse(R"(["body","ip"])"));

  auto number_for_string = client_.post("/instances", R"({"ip":5,"http_port":80})");
  EXPECT_EQ(number_for_string.status, 422);
  EXPECT_EQ(number_for_string.json().at("detail").at(0).at("type"), "string_type");

  auto fractional = client_.post("/instances", R"({"ip":"h","http_port":80.5})");
  EXPECT_EQ(fractional.status, 422);
  EXPECT_EQ(fractional.json().at("detail").at(0).at("type"), "int_from_float");

  auto numeric_string = client_.post("/instances", R"({"ip":"h","http_port":"8080"})");
  EXPECT_EQ(numeric_string.status, 200);

  auto out_of_range = client_.post("/instances", R"({"ip":"h","http_port":70000})");
  EXPECT_EQ(out_of_range.status, 422);
  EXPECT_EQ(out_of_range.json().at("detail").at(0).at("type"), "less_than_equal");

  auto zero_port = client_.post("/instances", R"({"ip":"h","http_port":0})");
  EXPECT_EQ(zero_port.status, 422);

  auto bad_metadata = client_.post("/instances", R"({"ip":"h","http_port":1,"metadata":{"k":1}})");
  EXPECT_EQ(bad_metadata.status, 422);
  EXPECT_EQ(bad_metadata.json().at("detail").at(0).at("loc"),
            json::parse(R"(["body","metadata","k"])"));

  auto unknown_fields_ignored =
      client_.post("/instances", R"({"ip":"h","http_port":1,"extra":[1,2]})");
  EXPECT_EQ(unknown_fields_ignored.status, 200);

  auto malformed = client_.post("/instances", R"({"ip": "h",, })");
  EXPECT_EQ(malformed.status, 422);
  const auto malformed_json = malformed.json();
  const auto& error = malformed_json.at("detail").at(0);
  EXPECT_EQ(error.at("type"), "json_invalid");
  EXPECT_EQ(error.at("loc").at(0), "body");
  EXPECT_TRUE(error.at("loc").at(1).is_number());

  auto not_object = client_.post("/instances", "[1,2]");
  EXPECT_EQ(not_object.status, 422);
  EXPECT_EQ(not_object.json().at("detail").at(0).at("type"), "model_attributes_type");

  // Nothing invalid was registered.
  EXPECT_EQ(client_.get("/instances").json().at("instances").as_array().size(), 2U);
}

TEST(HealthSweepTest, LapsedInstanceIsRemovedAndLogged) {
  CoordinatorProcess coordinator({"--instance-timeout", "0.6", "--health-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  client.post("/instances", R"({"instance_id":"quiet","ip":"1.1.1.1","http_port":1})");
  client.post("/instances", R"({"instance_id":"alive","ip":"1.1.1.1","http_port":2})");
  // Keep "alive" heartbeating while "quiet" lapses.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool quiet_gone = false;
  while (std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(client.put("/instances/alive/heartbeat").status, 200);
    auto instances = client.get("/instances").json().at("instances").as_array();
    quiet_gone = instances.size() == 1;
    if (quiet_gone) {
      EXPECT_EQ(instances[0].at("instance_id"), "alive");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(quiet_gone);
  EXPECT_TRUE(coordinator.wait_for_log("evicted instance quiet"));
  EXPECT_EQ(client.put("/instances/quiet/heartbeat").status, 404);
}

TEST(HealthSweepTest, StalledCoordinatorGrantsGraceInsteadOfEvicting) {
  CoordinatorProcess coordinator({"--instance-timeout", "1", "--health-check-interval", "0.2"});
  HttpTestClient client(coordinator.port());
  client.post("/instances", R"({"instance_id":"a","ip":"1.1.1.1","http_port":1})");
  // Freeze the coordinator for longer than the instance timeout.
  ASSERT_EQ(kill(coordinator.pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_EQ(kill(coordinator.pid(), SIGCONT), 0);
  EXPECT_TRUE(coordinator.wait_for_log("fresh grace period"));
  // Right after the stall the instance is still registered and may heartbeat.
  EXPECT_EQ(client.put("/instances/a/heartbeat").status, 200);
}

}  // namespace
}  // namespace lmcache::testing
