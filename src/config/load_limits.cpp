// limits:, budgets:, a model's price: and records: (docs/limits.md, docs/configuration.md).
#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <tuple>

#include "config/reader.h"

namespace gatehouse::config {

namespace {

std::optional<LimitScope> parse_limit_scope(std::string_view s) {
  for (auto v : {LimitScope::kModel, LimitScope::kKey, LimitScope::kUser, LimitScope::kGroup,
                 LimitScope::kProject, LimitScope::kTool}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

std::optional<BudgetPeriod> parse_period(std::string_view s) {
  if (s == "daily") return BudgetPeriod::kDaily;
  if (s == "weekly") return BudgetPeriod::kWeekly;
  if (s == "monthly") return BudgetPeriod::kMonthly;
  if (s == "total") return BudgetPeriod::kTotal;
  return std::nullopt;
}

// A key or project rule whose match names no key or project of the file (keys are read before
// limits and budgets): a warning, not an error, since a key created in the store may take that
// name or project later. A typo would otherwise limit nothing, silently.
void warn_if_unmatched(Reader& r, const YAML::Node& at, const std::string& where, bool key_scope,
                       const std::string& match, const Config& c) {
  for (const auto& k : c.keys) {
    if ((key_scope ? k.name : k.project) == match) return;
  }
  const std::string what = key_scope ? "key" : "project";
  r.warn(at, where + ": no " + what + " '" + match + "' is configured under keys (it applies only if a key " +
                 (key_scope ? "of that name" : "of that project") + " is created in the store)");
}

}  // namespace

void read_limits(Reader& r, const YAML::Node& n, Config& c) {
  if (!n.IsSequence()) {
    r.error(n, "limits must be a list, e.g. [{scope: key, qpm: 60, tpm: 100000}]");
    return;
  }
  // Which (scope, match, metric) is already limited: two rules may not set the same number.
  std::set<std::tuple<LimitScope, std::string, std::string>> seen;
  for (const auto& item : n) {
    if (!r.expect_map(item, "limits[]", {"scope", "match", "qpm", "tpm", "concurrency"})) continue;
    LimitRule rule;
    if (!item["scope"]) {
      r.error(item, "limits[].scope is required: model, key, user, group, project or tool");
      continue;
    }
    if (auto s = r.string(item["scope"], "limits[].scope")) {
      auto scope = parse_limit_scope(*s);
      if (!scope) {
        r.error(item["scope"], "limits[].scope '" + *s + "' is not one of model, key, user, group, project, tool");
        continue;
      }
      rule.scope = *scope;
    } else {
      continue;
    }
    if (item["match"]) {
      if (auto m = r.string(item["match"], "limits[].match")) {
        rule.match = *m;
        if (m->empty()) r.error(item["match"], "limits[].match must not be empty (leave it out for the scope's default)");
        // Models are read before limits.
        if (rule.scope == LimitScope::kModel && !m->empty() && !c.models.contains(*m)) {
          r.error(item["match"], "limits[model " + *m + "]: model '" + *m + "' is not defined under models");
        }
      }
    }
    const std::string where = "limits[" + std::string(to_string(rule.scope)) +
                              (rule.match.empty() ? "" : " " + rule.match) + "]";
    if (!rule.match.empty() && (rule.scope == LimitScope::kKey || rule.scope == LimitScope::kProject)) {
      warn_if_unmatched(r, item["match"], where, rule.scope == LimitScope::kKey, rule.match, c);
    }
    auto metric = [&](const char* key, long long& out) {
      if (!item[key]) return;
      if (auto v = r.integer(item[key], where + "." + key, 1, 1'000'000'000'000LL)) {
        out = *v;
        if (!seen.insert({rule.scope, rule.match, key}).second) {
          r.error(item[key], where + "." + key + " is set by an earlier rule for the same scope and match");
        }
      }
    };
    metric("qpm", rule.qpm);
    metric("tpm", rule.tpm);
    metric("concurrency", rule.concurrency);
    if (rule.scope == LimitScope::kTool && item["tpm"]) {
      r.error(item["tpm"], where + ".tpm: MCP tool calls have no tokens; a tool limit takes qpm and concurrency");
    }
    if (!item["qpm"] && !item["tpm"] && !item["concurrency"]) {
      r.error(item, where + " limits nothing: give qpm, tpm or concurrency");
      continue;
    }
    c.limits.push_back(std::move(rule));
  }
}

void read_budgets(Reader& r, const YAML::Node& n, Config& c) {
  if (!n.IsSequence()) {
    r.error(n, "budgets must be a list, e.g. [{scope: project, match: p1, usd: 100, period: monthly}]");
    return;
  }
  std::set<std::tuple<BudgetScope, std::string, BudgetPeriod>> seen;
  for (const auto& item : n) {
    if (!r.expect_map(item, "budgets[]", {"scope", "match", "usd", "period", "warn_at"})) continue;
    BudgetRule rule;
    if (!item["scope"]) {
      r.error(item, "budgets[].scope is required: key or project");
      continue;
    }
    if (auto s = r.string(item["scope"], "budgets[].scope")) {
      if (*s == "key") {
        rule.scope = BudgetScope::kKey;
      } else if (*s == "project") {
        rule.scope = BudgetScope::kProject;
      } else {
        r.error(item["scope"], "budgets[].scope '" + *s + "' is not one of key, project");
        continue;
      }
    } else {
      continue;
    }
    if (item["match"]) {
      if (auto m = r.string(item["match"], "budgets[].match")) {
        rule.match = *m;
        if (m->empty()) r.error(item["match"], "budgets[].match must not be empty (leave it out for every " + std::string(to_string(rule.scope)) + ")");
      }
    }
    const std::string where = "budgets[" + std::string(to_string(rule.scope)) +
                              (rule.match.empty() ? "" : " " + rule.match) + "]";
    if (!rule.match.empty()) warn_if_unmatched(r, item["match"], where, rule.scope == BudgetScope::kKey, rule.match, c);
    if (!item["usd"]) {
      r.error(item, where + ".usd is required: the US dollars the period allows");
    } else if (auto v = r.number(item["usd"], where + ".usd", 0.000001, 1e12)) {
      rule.usd = *v;
    }
    if (item["period"]) {
      if (auto s = r.string(item["period"], where + ".period")) {
        if (auto p = parse_period(*s)) {
          rule.period = *p;
        } else {
          r.error(item["period"], where + ".period '" + *s + "' is not one of daily, weekly, monthly, total");
        }
      }
    }
    if (item["warn_at"]) {
      if (auto v = r.number(item["warn_at"], where + ".warn_at", 0.01, 1.0)) rule.warn_at = *v;
    }
    if (!seen.insert({rule.scope, rule.match, rule.period}).second) {
      r.error(item, where + ": an earlier budget has the same scope, match and period");
    }
    c.budgets.push_back(std::move(rule));
  }
}

void read_price(Reader& r, const YAML::Node& n, const std::string& where, Price& price) {
  if (!r.expect_map(n, where, {"input_per_million", "output_per_million", "cached_input_per_million"})) return;
  if (!n["input_per_million"] && !n["output_per_million"]) {
    r.error(n, where + " needs input_per_million and/or output_per_million (US dollars per million tokens)");
    return;
  }
  Price p;
  p.set = true;
  auto num = [&](const char* key, double& out) {
    if (!n[key]) return;
    if (auto v = r.number(n[key], where + "." + key, 0, 1e6)) out = *v;
  };
  num("input_per_million", p.input_per_million);
  num("output_per_million", p.output_per_million);
  num("cached_input_per_million", p.cached_input_per_million);
  price = p;
}

void read_records(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "records", {"flush_ms", "queue_rows", "inference_log"})) return;
  if (n["flush_ms"]) {
    if (auto v = r.integer(n["flush_ms"], "records.flush_ms", 10, 10'000)) c.records.flush = Millis(*v);
  }
  if (n["queue_rows"]) {
    if (auto v = r.integer(n["queue_rows"], "records.queue_rows", 100, 10'000'000)) c.records.queue_rows = std::size_t(*v);
  }
  if (const auto& il = n["inference_log"]) {
    auto& log = c.records.inference_log;
    if (!r.expect_map(il, "records.inference_log",
                      {"models", "payloads", "sample", "retention_days", "max_payload_bytes"})) {
      return;
    }
    log.enabled = true;
    log.models = {"*"};
    if (const auto& ms = il["models"]) {
      log.models.clear();
      if (!ms.IsSequence()) {
        r.error(ms, "records.inference_log.models must be a list of model names or globs, e.g. [\"*\"]");
      } else {
        for (const auto& m : ms) {
          if (auto v = r.string(m, "records.inference_log.models[]")) log.models.push_back(*v);
        }
      }
    }
    if (il["payloads"]) {
      if (auto v = r.boolean(il["payloads"], "records.inference_log.payloads")) log.payloads = *v;
    }
    if (il["sample"]) {
      if (auto v = r.number(il["sample"], "records.inference_log.sample", 0, 1)) log.sample = *v;
    }
    if (il["retention_days"]) {
      if (auto v = r.integer(il["retention_days"], "records.inference_log.retention_days", 0, 36'500)) {
        log.retention_days = int(*v);
      }
    }
    if (il["max_payload_bytes"]) {
      if (auto v = r.integer(il["max_payload_bytes"], "records.inference_log.max_payload_bytes", 1024, 64 << 20)) {
        log.max_payload_bytes = std::size_t(*v);
      }
    }
  }
}

void read_metrics(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "metrics", {"enabled"})) return;
  c.metrics.enabled = true;
  if (n["enabled"]) {
    if (auto v = r.boolean(n["enabled"], "metrics.enabled")) c.metrics.enabled = *v;
  }
}

// What is wrong with an OTLP/HTTP traces URL, if anything.
static std::optional<std::string> otlp_endpoint_problem(const std::string& url) {
  const std::string example = " (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces)";
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "must be an http:// or https:// URL" + example;
  const boost::urls::url_view u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http && u.scheme_id() != boost::urls::scheme::https) {
    return "must be an http:// or https:// URL" + example;
  }
  if (u.host_address().empty()) return "has no host" + example;
  // Credentials belong in tracing.headers (never logged), not in a URL that log lines name.
  if (u.has_userinfo()) return "must not carry user:password@; put the collector's key in tracing.headers";
  if (u.has_query()) return "must not have a ?query; put a collector's key in tracing.headers";
  if (u.has_fragment()) return "must not have a #fragment";
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) return "has a port that is not a number from 1 to 65535";
  }
  return std::nullopt;
}

