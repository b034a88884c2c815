// End-to-end: every metric that the Grafana dashboard (deploy/grafana/coordinator.json) and the
// alert rules (deploy/prometheus/alerts.yml) query is served by the real binary's GET /metrics.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator_process.h"
#include "http_test_client.h"

namespace lmcache::testing {
namespace {

// Series made by Prometheus itself, not by the coordinator.
const std::set<std::string> kMadeByPrometheus = {"up"};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c));
}

// The metric names a PromQL expression selects: identifiers outside label matchers, strings and
// ranges that are neither functions, keywords nor label lists (by, without, on, ignoring,
// group_left, group_right). Grafana variables ($job, $__rate_interval) are skipped.
std::set<std::string> promql_metric_names(const std::string& expr) {
  static const std::set<std::string> kKeywords = {
      "sum",    "min",          "max",        "avg",         "group",    "stddev", "stdvar",
      "count",  "count_values", "bottomk",    "topk",        "quantile", "by",     "without",
      "on",     "ignoring",     "group_left", "group_right", "bool",     "and",    "or",
      "unless", "offset",       "atan2",      "inf",         "nan"};
  static const std::set<std::string> kLabelLists = {"by",       "without",    "on",
                                                    "ignoring", "group_left", "group_right"};
  std::set<std::string> names;
  size_t i = 0;
  const auto skip_until = [&](char close) {  // past the matching close, strings skipped
    while (i < expr.size() && expr[i] != close) {
      if (expr[i] == '"' || expr[i] == '\'' || expr[i] == '`') {
        const char quote = expr[i++];
        while (i < expr.size() && expr[i] != quote) i += expr[i] == '\\' ? 2 : 1;
      }
      ++i;
    }
    ++i;
  };
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      ++i;
      while (i < expr.size() && expr[i] != c) i += expr[i] == '\\' ? 2 : 1;
      ++i;
    } else if (c == '{') {
      ++i;
      skip_until('}');
    } else if (c == '[') {
      ++i;
      skip_until(']');
    } else if (c == '$' || std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      ++i;  // a variable, a number or a duration: skip the word
      while (i < expr.size() && is_name_char(expr[i])) ++i;
    } else if (is_name_start(c)) {
      const size_t start = i;
      while (i < expr.size() && is_name_char(expr[i])) ++i;
      const std::string word = expr.substr(start, i - start);
      size_t next = i;
      while (next < expr.size() && std::isspace(static_cast<unsigned char>(expr[next]))) ++next;
      const bool call = next < expr.size() && expr[next] == '(';
      if (kLabelLists.count(word) != 0 && call) {
        i = next + 1;
        skip_until(')');
      } else if (!call && kKeywords.count(word) == 0) {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

// The expressions of a Grafana dashboard: every panel target (rows' nested panels included) and
// the metric selector of every label_values(...) variable query.
void collect_dashboard_exprs(const boost::json::value& panels, std::vector<std::string>& out) {
  if (!panels.is_array()) return;
  for (const auto& panel : panels.as_array()) {
    const auto& object = panel.as_object();
    if (const auto* targets = object.if_contains("targets")) {
      for (const auto& target : targets->as_array()) {
        if (const auto* expr = target.as_object().if_contains("expr")) {
          out.emplace_back(expr->as_string().c_str());
        }
      }
    }
    if (const auto* nested = object.if_contains("panels")) collect_dashboard_exprs(*nested, out);
  }
}

std::vector<std::string> dashboard_exprs(const std::string& path) {
  const boost::json::value dashboard = boost::json::parse(read_file(path));
  std::vector<std::string> exprs;
  collect_dashboard_exprs(dashboard.at("panels"), exprs);
  for (const auto& variable : dashboard.at("templating").at("list").as_array()) {
    const auto* query = variable.as_object().if_contains("query");
    if (query == nullptr || variable.at("type") != "query") continue;
    std::string text = query->is_object() ? std::string(query->at("query").as_string())
                                          : std::string(query->as_string());
    const std::string prefix = "label_values(";
    if (text.rfind(prefix, 0) != 0) {
      exprs.push_back(text);
      continue;
    }
    const size_t comma = text.rfind(',');  // label_values(selector, label): the selector
    if (comma != std::string::npos) {
      exprs.push_back(text.substr(prefix.size(), comma - prefix.size()));
    }
  }
  return exprs;
}

// The `expr:` values of a rules file, inline or as an indented block scalar (>- or |).
std::vector<std::string> rule_exprs(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::vector<std::string> exprs;
  std::string line;
  size_t block_indent = std::string::npos;  // the expr key's indent while in a block
  while (std::getline(lines, line)) {
    const size_t indent = line.find_first_not_of(' ');
    if (block_indent != std::string::npos) {
      if (indent != std::string::npos && indent > block_indent) {
        exprs.back() += " " + line.substr(indent);
        continue;
      }
      block_indent = std::string::npos;
    }
    if (indent == std::string::npos || line.compare(indent, 5, "expr:") != 0) continue;
    std::string value = line.substr(indent + 5);
    value.erase(0, value.find_first_not_of(' '));
    if (value.empty() || value[0] == '>' || value[0] == '|') {
      exprs.emplace_back();
      block_indent = indent;
    } else {
      exprs.push_back(value);
    }
  }
  return exprs;
}

// What an exposition serves: the names of its samples and the type of each family.
struct Exposition {
  std::set<std::string> samples;
  std::map<std::string, std::string> types;

  explicit Exposition(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("# TYPE ", 0) == 0) {
        std::istringstream words(line.substr(7));
        std::string name;
        std::string type;
        words >> name >> type;
        types[name] = type;
      } else if (!line.empty() && line[0] != '#') {
        samples.insert(line.substr(0, line.find_first_of("{ ")));
      }
    }
  }

  // Served as a sample, or as a histogram's _bucket/_sum/_count or a summary's _sum/_count.
  bool serves(const std::string& name) const {
    if (samples.count(name) != 0) return true;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() <= suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      const auto type = types.find(name.substr(0, name.size() - suffix.size()));
      if (type == types.end()) continue;
      if (type->second == "histogram" || (type->second == "summary" && suffix != "_bucket")) {
        return true;
      }
    }
    return false;
  }
};

