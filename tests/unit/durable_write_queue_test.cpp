// app::DurableWriteQueue with a scripted etcd: the order of writes and answers, and undo.
#include "app/durable_write_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lmcache::app {
namespace {

namespace beast_http = boost::beast::http;

http::HttpResponse status(beast_http::status code) {
  http::HttpResponse response;
  response.result(code);
  return response;
}

// The local state (key -> value), an etcd whose writes complete when the test says so, and the
// answers clients received, in order.
class DurableWriteQueueTest : public ::testing::Test {
 protected:
  struct PendingWrite {
    std::string key;
    std::optional<std::string> value;
    std::function<void(std::string)> done;
  };

  DurableKey key(const std::string& name) {
    return DurableKey{
        name, [this, name] { return local_[name]; },
        [this, name](const std::optional<std::string>& value) { local_[name] = value; }};
  }

  // Admits a write named `client` of `name`; returns what the route calls to answer.
  http::Respond admit(const std::string& name, const std::string& client) {
    return queue_.admit(key(name), [this, client](const http::HttpResponse& response) {
      answers_.push_back(client + " " + std::to_string(response.result_int()));
    });
  }

  // Runs a route: sets the local value, then answers 200.
  void route(const std::string& name, const std::string& value, http::Respond& respond) {
    local_[name] = value;
    respond(status(beast_http::status::ok));
  }

  // Completes the oldest pending etcd write.
  void complete(const std::string& error = {}) {
    ASSERT_FALSE(writes_.empty());
    PendingWrite write = std::move(writes_.front());
    writes_.erase(writes_.begin());
    if (error.empty()) etcd_[write.key] = write.value;
    write.done(error);
  }

  std::map<std::string, std::optional<std::string>> local_;
  std::map<std::string, std::optional<std::string>> etcd_;
  std::vector<PendingWrite> writes_;
  std::vector<std::string> answers_;
  DurableWriteQueue queue_{[this](const std::string& key, const std::optional<std::string>& value,
                                  std::function<void(std::string)> done) {
    writes_.push_back({key, value, std::move(done)});
  }};
};

TEST_F(DurableWriteQueueTest, WritesOfOneKeyReachEtcdOneAtATimeAndAreAnsweredInThatOrder) {
  http::Respond a = admit("quota/s", "a");
  route("quota/s", "1", a);
  ASSERT_EQ(writes_.size(), 1U);
  EXPECT_EQ(writes_[0].value, "1");
  http::Respond b = admit("quota/s", "b");
  route("quota/s", "2", b);
  EXPECT_EQ(writes_.size(), 1U) << "a second write of the key went out while one was in flight";
  EXPECT_TRUE(answers_.empty()) << "answered before etcd committed";

  complete();
  EXPECT_EQ(answers_, std::vector<std::string>{"a 200"});
  ASSERT_EQ(writes_.size(), 1U);
  EXPECT_EQ(writes_[0].value, "2");  // read when sent: b's value
  complete();
  EXPECT_EQ(answers_, (std::vector<std::string>{"a 200", "b 200"}));
  EXPECT_EQ(etcd_["quota/s"], local_["quota/s"]);
  EXPECT_EQ(queue_.busy_keys(), 0U);
}

TEST_F(DurableWriteQueueTest, AWriteWaitsForEarlierAdmittedRoutesAndCarriesTheirChangesToo) {
  http::Respond a = admit("quota/s", "a");
  http::Respond b = admit("quota/s", "b");
  local_["quota/s"] = "1";   // a's route changes the value but has not answered yet
  route("quota/s", "2", b);  // b's route runs and answers
  EXPECT_TRUE(writes_.empty()) << "b must not be stored or answered before a";
  a(status(beast_http::status::ok));
  ASSERT_EQ(writes_.size(), 1U);
  EXPECT_EQ(writes_[0].value, "2");
  complete();
  EXPECT_EQ(answers_, (std::vector<std::string>{"a 200", "b 200"}));
  EXPECT_TRUE(writes_.empty());
}

TEST_F(DurableWriteQueueTest, ARefusedRouteIsPassedOnAtOnceAndWritesNothing) {
  http::Respond a = admit("quota/s", "a");
  a(status(beast_http::status::unprocessable_entity));
  EXPECT_EQ(answers_, std::vector<std::string>{"a 422"});
  EXPECT_TRUE(writes_.empty());
  EXPECT_EQ(queue_.busy_keys(), 0U);
}

TEST_F(DurableWriteQueueTest, DifferentKeysAreWrittenSideBySide) {
  http::Respond a = admit("quota/s", "a");
  http::Respond b = admit("quota/t", "b");
  route("quota/s", "1", a);
  route("quota/t", "2", b);
  ASSERT_EQ(writes_.size(), 2U);
  writes_[1].done({});
  EXPECT_EQ(answers_, std::vector<std::string>{"b 200"});
}

TEST_F(DurableWriteQueueTest, AFailedWriteUndoesEveryOutstandingChangeOfTheKeyAndAnswers503) {
  local_["quota/s"] = "0";
  etcd_["quota/s"] = "0";
  http::Respond a = admit("quota/s", "a");
  route("quota/s", "1", a);
  http::Respond b = admit("quota/s", "b");
  route("quota/s", "2", b);                 // answered by its route, waiting behind a
  http::Respond c = admit("quota/s", "c");  // admitted, its route not run yet

  complete("etcd: connect: Connection refused");
  EXPECT_EQ(answers_, (std::vector<std::string>{"a 503", "b 503"}));
  EXPECT_EQ(local_["quota/s"], "0") << "the local value is not what etcd holds";
  http::Respond d = admit("quota/s", "d");  // admitted while c is outstanding: fails too
  route("quota/s", "3", c);
  EXPECT_EQ(local_["quota/s"], "0");
  route("quota/s", "4", d);
  EXPECT_EQ(local_["quota/s"], "0");
  EXPECT_EQ(answers_, (std::vector<std::string>{"a 503", "b 503", "c 503", "d 503"}));
  EXPECT_TRUE(writes_.empty());
  EXPECT_EQ(queue_.busy_keys(), 0U);

  // Once nothing is outstanding the key is written again as usual.
  http::Respond e = admit("quota/s", "e");
  route("quota/s", "5", e);
  complete();
  EXPECT_EQ(answers_.back(), "e 200");
  EXPECT_EQ(etcd_["quota/s"], "5");
}

TEST_F(DurableWriteQueueTest, AFailedDeleteRestoresTheValueEtcdStillHolds) {
  local_["quota/s"] = "7";
  http::Respond a = admit("quota/s", "a");
  local_["quota/s"] = std::nullopt;
  a(status(beast_http::status::ok));
  ASSERT_EQ(writes_.size(), 1U);
  EXPECT_EQ(writes_[0].value, std::nullopt);
  complete("the write was fenced: a newer leader exists");
  EXPECT_EQ(local_["quota/s"], "7");
  EXPECT_EQ(answers_, std::vector<std::string>{"a 503"});
}

}  // namespace
}  // namespace lmcache::app