void read_tracing(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "tracing", {"otlp_endpoint", "service_name", "export_ms", "ca_file", "headers"})) return;
  auto& t = c.tracing;
  if (!n["otlp_endpoint"]) {
    r.error(n, "tracing.otlp_endpoint is required, e.g. \"http://127.0.0.1:4318/v1/traces\"");
    return;
  }
  if (auto v = r.required(n["otlp_endpoint"], "tracing.otlp_endpoint")) {
    t.otlp_endpoint = *v;
    if (auto why = otlp_endpoint_problem(*v)) r.error(n["otlp_endpoint"], "tracing.otlp_endpoint " + *why);
  }
  if (n["service_name"]) {
    if (auto v = r.string(n["service_name"], "tracing.service_name")) t.service_name = *v;
  }
  if (n["export_ms"]) r.millis(n["export_ms"], "tracing.export_ms", t.export_every);
  if (n["ca_file"]) {
    if (auto v = r.string(n["ca_file"], "tracing.ca_file")) {
      t.ca_file = *v;
      if (!std::ifstream(t.ca_file)) r.error(n["ca_file"], "tracing.ca_file: cannot read " + t.ca_file);
      if (t.otlp_endpoint.starts_with("http://")) {
        r.error(n["ca_file"], "tracing.ca_file is for an https:// otlp_endpoint");
      }
    }
  }
  if (const auto& h = n["headers"]) {
    if (!h.IsMap()) {
      r.error(h, "tracing.headers must be a mapping of header names to values, e.g. {authorization: \"Bearer ${OTLP_TOKEN}\"}");
    } else {
      for (const auto& kv : h) {
        const std::string name = kv.first.Scalar();
        const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char ch) {
          return std::isalnum(ch) || std::string_view("!#$%&'*+-.^_`|~").find(char(ch)) != std::string_view::npos;
        });
        if (!token) {
          r.error(kv.first, "tracing.headers: '" + name + "' is not an HTTP header name");
          continue;
        }
        auto v = r.required(kv.second, "tracing.headers." + name);
        if (!v) continue;
        if (v->find_first_of("\r\n") != std::string::npos || v->find('\0') != std::string::npos) {
          r.error(kv.second, "tracing.headers." + name + ": a header value cannot hold a line break");
          continue;
        }
        std::string lower = name;
        for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        // The framing and the connection are the gateway's (Expect: 100-continue would make every
        // export fail; Connection: close would cost a connection each).
        static const std::set<std::string, std::less<>> reserved = {
            "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive",
            "proxy-connection", "te", "trailer", "upgrade", "expect"};
        if (reserved.contains(lower)) {
          r.error(kv.first, "tracing.headers: " + name + " is set by the gateway");
          continue;
        }
        if (!t.headers.emplace(lower, *v).second) {
          r.error(kv.first, "tracing.headers: " + name + " is given twice (header names ignore case)");
        }
      }
    }
  }
  t.enabled = true;
}

void check_limits(Reader& r, const YAML::Node& root, Config& c) {
  if (c.records.inference_log.enabled && !c.store.configured()) {
    r.error(root["records"]["inference_log"], "records.inference_log needs a store: the log is kept there "
                                              "(add store: {sqlite: \"./gatehouse.db\"} or store: {postgres: URL})");
  }
  if (!c.budgets.empty() && !c.store.configured()) {
    r.error(root["budgets"], "budgets need a store: spend is kept with the usage records, so a restart does not "
                             "reset a budget (add store: {sqlite: \"./gatehouse.db\"} or store: {postgres: URL})");
  }
}

}  // namespace gatehouse::config
