#include "http/request_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/router.h"

namespace lmcache::http {
namespace {
using namespace std::chrono_literals;

// A router whose one route answers the status given in the query ("/s/x?404").
struct Fixture {
  RequestMetrics metrics;
  Router router;

  Fixture() {
    router.add(beast_http::verb::post, "/s/{name}", [](const RouteRequest& request) {
      const std::string_view target = request.message.target();
      const size_t query = target.find('?');
      const unsigned status =
          query == std::string_view::npos ? 200 : std::stoul(std::string(target.substr(query + 1)));
      return HttpResponse{static_cast<beast_http::status>(status), 11};
    });
    metrics.observe(router);
  }

  void dispatch(beast_http::verb method, std::string_view target) {
    bool answered = false;
    router.dispatch(HttpRequest{method, target, 11}, [&](const HttpResponse&) { answered = true; });
    EXPECT_TRUE(answered);
  }

  std::string text() const { return prometheus::TextSerializer().Serialize(metrics.Collect()); }
};

constexpr const char* kRequests = "lmcache_coordinator_http_requests_total";
constexpr const char* kDurations = "lmcache_coordinator_http_request_duration_seconds";

TEST(RequestMetricsTest, CountsByRouteMethodAndStatusAndTimesByRouteAndMethod) {
  Fixture f;
  f.dispatch(beast_http::verb::post, "/s/a");
  f.dispatch(beast_http::verb::post, "/s/b");
  f.dispatch(beast_http::verb::post, "/s/a?422");
  f.dispatch(beast_http::verb::get, "/s/a");    // 405
  f.dispatch(beast_http::verb::get, "/other");  // 404
  const std::string text = f.text();
  EXPECT_NE(text.find(std::string("# TYPE ") + kRequests + " counter\n"), std::string::npos);
  EXPECT_NE(text.find(std::string("# TYPE ") + kDurations + " histogram\n"), std::string::npos);
  EXPECT_NE(text.find(std::string(kRequests) +
                      "{method=\"POST\",route=\"/s/{name}\",status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(std::string(kRequests) +
                      "{method=\"POST\",route=\"/s/{name}\",status=\"422\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      text.find(std::string(kRequests) + "{method=\"GET\",route=\"unmatched\",status=\"405\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(std::string(kRequests) + "{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find(std::string(kDurations) + "_count{method=\"POST\",route=\"/s/{name}\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find(std::string(kDurations) +
                      "_bucket{method=\"POST\",route=\"/s/{name}\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find(std::string(kDurations) + "_count{method=\"GET\",route=\"unmatched\"} 2\n"),
            std::string::npos);
}

TEST(RequestMetricsTest, RecordsIntoTheRightBucket) {
  Fixture f;
  f.metrics.record(0, beast_http::verb::post, 200, 3ms);  // 0.0025 < 0.003 <= 0.005
  const std::string text = f.text();
  const std::string series =
      std::string(kDurations) + "_bucket{method=\"POST\",route=\"/s/{name}\",";
  EXPECT_NE(text.find(series + "le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(series + "le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find(std::string(kDurations) + "_sum{method=\"POST\",route=\"/s/{name}\"} 0.003"),
            std::string::npos);
}

// More statuses than a route keeps in its lock-free table still count exactly.
TEST(RequestMetricsTest, ManyStatusesOnOneRouteAllCount) {
  Fixture f;
  for (unsigned status = 200; status < 220; ++status) {
    for (unsigned i = 0; i < 2; ++i) f.metrics.record(0, beast_http::verb::post, status, 1ms);
  }
  const std::string text = f.text();
  for (unsigned status = 200; status < 220; ++status) {
    EXPECT_NE(text.find(std::string(kRequests) + "{method=\"POST\",route=\"/s/{name}\",status=\"" +
                        std::to_string(status) + "\"} 2\n"),
              std::string::npos)
        << status;
  }
}

TEST(RequestMetricsTest, ConcurrentRecordingLosesNothing) {
  Fixture f;
  constexpr unsigned kThreads = 4;
  constexpr unsigned kEach = 5000;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&f, t] {
      for (unsigned i = 0; i < kEach; ++i) {
        f.metrics.record(0, beast_http::verb::post, 200 + (i + t) % 3, 1ms);
        f.metrics.record(Router::kNoRoute, beast_http::verb::get, 404, 1ms);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string text = f.text();
  unsigned long total = 0;
  for (unsigned status = 200; status < 203; ++status) {
    const std::string series = std::string(kRequests) +
                               "{method=\"POST\",route=\"/s/{name}\",status=\"" +
                               std::to_string(status) + "\"} ";
    const size_t at = text.find(series);
    ASSERT_NE(at, std::string::npos) << text;
    total += std::stoul(text.substr(at + series.size()));
  }
  EXPECT_EQ(total, kThreads * kEach);
  EXPECT_NE(text.find(std::string(kDurations) + "_count{method=\"GET\",route=\"unmatched\"} " +
                      std::to_string(kThreads * kEach) + "\n"),
            std::string::npos);
}

}  // namespace
}  // namespace lmcache::http
