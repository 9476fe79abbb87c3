// The YAML reader every part of config loading shares: it collects every problem with its place
// (FILE:LINE:COL) instead of stopping at the first, and expands ${ENV} in each scalar. Internal to
// gh_config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/env.h"
#include "config/load.h"

namespace gatehouse::config {

// Walks the YAML tree, collecting every problem with its place instead of stopping at the first.
class Reader {
 public:
  Reader(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

  std::vector<Diagnostic>& diagnostics() { return diags_; }
  // The configuration file's name, as given (relative paths in it are resolved against its folder).
  const std::string& file() const { return file_; }

  void error(const YAML::Node& at, std::string message) {
    YAML::Mark m = at.Mark();
    int line = m.line < 0 ? 0 : m.line + 1;
    int col = m.column < 0 ? 0 : m.column + 1;
    diags_.push_back({file_, line, col, std::move(message)});
  }
  void error_at(const YAML::Mark& m, std::string message) {
    diags_.push_back({file_, m.line + 1, m.column + 1, std::move(message)});
  }
  // Accepted, but probably not what was meant (LoadResult::warnings).
  void warn(const YAML::Node& at, std::string message) {
    YAML::Mark m = at.Mark();
    int line = m.line < 0 ? 0 : m.line + 1;
    int col = m.column < 0 ? 0 : m.column + 1;
    warnings_.push_back({file_, line, col, std::move(message), true});
  }
  std::vector<Diagnostic>& warnings() { return warnings_; }
  // "FILE:LINE:COL" of a node, for a message that names a second place.
  std::string place(const YAML::Mark& m) const {
    return file_ + ':' + std::to_string(m.line + 1) + ':' + std::to_string(m.column + 1);
  }

  // Reports keys of `map` not in `allowed` (a typo must not silently do nothing).
  bool expect_map(const YAML::Node& node, const std::string& where,
                  std::initializer_list<std::string_view> allowed) {
    if (!node.IsMap()) {
      error(node, where + " must be a mapping");
      return false;
    }
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      bool known = false;
      for (auto a : allowed) known = known || a == key;
      if (!known) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(kv.first, "unknown key '" + key + "' in " + where + " (expected one of: " + list + ")");
      }
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      error(node, what + " must be a string");
      return std::nullopt;
    }
    std::string err;
    auto v = expand_env(node.Scalar(), env_, err);
    if (!v) error(node, what + ": " + err);
    return v;
  }

