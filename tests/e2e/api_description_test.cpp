// End-to-end: the real binary serves its API description at GET /openapi.json (JSON) and a
// reference page at GET /docs (HTML that loads nothing from another origin and, in headless
// Chromium, shows every operation), and every operation the description does not mark
// `x-lmcache-planned` answers its documented example and an empty body the way the description
// says: a documented status and media type, and a body that fits the documented schema.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
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

// Whether `value` is of the JSON Schema type `type`.
bool is_of_type(const json::value& value, std::string_view type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_bool();
  if (type == "null") return value.is_null();
  if (type == "integer") return value.is_int64() || value.is_uint64();
  if (type == "number") return value.is_number();
  return false;
}

// Where `value` breaks `schema`, one line each, for the keywords the description uses: $ref,
// type, const, enum, required, properties, additionalProperties (a schema), items, minimum and
// maximum. Other keywords are not checked.
void schema_errors(const json::value& document, const json::value& schema_value,
                   const json::value& value, const std::string& at,
                   std::vector<std::string>& errors) {
  const json::object& schema = resolve(document, schema_value).as_object();
  if (const json::value* type = schema.if_contains("type")) {
    bool fits = false;
    if (type->is_string()) {
      fits = is_of_type(value, type->as_string());
    } else {
      for (const json::value& one : type->as_array()) {
        fits = fits || is_of_type(value, one.as_string());
      }
    }
    if (!fits) {
      errors.push_back(at + " is " + json::serialize(value) + ", not " + json::serialize(*type));
      return;
    }
  }
  if (const json::value* constant = schema.if_contains("const"); constant && *constant != value) {
    errors.push_back(at + " is " + json::serialize(value) + ", not " + json::serialize(*constant));
  }
  if (const json::value* choices = schema.if_contains("enum")) {
    const json::array& list = choices->as_array();
    if (std::find(list.begin(), list.end(), value) == list.end()) {
      errors.push_back(at + " is " + json::serialize(value) + ", not one of " +
                       json::serialize(*choices));
    }
  }
  if (value.is_number()) {
    const double number = value.to_number<double>();
    if (const json::value* minimum = schema.if_contains("minimum");
        minimum && number < minimum->to_number<double>()) {
      errors.push_back(at + " is below its minimum");
    }
    if (const json::value* maximum = schema.if_contains("maximum");
        maximum && number > maximum->to_number<double>()) {
      errors.push_back(at + " is above its maximum");
    }
  }
  if (const json::object* object = value.if_object()) {
    if (const json::value* required = schema.if_contains("required")) {
      for (const json::value& name : required->as_array()) {
        if (!object->contains(name.as_string())) {
          errors.push_back(at + "." + std::string(name.as_string()) + " is missing");
        }
      }
    }
    const json::value* properties = schema.if_contains("properties");
    const json::value* additional = schema.if_contains("additionalProperties");
    for (const auto& [name, field] : *object) {
      const std::string field_at = at + "." + std::string(name);
      if (properties != nullptr && properties->as_object().contains(name)) {
        schema_errors(document, properties->as_object().at(name), field, field_at, errors);
      } else if (additional != nullptr && additional->is_object()) {
        schema_errors(document, *additional, field, field_at, errors);
      }
    }
  }
  if (const json::array* array = value.if_array()) {
    if (const json::value* items = schema.if_contains("items")) {
      for (size_t i = 0; i < array->size(); ++i) {
        schema_errors(document, *items, (*array)[i], at + "[" + std::to_string(i) + "]", errors);
      }
    }
  }
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

// The DOM of `url` after headless Chromium ran its scripts; nullopt when chromium is missing.
std::optional<std::string> rendered_dom(const std::string& url) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) return std::nullopt;
  char profile_template[] = "/tmp/lmcache-docs-chromium.XXXXXX";
  const char* profile = mkdtemp(profile_template);
  if (profile == nullptr) throw std::runtime_error("mkdtemp failed");
  // --no-sandbox: the tests may run as root, which Chromium's sandbox refuses.
  const std::string command = fmt::format(
      "timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run "
      "--user-data-dir={} --virtual-time-budget=10000 --dump-dom '{}' 2>/dev/null; rm -rf {}",
      profile, url, profile);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string dom;
  char buffer[4096];
  while (const size_t n = fread(buffer, 1, sizeof(buffer), pipe)) dom.append(buffer, n);
  pclose(pipe);
  return dom;
}

// Checks an answer against the operation's description: a documented status (or `default`), a
// documented media type, no body where none is documented, and a JSON body that fits the
// documented schema (schema_errors).
void expect_described(const json::value& document, const json::object& operation,
                      const std::string& what, const TestResponse& res) {
  const json::object& responses = operation.at("responses").as_object();
  const std::string status = std::to_string(res.status);
  const json::value* documented = responses.if_contains(status);
  if (documented == nullptr) documented = responses.if_contains("default");
  if (documented == nullptr) {
    ADD_FAILURE() << what << " answered " << status << ", not documented: " << res.body;
    return;
  }
  const json::object& response = resolve(document, *documented).as_object();
  const json::value* content = response.if_contains("content");
  if (content == nullptr) {
    EXPECT_TRUE(res.body.empty()) << what << " answered a body its description has not";
    return;
  }
  const std::string served_type = media_type(res.header("content-type"));
  const json::object* media = nullptr;
  for (const auto& [type, value] : content->as_object()) {
    if (media_type(std::string(type)) == served_type) media = &value.as_object();
  }
  if (media == nullptr) {
    ADD_FAILURE() << what << " answered " << status << " as " << res.header("content-type")
                  << ", not a documented media type";
    return;
  }
  if (served_type != "application/json") return;
  std::vector<std::string> errors;
  schema_errors(document, media->at("schema"), res.json(), "answer", errors);
  for (const std::string& error : errors) {
    ADD_FAILURE() << what << " answered " << status << " against its schema: " << error << "\n"
                  << res.body;
  }
}

