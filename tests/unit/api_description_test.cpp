// The API description (api/openapi.json, embedded in the binary) against what the coordinator's
// router serves: every served route (method and path template, parameter names included) is
// described, and every described operation is served unless it is marked
// `x-lmcache-planned: true` (specified, being built elsewhere). A planned operation that is
// served fails too, so the mark is removed once the route lands.
//
// The document's validity as OpenAPI 3.1 is checked by tests/openapi/validate.sh (ctest
// `openapi_validate`); what the real binary answers on each described route by
// tests/e2e/api_description_test.cpp.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "app/coordinator_app.h"
#include "http/embedded_documents.h"
#include "http/route_access.h"

namespace lmcache::app {
namespace {

namespace json = boost::json;

// The operation keys of an OpenAPI path item.
const std::vector<std::string> kOperationKeys = {"get",  "put",     "post",  "delete",
                                                 "head", "options", "patch", "trace"};

// (method in lower case, path template).
using Operation = std::pair<std::string, std::string>;

json::object parse_document() { return json::parse(http::embedded::openapi_json()).as_object(); }

bool is_planned(const json::object& operation) {
  const json::value* planned = operation.if_contains("x-lmcache-planned");
  return planned != nullptr && planned->is_bool() && planned->get_bool();
}

// Every operation of the document, with whether it is marked planned.
std::map<Operation, bool> described_operations(const json::object& document) {
  std::map<Operation, bool> out;
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const std::string& method : kOperationKeys) {
      if (const json::value* operation = item.as_object().if_contains(method)) {
        out[{method, std::string(path)}] = is_planned(operation->as_object());
      }
    }
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The routes a coordinator with the default settings serves.
std::set<Operation> served_operations() {
  CoordinatorConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.state_path = ":memory:";
  config.enable_startup_resync = false;
  const CoordinatorApp app(config);
  std::set<Operation> out;
  for (const auto& route : app.routes()) {
    out.emplace(lower(boost::beast::http::to_string(route.method)), route.pattern);
  }
  return out;
}

// The `{name}`s of a path template, in order.
std::vector<std::string> template_names(const std::string& path) {
  // (Not std::regex: GCC 12 at -O2 warns inside it, which -Werror turns into a failed build.)
  std::vector<std::string> names;
  for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open)) {
    const size_t close = path.find('}', open);
    if (close == std::string::npos) break;
    names.push_back(path.substr(open + 1, close - open - 1));
    open = close;
  }
  return names;
}

