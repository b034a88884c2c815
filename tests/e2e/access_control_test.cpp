// End-to-end: operator tokens (--admin-token-file, --protect-reads), --fleet-cidr, the SIGHUP
// reload of the token file and the audit lines, against the real binary on loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {
namespace fs = std::filesystem;
using verb = boost::beast::http::verb;

constexpr const char* kToken = "e2e-operator-token-7f3a";
constexpr const char* kSecondToken = "second-token-b91c";
constexpr const char* kRotatedToken = "rotated-token-42d0";
// printf %s <token> | sha256sum | cut -c1-8
constexpr const char* kTokenFingerprint = "4caa2b26";
constexpr const char* kRotatedFingerprint = "91d8aa22";

struct Call {
  verb method;
  std::string target;
  std::string body;
};

std::string describe(const Call& call) {
  return std::string(boost::beast::http::to_string(call.method)) + " " + call.target;
}

const std::string kPinBody =
    R"({"model_name":"llama","world_size":1,"token_ids":[1,2,3,4],"cache_salt":"alice"})";

// Every operator route of this build (POST /cache/delete is classified by the same table; see
// route_access_test), each with a body it accepts.
const std::vector<Call> kOperatorCalls = {
    {verb::put, "/l2/quota/alice", R"({"limit_gb":1})"},
    {verb::delete_, "/l2/quota/alice", ""},
    {verb::put, "/quota/alice", R"({"limit_gb":2})"},
    {verb::delete_, "/quota/alice?tier=l2", ""},
    {verb::put, "/quota/config", R"({"default_limit_gb":3})"},
    {verb::post, "/cache/pins", kPinBody},
    {verb::delete_, "/cache/pins", kPinBody},
    {verb::get, "/cache/pins", ""},
};

// The tenant-revealing reads of this build.
const std::vector<Call> kTenantReads = {
    {verb::get, "/l2/status", ""},    {verb::get, "/l2/status/alice", ""},
    {verb::get, "/quota", ""},        {verb::get, "/quota/alice", ""},
    {verb::get, "/quota/config", ""}, {verb::get, "/metrics", ""},
};

