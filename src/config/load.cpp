#include "config/load.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/env.h"
#include "config/reader.h"

namespace gatehouse::config {

std::string Diagnostic::to_string() const {
  std::ostringstream os;
  os << file << ':' << line << ':' << column << ": " << (warning ? "warning: " : "") << message;
  return os.str();
}

bool split_host_port(const std::string& s, std::string& host, std::string& port) {
  std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return !host.empty() && std::stoi(port) <= 65535;
}

namespace {

// yaml-cpp keeps one of two equal keys in a mapping (which one depends on how it is looked up: a
// second `listen:` lost, a second model won), but iterating a mapping still yields both pairs.
// Every mapping in the file is checked here, before anything is read.
void check_duplicate_keys(Reader& r, const YAML::Node& n, std::set<std::pair<int, int>>& reported) {
  if (n.IsSequence()) {
    for (const auto& item : n) check_duplicate_keys(r, item, reported);
  } else if (n.IsMap()) {
    std::map<std::string, YAML::Mark> first;
    for (const auto& kv : n) {
      if (kv.first.IsScalar()) {
        auto [it, fresh] = first.emplace(kv.first.Scalar(), kv.first.Mark());
        const YAML::Mark at = kv.first.Mark();
        // An alias repeats a node: its duplicates are reported once, at their own place.
        if (!fresh && reported.insert({at.line, at.column}).second) {
          r.error(kv.first, "duplicate key '" + kv.first.Scalar() + "' (first at " + r.place(it->second) + ")");
        }
      }
      check_duplicate_keys(r, kv.second, reported);
    }
  }
}

void read_console(Reader& r, const YAML::Node& n, ConsoleConfig& c) {
  if (!r.expect_map(n, "console", {"enabled", "session_secret", "session_ttl_s"})) return;
  if (n["enabled"]) {
    if (auto v = r.boolean(n["enabled"], "console.enabled")) c.enabled = *v;
  }
  if (n["session_secret"]) {
    if (auto v = r.required(n["session_secret"], "console.session_secret")) {
      if (v->size() < 32) {
        r.error(n["session_secret"], "console.session_secret must be at least 32 characters (e.g. `openssl rand -hex 32`)");
      }
      c.session_secret = *v;
    }
  }
  if (n["session_ttl_s"]) {
    if (auto v = r.integer(n["session_ttl_s"], "console.session_ttl_s", 60, 7 * 86400)) {
      c.session_ttl = std::chrono::seconds(*v);
    }
  }
}

void read_server(Reader& r, const YAML::Node& n, ServerConfig& s) {
  if (!r.expect_map(n, "server",
                    {"listen", "admin_listen", "workers", "max_body_bytes", "max_header_bytes",
                     "header_timeout_ms", "keepalive_timeout_ms", "drain_timeout_ms"})) {
    return;
  }
  if (n["admin_listen"]) {
    if (auto v = r.string(n["admin_listen"], "server.admin_listen")) {
      if (!split_host_port(*v, s.admin_host, s.admin_port)) {
        r.error(n["admin_listen"], "server.admin_listen must be HOST:PORT, e.g. \"127.0.0.1:8081\"");
      }
    }
  }
  if (n["listen"]) {
    if (auto v = r.string(n["listen"], "server.listen")) {
      if (!split_host_port(*v, s.listen_host, s.listen_port)) {
        r.error(n["listen"], "server.listen must be HOST:PORT, e.g. \"127.0.0.1:8080\"");
      }
    }
  }
  if (n["workers"]) {
    if (auto v = r.integer(n["workers"], "server.workers", 0, 256)) s.workers = int(*v);
  }
  if (n["max_body_bytes"]) {
    if (auto v = r.integer(n["max_body_bytes"], "server.max_body_bytes", 1024, 1LL << 30)) {
      s.max_body_bytes = std::size_t(*v);
    }
  }
  if (n["max_header_bytes"]) {
    if (auto v = r.integer(n["max_header_bytes"], "server.max_header_bytes", 1024, 1 << 20)) {
      s.max_header_bytes = std::size_t(*v);
    }
  }
  if (n["header_timeout_ms"]) r.millis(n["header_timeout_ms"], "server.header_timeout_ms", s.header_timeout);
  if (n["keepalive_timeout_ms"]) {
    r.millis(n["keepalive_timeout_ms"], "server.keepalive_timeout_ms", s.keepalive_timeout);
  }
  if (n["drain_timeout_ms"]) r.millis(n["drain_timeout_ms"], "server.drain_timeout_ms", s.drain_timeout);
}

std::optional<Sha256> parse_hex_digest(const std::string& hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256 out{};
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = std::uint8_t(v);
  }
  return out;
}

// A place that names a role, checked once all roles are read.
struct RoleRef {
  YAML::Node at;
  std::string role;
  std::string where;
};

void read_jwt(Reader& r, const YAML::Node& n, JwtConfig& j) {
  if (!r.expect_map(n, "auth.jwt",
                    {"issuer", "audience", "jwks_url", "jwks_file", "user_claim", "groups_claim",
                     "leeway_s", "jwks_refresh_s"})) {
    return;
  }
  j.enabled = true;
  // Each of these names a trust anchor or a place: an empty value (or a variable set but empty)
  // is an error, not a check that passes everything or nothing.
  auto str = [&](const char* key, std::string& out) {
    if (n[key]) {
      if (auto v = r.required(n[key], std::string("auth.jwt.") + key)) out = *v;
    }
  };
  str("issuer", j.issuer);
  str("audience", j.audience);
  str("jwks_url", j.jwks_url);
  str("jwks_file", j.jwks_file);
  str("user_claim", j.user_claim);
  str("groups_claim", j.groups_claim);
  if (!n["issuer"]) r.error(n, "auth.jwt.issuer is required: the \"iss\" your identity provider puts in its tokens");
  if (!n["audience"]) r.error(n, "auth.jwt.audience is required: the \"aud\" tokens for the gateway carry");
  if (bool(n["jwks_url"]) == bool(n["jwks_file"])) {
    r.error(n, "auth.jwt needs exactly one of jwks_url (the identity provider's keys, e.g. "
               "https://idp.example.com/.well-known/jwks.json) or jwks_file");
  }
  if (!j.jwks_url.empty() && !j.jwks_url.starts_with("https://") && !j.jwks_url.starts_with("http://")) {
    r.error(n["jwks_url"], "auth.jwt.jwks_url must be an http:// or https:// URL");
  }
  if (!j.jwks_file.empty() && !std::ifstream(j.jwks_file)) {
    r.error(n["jwks_file"], "auth.jwt.jwks_file: cannot read " + j.jwks_file);
  }
  if (n["leeway_s"]) {
    if (auto v = r.integer(n["leeway_s"], "auth.jwt.leeway_s", 0, 600)) j.leeway = Millis(*v * 1000);
  }
  if (n["jwks_refresh_s"]) {
    if (auto v = r.integer(n["jwks_refresh_s"], "auth.jwt.jwks_refresh_s", 10, 86'400)) {
      j.jwks_refresh = Millis(*v * 1000);
    }
  }
}

void read_role(Reader& r, const YAML::Node& n, RoleConfig& role) {
  std::string where = "roles." + role.name;
  if (n.IsNull()) return;  // a role that allows nothing
  if (!r.expect_map(n, where, {"models", "max_tokens_per_request", "data_classes", "admin", "guardrails", "tools"})) return;
  if (const auto& ts = n["tools"]) read_role_tools(r, ts, where, role);
  if (const auto& ms = n["models"]) {
    if (ms.IsSequence()) {
      for (const auto& m : ms) {
        if (auto v = r.string(m, where + ".models[]")) role.models.push_back(*v);
      }
    } else {
      r.error(ms, where + ".models must be a list of model names or globs, e.g. [\"chat-*\"]");
    }
  }
  if (n["max_tokens_per_request"]) {
    if (auto v = r.integer(n["max_tokens_per_request"], where + ".max_tokens_per_request", 1, 10'000'000)) {
      role.max_tokens_per_request = *v;
    }
  }
  if (const auto& dc = n["data_classes"]) {
    role.data_classes_set = true;
    if (dc.IsSequence()) {
      for (const auto& d : dc) {
        if (auto v = r.string(d, where + ".data_classes[]")) {
          if (auto c = parse_data_class(*v)) {
            role.data_classes.push_back(*c);
          } else {
            r.error(d, where + ".data_classes: '" + *v + "' is not one of public, internal, confidential, restricted");
          }
        }
      }
    } else {
      r.error(dc, where + ".data_classes must be a list, e.g. [public, internal]");
    }
  }
  if (n["admin"]) {
    if (auto v = r.boolean(n["admin"], where + ".admin")) role.admin = *v;
  }
}

// A model: a provider and its upstream_model, or a route; its price, data class and reasoning
// effort. A model whose settings are not a mapping is left out (reported).
void read_model(Reader& r, const std::string& name, const YAML::Node& n, Config& c) {
  std::string where = "models." + name;
  ModelConfig m;
  m.name = name;
  if (!r.expect_map(n, where, {"provider", "upstream_model", "max_data_class", "price", "route", "reasoning_effort", "guardrails",
                                "responses"})) {
    return;
  }
  if (n["route"]) {
    RouteConfig route;
    read_route(r, n["route"], where + ".route", route);
    m.route = std::move(route);
    if (n["provider"] || n["upstream_model"]) {
      // One error: the provider is not read, so it is not also reported as undefined.
      r.error(n["route"], where + ": a model has either a provider (and upstream_model) or a route, not both");
    }
  }
  if (n["price"]) read_price(r, n["price"], where + ".price", m.price);
  if (n["max_data_class"]) {
    if (auto v = r.string(n["max_data_class"], where + ".max_data_class")) {
      m.max_data_class = parse_data_class(*v);
      if (!m.max_data_class) {
        r.error(n["max_data_class"], where + ".max_data_class must be one of public, internal, "
                                             "confidential, restricted");
      }
    }
  }
  if (!m.route) {  // a route's provider and upstream_model are reported above
    if (!n["provider"]) {
      r.error(n, where + ".provider is required (or a route: {targets: [...]})");
    } else if (auto p = r.string(n["provider"], where + ".provider")) {
      m.provider = *p;
      if (!c.providers.contains(*p)) {
        r.error(n["provider"], where + ".provider '" + *p + "' is not defined under providers");
      }
    }
    if (n["upstream_model"]) {
      if (auto u = r.string(n["upstream_model"], where + ".upstream_model")) m.upstream_model = *u;
    } else {
      m.upstream_model = name;  // the provider knows the model by the same name
    }
  }
  if (n["reasoning_effort"]) {
    if (auto v = r.boolean(n["reasoning_effort"], where + ".reasoning_effort")) m.reasoning_effort = *v;
    // Only a translation to the chat shape uses it: an Anthropic provider gets the client's
    // own effort, a route's targets say it for themselves.
    auto p = c.providers.find(m.provider);
    if (m.route) {
      r.error(n["reasoning_effort"], where + ".reasoning_effort belongs on the route's target models");
    } else if (p != c.providers.end() && p->second.kind == ProviderKind::kAnthropic) {
      r.error(n["reasoning_effort"], where + ".reasoning_effort is for models of openai-compatible or databricks "
                                             "providers (an anthropic provider gets the client's effort as sent)");
    }
  }
  if (n["responses"]) {
    if (auto v = read_responses_mode(r, n["responses"], where + ".responses")) m.responses_native = *v;
    auto p = c.providers.find(m.provider);
    if (m.route) {
      r.error(n["responses"], where + ".responses belongs on the route's target models");
    } else if (p != c.providers.end() && p->second.kind == ProviderKind::kAnthropic) {
      r.error(n["responses"], where + ".responses is for models of openai-compatible or databricks providers");
    }
  }
  if (!m.price.set && c.providers.contains(m.provider) &&
      c.providers.at(m.provider).kind == ProviderKind::kDatabricks) {
    if (auto list = databricks_list_price(m.upstream_model)) m.price = *list;
  }
  c.models[name] = std::move(m);
}

void read_models(Reader& r, const YAML::Node& ms, Config& c) {
  if (!ms.IsMap()) {
    r.error(ms, "models must be a mapping of model name to settings");
    return;
  }
  for (const auto& kv : ms) read_model(r, kv.first.Scalar(), kv.second, c);
}

// keys: the keys written in the file (by digest). The roles they name are checked once all
// roles are read.
void read_keys(Reader& r, const YAML::Node& ks, Config& c, std::vector<RoleRef>& role_refs) {
  if (!ks.IsSequence()) {
    r.error(ks, "keys must be a list of {name, sha256}");
    return;
  }
  std::set<std::string> names;
  std::map<Sha256, std::pair<std::string, YAML::Mark>> digests;  // the first key with each digest
  for (const auto& n : ks) {
    if (!r.expect_map(n, "keys[]", {"name", "sha256", "role", "project"})) continue;
    KeyConfig k;
    if (!n["name"]) {
      r.error(n, "keys[].name is required");
    } else if (auto v = r.string(n["name"], "keys[].name")) {
      k.name = *v;
      if (!names.insert(k.name).second) r.error(n["name"], "duplicate key name '" + k.name + "'");
    }
    if (!n["sha256"]) {
      r.error(n, "keys[].sha256 is required: the hex SHA-256 of the key "
                 "(printf %s \"$KEY\" | sha256sum)");
    } else if (auto v = r.string(n["sha256"], "keys[].sha256")) {
      if (auto d = parse_hex_digest(*v)) {
        k.sha256 = *d;
        auto [first, fresh] = digests.emplace(*d, std::pair{k.name, n["sha256"].Mark()});
        if (!fresh) {
          // Two names for one key: which name (and role) a caller gets would be a lookup's accident.
          r.error(n["sha256"], "keys[" + k.name + "].sha256 is the same key as keys[" + first->second.first +
                                   "] (first at " + r.place(first->second.second) + ")");
        }
      } else {
        r.error(n["sha256"], "keys[].sha256 must be 64 hex digits (printf %s \"$KEY\" | sha256sum)");
      }
    }
    if (n["role"]) {
      if (auto v = r.string(n["role"], "keys[].role")) k.role = *v;
      role_refs.push_back({n["role"], k.role, "keys[" + k.name + "].role"});
    }
    if (n["project"]) {
      if (auto v = r.string(n["project"], "keys[].project")) k.project = *v;
    }
    c.keys.push_back(std::move(k));
  }
}

// store.postgres: a libpq URL. Its password never goes into a message (config::redact_url_password).
void read_postgres(Reader& r, const YAML::Node& n, Config& c) {
  auto v = r.string(n, "store.postgres");
  if (!v) return;
  if (!v->starts_with("postgresql://") && !v->starts_with("postgres://")) {
    return r.error(n, "store.postgres must be a URL, e.g. \"postgresql://gatehouse:${PGPASSWORD}@db.internal:5432/gatehouse\"");
  }
  c.store.postgres_url = *v;
}

void read_store(Reader& r, const YAML::Node& st, Config& c) {
  if (!r.expect_map(st, "store", {"sqlite", "postgres"})) return;
  if (st["sqlite"] && st["postgres"]) {
    // One store: keys, records and the audit chain must not be split between two.
    return r.error(st["postgres"], "store: name either sqlite or postgres, not both");
  }
  if (st["postgres"]) read_postgres(r, st["postgres"], c);
  if (st["sqlite"]) {
    if (auto v = r.string(st["sqlite"], "store.sqlite")) {
      if (v->empty()) return r.error(st["sqlite"], "store.sqlite must be a file path, e.g. \"./gatehouse.db\"");
      // A relative path is the config file's neighbour, wherever the command runs from (a CLI
      // run from another folder must find the same database, not create an empty one).
      std::filesystem::path path(*v);
      if (path.is_relative()) path = std::filesystem::path(r.file()).parent_path() / path;
      c.store.sqlite_path = path.lexically_normal().string();
      std::error_code ec;
      const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
      if (!std::filesystem::is_directory(folder, ec)) {
        r.error(st["sqlite"], "store.sqlite: the folder '" + folder.string() + "' does not exist (create it, or " +
                                  "name a file in an existing folder)");
      }
    }
  }
}

void read_responses(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "responses", {"store", "retention_days", "max_chain"})) return;
  auto& rc = c.responses;
  if (n["store"]) {
    if (auto v = r.boolean(n["store"], "responses.store")) rc.store = *v;
  }
  if (n["retention_days"]) {
    if (auto v = r.integer(n["retention_days"], "responses.retention_days", 1, 3650)) rc.retention_days = int(*v);
  }
  if (n["max_chain"]) {
    if (auto v = r.integer(n["max_chain"], "responses.max_chain", 1, 100'000)) rc.max_chain = int(*v);
  }
}

void read_roles(Reader& r, const YAML::Node& rs, Config& c) {
  c.roles_defined = true;
  if (rs.IsMap()) {
    for (const auto& kv : rs) {
      RoleConfig role;
      role.name = kv.first.Scalar();
      read_role(r, kv.second, role);
      c.roles[role.name] = std::move(role);
    }
  } else if (!rs.IsNull()) {
    r.error(rs, "roles must be a mapping of role name to {models, max_tokens_per_request, data_classes, admin, guardrails}");
  }
}

// groups: an identity provider group to the role its members get.
void read_groups(Reader& r, const YAML::Node& gs, Config& c, std::vector<RoleRef>& role_refs) {
  if (!gs.IsMap()) {
    r.error(gs, "groups must be a mapping of identity provider group to role name");
    return;
  }
  for (const auto& kv : gs) {
    std::string group = kv.first.Scalar();
    if (auto v = r.string(kv.second, "groups." + group)) {
      c.groups[group] = *v;
      role_refs.push_back({kv.second, *v, "groups." + group});
    }
  }
}

void check_role_refs(Reader& r, const std::vector<RoleRef>& role_refs, const Config& c) {
  for (const auto& ref : role_refs) {
    if (!c.roles.contains(ref.role)) {
      std::string known;
      for (const auto& [name, role] : c.roles) known += (known.empty() ? "" : ", ") + name;
      r.error(ref.at, ref.where + ": role '" + ref.role + "' is not defined under roles" +
                          (known.empty() ? "" : " (defined: " + known + ")"));
    }
  }
}

void read_log(Reader& r, const YAML::Node& l, Config& c) {
  if (!r.expect_map(l, "log", {"level", "access_log"})) return;
  if (l["level"]) {
    if (auto v = r.string(l["level"], "log.level")) {
      static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
      if (kLevels.contains(*v)) {
        c.log.level = *v;
      } else {
        r.error(l["level"], "log.level must be one of trace, debug, info, warn, error");
      }
    }
  }
  if (l["access_log"]) {
    if (auto v = r.boolean(l["access_log"], "log.access_log")) c.log.access_log = *v;
  }
}

// Providers before models (a model names its provider); what spans sections (the roles keys and
// groups name, routes, limits) is checked once those sections are read.
void read_config(Reader& r, const YAML::Node& root, Config& c) {
  std::vector<RoleRef> role_refs;
  if (!r.expect_map(root, "the top level",
                    {"server", "providers", "models", "keys", "store", "auth", "roles", "groups", "log",
                     "limits", "budgets", "records", "metrics", "tracing", "guardrails", "mcp", "responses", "state", "console", "billing"})) {
    return;
  }
  if (root["server"]) read_server(r, root["server"], c.server);
  if (root["console"]) read_console(r, root["console"], c.console);
  if (const auto& ps = root["providers"]) read_providers(r, ps, c);
  if (const auto& ms = root["models"]) read_models(r, ms, c);
  if (const auto& ks = root["keys"]) read_keys(r, ks, c, role_refs);
  if (const auto& st = root["store"]) read_store(r, st, c);
  if (const auto& rs = root["responses"]) read_responses(r, rs, c);
  if (const auto& st = root["state"]) read_state(r, st, c);
  if (const auto& b = root["billing"]) read_billing(r, b, c);
  if (const auto& a = root["auth"]) {
    if (r.expect_map(a, "auth", {"jwt"}) && a["jwt"]) read_jwt(r, a["jwt"], c.jwt);
  }
  if (const auto& rs = root["roles"]) read_roles(r, rs, c);
  if (const auto& gs = root["groups"]) read_groups(r, gs, c, role_refs);
  check_role_refs(r, role_refs, c);
  if (const auto& gs = root["guardrails"]) read_guardrails(r, gs, c);
  check_guardrails(r, root, c);
  check_auth_passthrough(r, root, c);
  if (const auto& m = root["mcp"]) read_mcp(r, m, c);
  check_role_tools(r, root, c);

  check_routes(r, root, c);
  if (root["limits"]) read_limits(r, root["limits"], c);
  if (root["budgets"]) read_budgets(r, root["budgets"], c);
  if (root["records"]) read_records(r, root["records"], c);
  if (root["metrics"]) read_metrics(r, root["metrics"], c);
  if (root["tracing"]) read_tracing(r, root["tracing"], c);
  check_limits(r, root, c);

  if (const auto& l = root["log"]) read_log(r, l, c);
}

}  // namespace

LoadResult load_string(const std::string& yaml, const std::string& file_name, const EnvLookup& env) {
  LoadResult result;
  Reader r(file_name, env);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    r.error_at(e.mark, e.msg);
    result.diagnostics = std::move(r.diagnostics());
    return result;
  }
  if (!root || root.IsNull()) {
    result.diagnostics.push_back({file_name, 1, 1, "the configuration is empty"});
    return result;
  }
  auto c = std::make_shared<Config>();
  c->source_file = file_name;
  try {
    std::set<std::pair<int, int>> reported;
    check_duplicate_keys(r, root, reported);
    read_config(r, root, *c);
  } catch (const YAML::Exception& e) {
    r.error_at(e.mark, e.msg);
  }
  result.diagnostics = std::move(r.diagnostics());
  result.warnings = std::move(r.warnings());
  if (result.diagnostics.empty()) result.config = std::move(c);
  return result;
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.diagnostics.push_back({path, 0, 0, "cannot read the configuration file"});
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, env);
}

}  // namespace gatehouse::config