TEST(DeployMetricsTest, PromqlMetricNamesSkipsFunctionsLabelsAndVariables) {
  EXPECT_EQ(
      promql_metric_names(
          R"(histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{job=~"$job", x="b{c}"}[$__rate_interval]))))"),
      (std::set<std::string>{"a_bucket"}));
  EXPECT_EQ(promql_metric_names("x > on (job, cache_salt) group_left (y) z unless w offset 5m"),
            (std::set<std::string>{"x", "z", "w"}));
  EXPECT_EQ(promql_metric_names("max by (job) (up) < 1 and sum without (i) (m2) > 1e3"),
            (std::set<std::string>{"up", "m2"}));
}

TEST(DeployMetricsTest, DashboardAndAlertRulesQueryOnlyServedMetrics) {
  const std::string source = COORDINATOR_SOURCE_DIR;
  std::vector<std::string> exprs = dashboard_exprs(source + "/deploy/grafana/coordinator.json");
  const size_t dashboard_count = exprs.size();
  const std::vector<std::string> rules = rule_exprs(source + "/deploy/prometheus/alerts.yml");
  exprs.insert(exprs.end(), rules.begin(), rules.end());
  ASSERT_GE(dashboard_count, 20u);
  ASSERT_GE(rules.size(), 6u);

  std::map<std::string, std::string> queried;  // name -> the first expression querying it
  for (const auto& expr : exprs) {
    for (const auto& name : promql_metric_names(expr)) queried.emplace(name, expr);
  }
  // The extraction works: histograms and the per-salt families are among the names.
  EXPECT_EQ(queried.count("lmcache_coordinator_http_request_duration_seconds_bucket"), 1u);
  EXPECT_EQ(queried.count("lmcache_coordinator_l2_usage_bytes"), 1u);

  // Traffic that makes the conditional families appear: a salt with a quota and usage, a salt
  // with usage only (the default limit), a registered instance, requests for the histogram.
  CoordinatorProcess coordinator({"--eviction-check-interval", "0"});
  HttpTestClient client(coordinator.port());
  ASSERT_EQ(
      client.post("/instances", R"({"instance_id":"mp-a","ip":"127.0.0.1","http_port":1})").status,
      200);
  ASSERT_EQ(client.put("/l2/quota/tenant-a", R"({"limit_gb": 1})").status, 200);
  for (const std::string salt : {"tenant-a", "tenant-b"}) {
    const auto res = client.post(
        "/l2/events",
        boost::json::serialize(boost::json::object{
            {"instance_id", "mp-a"},
            {"seq", salt == "tenant-a" ? 1 : 2},
            {"events", boost::json::array{boost::json::object{{"type", "store"},
                                                              {"key",
                                                               {{"chunk_hash_hex", "ab"},
                                                                {"model_name", "m"},
                                                                {"kv_rank", 0},
                                                                {"cache_salt", salt}}},
                                                              {"bytes", 100}}}}}));
    ASSERT_EQ(res.status, 200) << res.body;
  }
  ASSERT_EQ(client.get("/healthz").status, 200);
  const auto scrape = client.get("/metrics");
  ASSERT_EQ(scrape.status, 200);
  const Exposition exposition(scrape.body);

  for (const auto& [name, expr] : queried) {
    if (kMadeByPrometheus.count(name) != 0) continue;
    EXPECT_TRUE(exposition.serves(name)) << name << " is not in GET /metrics; queried by: " << expr;
  }
}

// Grafana's variables replaced by values PromQL accepts, so promtool can parse an expression.
std::string with_variables_substituted(std::string expr) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"$__rate_interval", "5m"}, {"$job", ".*"}, {"$instance", ".*"}};
  for (const auto& [variable, value] : values) {
    for (size_t at = expr.find(variable); at != std::string::npos;
         at = expr.find(variable, at + value.size())) {
      expr.replace(at, variable.size(), value);
    }
  }
  return expr;
}

TEST(DeployMetricsTest, DashboardExpressionsParseAsPromql) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian prometheus; scripts/install-deps.sh)";
  }
  const std::string source = COORDINATOR_SOURCE_DIR;
  const std::vector<std::string> exprs =
      dashboard_exprs(source + "/deploy/grafana/coordinator.json");
  ASSERT_FALSE(exprs.empty());
  // Each expression as a recording rule, the form `promtool check rules` parses.
  const std::string path =
      ::testing::TempDir() + "dashboard_rules_" + std::to_string(::getpid()) + ".yml";
  {
    std::ofstream rules(path);
    rules << "groups:\n  - name: dashboard\n    rules:\n";
    for (size_t i = 0; i < exprs.size(); ++i) {
      rules << "      - record: dashboard_expr_" << i << "\n        expr: "
            << boost::json::serialize(boost::json::value(with_variables_substituted(exprs[i])))
            << "\n";
    }
  }
  const int status = std::system(("promtool check rules " + path + " >/dev/null").c_str());
  EXPECT_EQ(status, 0) << "promtool check rules " << path << " failed (kept for reading)";
  if (status == 0) std::remove(path.c_str());
}

}  // namespace
}  // namespace lmcache::testing