  // A string that must not be empty: a secret, a URL, a path. An environment variable that is set
  // but empty is named (a credential that expands to nothing would send no Authorization at all).
  std::optional<std::string> required(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      error(node, what + " must be a string");
      return std::nullopt;
    }
    std::string err;
    std::vector<std::string> empty;
    auto v = expand_env(node.Scalar(), env_, err, &empty);
    if (!v) {
      error(node, what + ": " + err);
    } else if (!empty.empty()) {
      std::string names;
      for (const auto& e : empty) names += (names.empty() ? "" : ", ") + e;
      error(node, what + ": environment variable" + (empty.size() > 1 ? "s " : " ") + names + " " +
                      (empty.size() > 1 ? "are" : "is") + " set but empty");
      v.reset();
    } else if (v->empty()) {
      error(node, what + " must not be empty");
      v.reset();
    }
    return v;
  }

  std::optional<long long> integer(const YAML::Node& node, const std::string& what, long long min,
                                   long long max) {
    auto s = string(node, what);
    if (!s) return std::nullopt;
    long long v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size()) {
      error(node, what + " must be an integer, got '" + *s + "'");
      return std::nullopt;
    }
    if (v < min || v > max) {
      error(node, what + " must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> env(const std::string& name) const { return env_(name); }

  std::optional<bool> boolean(const YAML::Node& node, const std::string& what) {
    auto s = string(node, what);
    if (!s) return std::nullopt;
    if (*s == "true") return true;
    if (*s == "false") return false;
    error(node, what + " must be true or false");
    return std::nullopt;
  }

  void millis(const YAML::Node& node, const std::string& what, Millis& out) {
    if (auto v = integer(node, what, 1, 86'400'000)) out = Millis(*v);
  }

  std::optional<double> number(const YAML::Node& node, const std::string& what, double min, double max) {
    auto s = string(node, what);
    if (!s) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size()) {
      error(node, what + " must be a number, got '" + *s + "'");
      return std::nullopt;
    }
    if (!(v >= min && v <= max)) {
      error(node, what + " must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

 private:
  std::string file_;
  const EnvLookup& env_;
  std::vector<Diagnostic> diags_;
  std::vector<Diagnostic> warnings_;
};


// "host:port" or "[v6]:port" (load.cpp): server.listen, and the authority of a provider's URL.
bool split_host_port(const std::string& s, std::string& host, std::string& port);

// providers: (load_providers.cpp).
void read_providers(Reader& r, const YAML::Node& ps, Config& c);
// `responses: native | translate` (a provider's or a model's): true for native.
std::optional<bool> read_responses_mode(Reader& r, const YAML::Node& n, const std::string& where);
// A provider that forwards the caller's token needs auth.jwt to verify it first.
void check_auth_passthrough(Reader& r, const YAML::Node& root, const Config& c);

// The parts of the file read elsewhere (load_limits.cpp): limits, budgets, a model's price,
// records.
void read_limits(Reader& r, const YAML::Node& n, Config& c);
void read_budgets(Reader& r, const YAML::Node& n, Config& c);
void read_price(Reader& r, const YAML::Node& n, const std::string& where, Price& price);
void read_records(Reader& r, const YAML::Node& n, Config& c);
void read_metrics(Reader& r, const YAML::Node& n, Config& c);
// state: (load_state.cpp).
void read_state(Reader& r, const YAML::Node& n, Config& c);
// billing: (load_billing.cpp), after providers and store.
void read_billing(Reader& r, const YAML::Node& n, Config& c);
void read_tracing(Reader& r, const YAML::Node& n, Config& c);
void read_route(Reader& r, const YAML::Node& n, const std::string& where, RouteConfig& route);
// Every route's targets are models with a provider.
void check_routes(Reader& r, const YAML::Node& root, Config& c);
// Checks what needs the whole file read (a budget needs a store, a limit's model must exist).
void check_limits(Reader& r, const YAML::Node& root, Config& c);

// guardrails: (load_guardrails.cpp), and the models' and roles' lists that name them (checked
// once models, roles and guardrails are read).
void read_guardrails(Reader& r, const YAML::Node& n, Config& c);
void check_guardrails(Reader& r, const YAML::Node& root, Config& c);
// One `guardrails: {input, output}` block naming defined guardrails (models, roles, MCP servers).
void check_guardrail_lists(Reader& r, const YAML::Node& n, const std::string& where, const Config& c,
                           GuardrailLists& lists);

// A provider's (or an MCP server's) URL, split into tls/host/port/base_path; false when it is not
// an http(s) URL with a host.
bool parse_base_url(const std::string& url, ProviderConfig& p);
// `timeouts:` and `tls:` blocks of a provider (an MCP server takes the same).
void read_provider_timeouts(Reader& r, const std::string& where, const YAML::Node& t, ProviderConfig& p);
void read_provider_tls(Reader& r, const std::string& where, const YAML::Node& t, ProviderConfig& p);

// mcp: (load_mcp.cpp), after providers, guardrails and roles are read; roles' `tools` too.
void read_mcp(Reader& r, const YAML::Node& n, Config& c);
void read_role_tools(Reader& r, const YAML::Node& n, const std::string& where, RoleConfig& role);
// Roles' tools name configured MCP servers (after read_mcp).
void check_role_tools(Reader& r, const YAML::Node& root, const Config& c);

}  // namespace gatehouse::config
