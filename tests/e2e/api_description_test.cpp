// End-to-end: the real binary serves its API description at GET /openapi.json (JSON) and a
// reference page at GET /docs (HTML that loads nothing from another origin), and every operation
// the description does not mark `x-lmcache-planned` answers a minimal request the way the
// description says: a documented status, a documented media type, and the top-level fields the
// documented schema requires.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {

namespace json = boost::json;
namespace beast_http = boost::beast::http;

// The media type of a Content-Type value, without its parameters.
std::string media_type(const std::string& content_type) {
  return content_type.substr(0, content_type.find(';'));
}

// The value a local reference ("#/a/b") points to in `document`.
const json::value& resolve(const json::value& document, const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr || !object->contains("$ref")) return value;
  const std::string ref(object->at("$ref").as_string());
  if (ref.rfind("#/", 0) != 0) throw std::runtime_error("not a local reference: " + ref);
  return resolve(document, document.at_pointer(ref.substr(1)));
}

std::optional<beast_http::verb> verb_of(std::string_view method) {
  if (method == "get") return beast_http::verb::get;
  if (method == "put") return beast_http::verb::put;
  if (method == "post") return beast_http::verb::post;
  if (method == "delete") return beast_http::verb::delete_;
  if (method == "patch") return beast_http::verb::patch;
  return std::nullopt;
}

TEST(ApiDescriptionE2E, OpenApiJsonIsTheRepositoryDocumentServedAsJson) {
  CoordinatorProcess coordinator;
  HttpTestClient client(coordinator.port());
  const TestResponse res = client.get("/openapi.json");
  ASSERT_EQ(res.status, 200U);
  EXPECT_EQ(res.header("content-type"), "application/json");
  EXPECT_EQ(res.json().at("openapi").as_string(), "3.1.0");

  std::ifstream file(std::string(API_DOCUMENT_DIR) + "/openapi.json", std::ios::binary);
  ASSERT_TRUE(file);
  std::ostringstream text;
  text << file.rdbuf();
  EXPECT_EQ(res.body, text.str());
}

TEST(ApiDescriptionE2E, DocsIsAnOfflineHtmlPageOfTheDocument) {
  CoordinatorProcess coordinator;
  HttpTestClient client(coordinator.port());
  const TestResponse res = client.get("/docs");
  ASSERT_EQ(res.status, 200U);
  EXPECT_EQ(res.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(res.body.rfind("<!doctype html>", 0), 0U);
  // It renders the document it is served beside, relative to its own URL (so a proxy prefix
  // works), and names no other origin: no CDN, no fonts, nothing that needs a network.
  EXPECT_NE(res.body.find("fetch(\"openapi.json\")"), std::string::npos);
  EXPECT_EQ(res.body.find("://"), std::string::npos);
}

TEST(ApiDescriptionE2E, EveryServedOperationAnswersAsDescribed) {
  CoordinatorProcess coordinator;
  HttpTestClient client(coordinator.port());
  const json::value document = client.get("/openapi.json").json();
  static const std::regex kParameter(R"(\{[^}/]+\})");

  size_t checked = 0;
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const auto& [method, operation_value] : item.as_object()) {
      const auto verb = verb_of(method);
      if (!verb) continue;
      const json::object& operation = operation_value.as_object();
      const json::value* planned = operation.if_contains("x-lmcache-planned");
      if (planned != nullptr && planned->as_bool()) continue;

      // Every path parameter as "x" (a valid salt, an unknown instance); an empty JSON object as
      // the body where one is taken. The answer may be a success or a documented error.
      const std::string target = std::regex_replace(std::string(path), kParameter, "x");
      const std::string body = operation.contains("requestBody") ? "{}" : "";
      const std::string what = fmt::format("{} {}", std::string(method), target);
      const TestResponse res = client.request(*verb, target, body);
      ++checked;

      const json::object& responses = operation.at("responses").as_object();
      const std::string status = std::to_string(res.status);
      const json::value* documented = responses.if_contains(status);
      if (documented == nullptr) documented = responses.if_contains("default");
      if (documented == nullptr) {
        ADD_FAILURE() << what << " answered " << status << ", not documented: " << res.body;
        continue;
      }
      const json::object& response = resolve(document, *documented).as_object();

      const json::value* content = response.if_contains("content");
      if (content == nullptr) {
        EXPECT_TRUE(res.body.empty()) << what << " answered a body its description has not";
        continue;
      }
      const json::object* media = nullptr;
      for (const auto& [type, value] : content->as_object()) {
        if (media_type(std::string(type)) == media_type(res.header("content-type"))) {
          media = &value.as_object();
        }
      }
      if (media == nullptr) {
        ADD_FAILURE() << what << " answered " << status << " as " << res.header("content-type")
                      << ", not a documented media type";
        continue;
      }
      if (media_type(res.header("content-type")) != "application/json") continue;

      const json::value answer = res.json();
      const json::object& schema = resolve(document, media->at("schema")).as_object();
      if (const json::value* required = schema.if_contains("required")) {
        for (const json::value& field : required->as_array()) {
          EXPECT_TRUE(answer.as_object().contains(field.as_string()))
              << what << " answered " << status << " without " << field << ": " << res.body;
        }
      }
    }
  }
  EXPECT_GE(checked, 28U);  // the operations served when this test was written
}

}  // namespace
}  // namespace lmcache::testing