// What MP servers call; the instance registers first and deregisters last.
const std::vector<Call> kFleetCalls = {
    {verb::post, "/instances", R"({"instance_id":"mp-1","ip":"127.0.0.1","http_port":1})"},
    {verb::put, "/instances/mp-1/heartbeat", ""},
    {verb::post, "/events", R"({"batches":[]})"},
    {verb::post, "/l2/events", R"({"instance_id":"mp-1","seq":1,"events":[]})"},
    {verb::post, "/blend/match", R"({"tokens_b64":""})"},
    {verb::post, "/l2/prefetch", R"({})"},
    {verb::delete_, "/instances/mp-1", ""},
};

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("access-control-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    token_file_ = (dir_ / "tokens").string();
    write_tokens(std::string("  ") + kToken + " \n\n" + kSecondToken + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_tokens(const std::string& text) {
    const std::string temporary = token_file_ + ".new";
    std::ofstream(temporary) << text;
    fs::rename(temporary, token_file_);  // the coordinator never reads half a file
  }

  static TestResponse send(HttpTestClient& client, const Call& call,
                           const std::map<std::string, std::string>& headers = {}) {
    return client.request(call.method, call.target, call.body, headers);
  }

  // Without a token: 401 + WWW-Authenticate; a wrong one: 403; the right one: 2xx.
  static void expect_protected(HttpTestClient& client, const Call& call) {
    SCOPED_TRACE(describe(call));
    const TestResponse missing = send(client, call);
    EXPECT_EQ(missing.status, 401) << missing.body;
    EXPECT_EQ(missing.header("www-authenticate"), "Bearer");
    EXPECT_TRUE(missing.json().at("detail").is_string()) << missing.body;

    const TestResponse wrong = send(client, call, bearer("not-the-token"));
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    EXPECT_TRUE(wrong.json().at("detail").is_string()) << wrong.body;

    const TestResponse right = send(client, call, bearer(kToken));
    EXPECT_GE(right.status, 200U) << right.body;
    EXPECT_LT(right.status, 300U) << right.body;
  }

  fs::path dir_;
  std::string token_file_;
};

TEST_F(AccessControlTest, EveryOperatorRouteNeedsTheToken) {
  CoordinatorProcess coordinator({"--admin-token-file", token_file_});
  HttpTestClient client(coordinator.port());
  for (const Call& call : kOperatorCalls) expect_protected(client, call);
  // Either token of the file works.
  EXPECT_EQ(send(client, kOperatorCalls[2], bearer(kSecondToken)).status, 200);
}

TEST_F(AccessControlTest, ReadsAreOpenUnlessProtectReads) {
  {
    CoordinatorProcess coordinator({"--admin-token-file", token_file_});
    HttpTestClient client(coordinator.port());
    for (const Call& call : kTenantReads) {
      EXPECT_EQ(send(client, call).status, 200) << describe(call);
    }
  }
  CoordinatorProcess coordinator({"--admin-token-file", token_file_, "--protect-reads"});
  HttpTestClient client(coordinator.port());
  for (const Call& call : kTenantReads) expect_protected(client, call);
  EXPECT_EQ(client.get("/healthz").status, 200);
  EXPECT_EQ(client.get("/instances").status, 200);
}

TEST_F(AccessControlTest, FleetRoutesStayOpenWithoutAToken) {
  CoordinatorProcess coordinator({"--admin-token-file", token_file_, "--protect-reads"});
  HttpTestClient client(coordinator.port());
  for (const Call& call : kFleetCalls) {
    const TestResponse res = send(client, call);
    EXPECT_NE(res.status, 401U) << describe(call) << ": " << res.body;
    EXPECT_NE(res.status, 403U) << describe(call) << ": " << res.body;
    EXPECT_LT(res.status, 500U) << describe(call) << ": " << res.body;
  }
  EXPECT_EQ(send(client, kFleetCalls[0]).status, 200);  // register
  EXPECT_EQ(send(client, kFleetCalls[1]).status, 200);  // heartbeat
}

TEST_F(AccessControlTest, FleetCidrRefusesFleetRoutesFromOtherNetworksOnly) {
  CoordinatorProcess coordinator(
      {"--fleet-cidr", "10.0.0.0/8,fd00::/8", "--admin-token-file", token_file_});
  HttpTestClient client(coordinator.port());
  for (const Call& call : kFleetCalls) {
    const TestResponse res = send(client, call);
    EXPECT_EQ(res.status, 403) << describe(call) << ": " << res.body;
    EXPECT_NE(res.json().at("detail").as_string().find("127.0.0.1"), std::string::npos);
  }
  // Operator routes (with the token) and open routes do not look at the address.
  EXPECT_EQ(send(client, kOperatorCalls[2], bearer(kToken)).status, 200);
  EXPECT_EQ(client.get("/healthz").status, 200);
  EXPECT_TRUE(coordinator.wait_for_log("fleet routes answer only 10.0.0.0/8,fd00::/8"));

  CoordinatorProcess loopback({"--fleet-cidr", "127.0.0.0/8"});
  HttpTestClient allowed(loopback.port());
  EXPECT_EQ(send(allowed, kFleetCalls[0]).status, 200);
}

TEST_F(AccessControlTest, BadSettingsExitTwoWithOneClearLine) {
  std::ofstream(dir_ / "empty") << "\n  \n";
  auto result = run_lmcache({"coordinator", "--admin-token-file", (dir_ / "empty").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("holds no token"), std::string::npos) << result.output;

  result = run_lmcache({"coordinator", "--admin-token-file", (dir_ / "absent").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("cannot read"), std::string::npos) << result.output;

  result = run_lmcache({"coordinator"}, {{"LMCACHE_MP_COORDINATOR_FLEET_CIDR", "10.0.0.0/40"}});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("10.0.0.0/40"), std::string::npos) << result.output;
}

TEST_F(AccessControlTest, SighupReloadsTheTokenFileAndKeepsTheOldTokensOnABadOne) {
  CoordinatorProcess coordinator({"--admin-token-file", token_file_});
  HttpTestClient client(coordinator.port());
  const Call& put = kOperatorCalls[2];
  ASSERT_EQ(send(client, put, bearer(kToken)).status, 200);
  ASSERT_EQ(send(client, put, bearer(kRotatedToken)).status, 403);

  write_tokens(std::string(kRotatedToken) + "\n");
  ASSERT_EQ(::kill(coordinator.pid(), SIGHUP), 0);
  ASSERT_TRUE(coordinator.wait_for_log("SIGHUP: reloaded 1 admin token(s)"));
  EXPECT_EQ(send(client, put, bearer(kRotatedToken)).status, 200);
  EXPECT_EQ(send(client, put, bearer(kToken)).status, 403);

  write_tokens("\n\n");  // an empty file: refused, the rotated token stays valid
  ASSERT_EQ(::kill(coordinator.pid(), SIGHUP), 0);
  ASSERT_TRUE(coordinator.wait_for_log("keeping the 1 token(s) loaded before"));
  EXPECT_EQ(send(client, put, bearer(kRotatedToken)).status, 200);
  EXPECT_NE(coordinator.log().find("[error] SIGHUP: the admin token file"), std::string::npos)
      << coordinator.log();
  EXPECT_EQ(coordinator.stop(SIGTERM), 0);  // SIGHUP did not end the process
}

TEST_F(AccessControlTest, EveryOperatorChangeIsOneAuditLineAndNoTokenIsEverLogged) {
  CoordinatorProcess coordinator({"--admin-token-file", token_file_, "--log-level", "trace"});
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(client.request(verb::put, "/quota/alice", R"({"limit_gb":1})", bearer(kToken)).status,
            200);
  ASSERT_EQ(
      client.request(verb::put, "/l2/quota/alice", R"({"limit_gb":2})", bearer(kToken)).status,
      200);
  ASSERT_EQ(client.request(verb::delete_, "/quota/alice", "", bearer(kToken)).status, 200);
  ASSERT_EQ(
      client.request(verb::put, "/quota/config", R"({"default_limit_gb":null})", bearer(kToken))
          .status,
      200);
  ASSERT_EQ(client.request(verb::post, "/cache/pins", kPinBody, bearer(kToken)).status, 200);
  ASSERT_EQ(client.request(verb::delete_, "/cache/pins", kPinBody, bearer(kToken)).status, 200);
  // Refused attempts with other secrets change nothing and log no audit line.
  ASSERT_EQ(
      client.request(verb::put, "/quota/bob", R"({"limit_gb":1})", bearer("a-wrong-secret-9d1e"))
          .status,
      403);

  const std::string who = std::string("caller=token:") + kTokenFingerprint + " peer=127.0.0.1 ";
  ASSERT_TRUE(coordinator.wait_for_log(who + R"(request="DELETE /cache/pins")"))
      << coordinator.log();
  const std::string log = coordinator.log();
  for (const std::string& line : {
           who + R"(request="PUT /quota/alice" target="quota of cache_salt 'alice'" )"
                 R"(before="none" after="1073741824 bytes")",
           who + R"(request="PUT /l2/quota/alice" target="quota of cache_salt 'alice'" )"
                 R"(before="1073741824 bytes" after="2147483648 bytes")",
           who + R"(request="DELETE /quota/alice" target="quota of cache_salt 'alice'" )"
                 R"(before="2147483648 bytes" after="none")",
           who + R"(request="PUT /quota/config" target="default quota" before="0 bytes" )"
                 R"(after="none")",
           who + R"(request="POST /cache/pins")",
       }) {
    EXPECT_NE(log.find("audit: " + line), std::string::npos) << line << "\n" << log;
  }
  size_t audit_lines = 0;
  for (size_t at = log.find("audit: "); at != std::string::npos; at = log.find("audit: ", at + 1)) {
    ++audit_lines;
  }
  EXPECT_EQ(audit_lines, 6U) << log;
  EXPECT_EQ(log.find("bob"), std::string::npos) << log;

  // The tokens themselves never reach the log, also the wrong one, also after a reload.
  write_tokens(std::string(kRotatedToken) + "\n");
  ASSERT_EQ(::kill(coordinator.pid(), SIGHUP), 0);
  ASSERT_TRUE(coordinator.wait_for_log("SIGHUP: reloaded"));
  ASSERT_EQ(
      client.request(verb::put, "/quota/carol", R"({"limit_gb":1})", bearer(kRotatedToken)).status,
      200);
  ASSERT_TRUE(coordinator.wait_for_log(std::string("caller=token:") + kRotatedFingerprint));
  const std::string full = coordinator.log();
  for (const char* secret : {kToken, kSecondToken, kRotatedToken, "a-wrong-secret-9d1e"}) {
    EXPECT_EQ(full.find(secret), std::string::npos) << secret << "\n" << full;
  }
}

}  // namespace
}  // namespace lmcache::testing