// The path with each `{name}` replaced by its parameter's example ("x" without one).
std::string example_target(const json::value& document, const std::string& path,
                           const json::object& operation) {
  std::string target = path;
  if (const json::value* parameters = operation.if_contains("parameters")) {
    for (const json::value& parameter_value : parameters->as_array()) {
      const json::object& parameter = resolve(document, parameter_value).as_object();
      if (parameter.at("in").as_string() != "path") continue;
      const std::string name = "{" + std::string(parameter.at("name").as_string()) + "}";
      const json::value* example = parameter.if_contains("example");
      const std::string value = example != nullptr ? std::string(example->as_string()) : "x";
      target.replace(target.find(name), name.size(), value);
    }
  }
  // Any {name} left becomes "x" (not std::regex: GCC 12 at -O2 warns inside it, which -Werror
  // turns into a failed build).
  std::string out;
  for (size_t at = 0; at < target.size();) {
    const size_t close = target[at] == '{' ? target.find('}', at) : std::string::npos;
    if (close != std::string::npos && target.find('/', at) > close) {
      out += 'x';
      at = close + 1;
    } else {
      out += target[at++];
    }
  }
  return out;
}

TEST(ApiDescriptionE2E, DocsRendersEveryOperationInABrowser) {
  CoordinatorProcess coordinator;
  HttpTestClient client(coordinator.port());
  const json::value document = client.get("/openapi.json").json();
  const auto dom = rendered_dom(fmt::format("http://127.0.0.1:{}/docs", coordinator.port()));
  if (!dom) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";

  // The page's error line (the script's own text names the message too, not the element).
  EXPECT_EQ(dom->find("<span class=\"error\">"), std::string::npos) << *dom;
  size_t operations = 0;
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      if (!verb_of(method)) continue;
      ++operations;
      const std::string id(operation.at("operationId").as_string());
      EXPECT_NE(dom->find("id=\"op-" + id + "\""), std::string::npos)
          << "/docs does not show " << std::string(method) << " " << std::string(path);
    }
  }
  EXPECT_GE(operations, 28U);
}

// In document order (the membership routes first, so the example instance is registered when its
// heartbeat is sent), every operation not marked `x-lmcache-planned` is sent its request-body
// example, which must succeed unless the operation relays another server (it documents a 502),
// and then an empty object (or nothing) as the body; both answers must be as described.
TEST(ApiDescriptionE2E, EveryServedOperationAnswersAsDescribed) {
  // No background calls to the example instance while the operations run.
  CoordinatorProcess coordinator({"--eviction-check-interval", "0", "--health-check-interval", "0"},
                                 {{"LMCACHE_MP_COORDINATOR_ENABLE_STARTUP_RESYNC", "false"}});
  HttpTestClient client(coordinator.port());
  const json::value document = client.get("/openapi.json").json();

  size_t checked = 0;
  size_t examples = 0;
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const auto& [method, operation_value] : item.as_object()) {
      const auto verb = verb_of(method);
      if (!verb) continue;
      const json::object& operation = operation_value.as_object();
      const json::value* planned = operation.if_contains("x-lmcache-planned");
      if (planned != nullptr && planned->as_bool()) continue;

      const std::string target = example_target(document, std::string(path), operation);
      const std::string what = fmt::format("{} {}", std::string(method), target);
      const json::value* request_body = operation.if_contains("requestBody");
      const json::value* example = request_body != nullptr
                                       ? request_body->at_pointer("/content/application~1json")
                                             .as_object()
                                             .if_contains("example")
                                       : nullptr;
      if (example != nullptr) {
        json::value body = *example;
        if (json::object* fields = body.if_object(); fields != nullptr && fields->contains("ip")) {
          // A registered instance is called (eviction, resync, prefetch): never at the example's
          // address, only at a closed port of this machine.
          (*fields)["ip"] = "127.0.0.1";
          (*fields)["http_port"] = 1;
        }
        const TestResponse res = client.request(*verb, target, json::serialize(body));
        ++examples;
        if (!operation.at("responses").as_object().contains("502")) {
          EXPECT_TRUE(res.status >= 200 && res.status < 300)
              << what << " answered its documented example " << res.status << ": " << res.body;
        }
        expect_described(document, operation, what + " (example)", res);
      }
      const TestResponse res = client.request(*verb, target, request_body != nullptr ? "{}" : "");
      expect_described(document, operation, what, res);
      ++checked;
    }
  }
  EXPECT_GE(checked, 28U);   // the operations served when this test was written
  EXPECT_GE(examples, 12U);  // and their request examples
}

}  // namespace
}  // namespace lmcache::testing