// A parameter object, with a `#/components/parameters/...` reference resolved.
const json::object& resolve_parameter(const json::object& document, const json::value& parameter) {
  const json::object& object = parameter.as_object();
  const json::value* ref = object.if_contains("$ref");
  if (ref == nullptr) return object;
  const std::string prefix = "#/components/parameters/";
  const std::string target(ref->as_string());
  if (target.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected $ref " + target);
  return document.at("components").at("parameters").at(target.substr(prefix.size())).as_object();
}

TEST(ApiDescription, EmbeddedFilesAreTheRepositoryFiles) {
  for (const auto& [name, embedded] : {std::pair{"openapi.json", http::embedded::openapi_json()},
                                       std::pair{"docs.html", http::embedded::docs_html()}}) {
    std::ifstream file(std::string(API_DOCUMENT_DIR) + "/" + name, std::ios::binary);
    ASSERT_TRUE(file) << name;
    std::ostringstream text;
    text << file.rdbuf();
    EXPECT_EQ(embedded, text.str()) << "api/" << name << " differs from what the build embedded";
  }
}

TEST(ApiDescription, IsAnOpenApi31Document) {
  const json::object document = parse_document();
  EXPECT_EQ(document.at("openapi").as_string(), "3.1.0");
  EXPECT_FALSE(document.at("paths").as_object().empty());
}

TEST(ApiDescription, EveryServedRouteIsDescribed) {
  const json::object document = parse_document();
  const std::map<Operation, bool> described = described_operations(document);
  const std::set<Operation> served = served_operations();
  ASSERT_FALSE(served.empty());
  for (const Operation& route : served) {
    const auto it = described.find(route);
    EXPECT_NE(it, described.end())
        << route.first << " " << route.second << " is served but not in api/openapi.json";
    if (it != described.end()) {
      EXPECT_FALSE(it->second) << route.first << " " << route.second
                               << " is served: remove its x-lmcache-planned mark";
    }
  }
}

TEST(ApiDescription, EveryDescribedRouteIsServedUnlessPlanned) {
  const json::object document = parse_document();
  const std::set<Operation> served = served_operations();
  for (const auto& [operation, is_planned] : described_operations(document)) {
    if (is_planned) continue;
    EXPECT_TRUE(served.contains(operation))
        << operation.first << " " << operation.second
        << " is described but not served (mark it x-lmcache-planned if it is being built)";
  }
}

TEST(ApiDescription, PathParametersAreTheTemplateNames) {
  const json::object document = parse_document();
  for (const auto& [path, item] : document.at("paths").as_object()) {
    const std::vector<std::string> names = template_names(std::string(path));
    for (const std::string& method : kOperationKeys) {
      const json::value* operation = item.as_object().if_contains(method);
      if (operation == nullptr) continue;
      std::vector<std::string> declared;
      if (const json::value* parameters = operation->as_object().if_contains("parameters")) {
        for (const json::value& parameter : parameters->as_array()) {
          const json::object& resolved = resolve_parameter(document, parameter);
          if (resolved.at("in").as_string() == "path") {
            declared.emplace_back(resolved.at("name").as_string());
          }
        }
      }
      EXPECT_EQ(declared, names) << method << " " << std::string(path);
    }
  }
}

TEST(ApiDescription, EveryOperationHasATagTheDocumentDeclares) {
  const json::object document = parse_document();
  std::set<std::string> tags;
  for (const json::value& tag : document.at("tags").as_array()) {
    tags.emplace(tag.at("name").as_string());
  }
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const std::string& method : kOperationKeys) {
      const json::value* operation = item.as_object().if_contains(method);
      if (operation == nullptr) continue;
      const json::array& operation_tags = operation->at("tags").as_array();
      ASSERT_EQ(operation_tags.size(), 1U) << method << " " << std::string(path);
      EXPECT_TRUE(tags.contains(std::string(operation_tags[0].as_string())))
          << method << " " << std::string(path) << ": /docs groups by the declared tags";
    }
  }
}

// Who may call each operation is written once, in http/route_access.cpp; the document's
// `x-lmcache-access` marks, security lists and 401/403 answers must say the same.
TEST(ApiDescription, AccessMarksFollowTheRouteAccessTable) {
  const json::object document = parse_document();
  for (const auto& [path, item] : document.at("paths").as_object()) {
    // A concrete path of the template: each {name} becomes one segment.
    std::string concrete;
    for (size_t at = 0; at < path.size();) {
      if (path[at] == '{') {
        concrete += 'x';
        at = path.find('}', at) + 1;
      } else {
        concrete += path[at++];
      }
    }
    for (const std::string& method : kOperationKeys) {
      const json::value* value = item.as_object().if_contains(method);
      if (value == nullptr) continue;
      const json::object& operation = value->as_object();
      const std::string where = method + " " + std::string(path);
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const auto verb = boost::beast::http::string_to_verb(upper);
      const http::RouteAccess access = http::classify_route(verb, concrete);
      const json::value* mark = operation.if_contains("x-lmcache-access");
      ASSERT_NE(mark, nullptr) << where;
      EXPECT_EQ(mark->as_string(), http::to_string(access)) << where;
      const json::object& responses = operation.at("responses").as_object();
      const bool token =
          access == http::RouteAccess::kOperator || access == http::RouteAccess::kTenantRead;
      EXPECT_EQ(operation.contains("security"), token) << where;
      EXPECT_EQ(responses.contains("401"), token) << where;
      EXPECT_EQ(responses.contains("403"), access != http::RouteAccess::kOpen) << where;
    }
  }
}

}  // namespace
}  // namespace lmcache::app
