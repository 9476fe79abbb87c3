#include "config/load.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "config/env.h"
#include "config/reader.h"

namespace gatehouse::config {

std::string Diagnostic::to_string() const {
  std::ostringstream os;
  os << file << ':' << line << ':' << column << ": " << message;
  return os.str();
}

namespace {

// "host:port" or "[v6]:port".
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

void read_server(Reader& r, const YAML::Node& n, ServerConfig& s) {
  if (!r.expect_map(n, "server",
                    {"listen", "workers", "max_body_bytes", "max_header_bytes", "header_timeout_ms",
                     "keepalive_timeout_ms", "drain_timeout_ms"})) {
    return;
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

bool parse_base_url(const std::string& url, ProviderConfig& p) {
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    p.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    p.tls = false;
    rest = url.substr(7);
  } else {
    return false;
  }
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  p.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!p.base_path.empty() && p.base_path.back() == '/') p.base_path.pop_back();
  if (authority.empty() || authority.find('@') != std::string::npos) return false;
  // A port is present if the last ':' is after any IPv6 ']' bracket.
  std::size_t colon = authority.rfind(':');
  std::size_t bracket = authority.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    if (!split_host_port(authority, p.host, p.port)) return false;
  } else {
    p.host = authority;
    if (p.host.size() >= 2 && p.host.front() == '[') p.host = p.host.substr(1, p.host.size() - 2);
    p.port = p.tls ? "443" : "80";
  }
  return !p.host.empty();
}

// The provider credential: `token`, or `client_id` + `client_secret` (OAuth M2M, databricks).
// Without an `auth` block, the variables every SDK of the provider reads are the defaults.
void read_provider_auth(Reader& r, const std::string& where, const YAML::Node& n,
                        ProviderConfig& p) {
  const bool dbx = p.kind == ProviderKind::kDatabricks;
  if (const auto& auth = n["auth"]) {
    std::initializer_list<std::string_view> keys = {"token", "passthrough"};
    std::initializer_list<std::string_view> dbx_keys = {"token", "client_id", "client_secret", "passthrough"};
    if (!r.expect_map(auth, where + ".auth", dbx ? dbx_keys : keys)) return;
    if (auth["passthrough"]) {
      if (auto v = r.boolean(auth["passthrough"], where + ".auth.passthrough")) p.auth_passthrough = *v;
      if (p.auth_passthrough && (auth["token"] || auth["client_id"] || auth["client_secret"])) {
        r.error(auth, where + ".auth.passthrough forwards the caller's token: no token or client "
                              "credentials with it");
      }
      if (p.auth_passthrough && p.kind == ProviderKind::kAnthropic) {
        r.error(auth["passthrough"], where + ".auth.passthrough is for databricks and openai-compatible "
                                             "providers (Anthropic does not accept identity-provider tokens)");
      }
      if (p.auth_passthrough) return;
    }
    if (auth["token"]) {
      if (auto t = r.string(auth["token"], where + ".auth.token")) p.token = *t;
    }
    if (auth["client_id"]) {
      if (auto t = r.string(auth["client_id"], where + ".auth.client_id")) p.client_id = *t;
    }
    if (auth["client_secret"]) {
      if (auto t = r.string(auth["client_secret"], where + ".auth.client_secret")) p.client_secret = *t;
    }
    if (auth["token"] && (auth["client_id"] || auth["client_secret"])) {
      r.error(auth, where + ".auth: give either token or client_id + client_secret, not both");
    } else if (!p.client_id.empty() != !p.client_secret.empty()) {
      r.error(auth, where + ".auth: OAuth needs both client_id and client_secret");
    } else if (dbx && !auth["token"] && p.client_id.empty()) {
      r.error(auth, where + ".auth needs token (a personal access token) or client_id + client_secret");
    }
    return;
  }
  if (dbx) {
    if (auto t = r.env("DATABRICKS_TOKEN"); t && !t->empty()) {
      p.token = *t;
    } else if (auto id = r.env("DATABRICKS_CLIENT_ID"), secret = r.env("DATABRICKS_CLIENT_SECRET");
               id && secret && !id->empty() && !secret->empty()) {
      p.client_id = *id;
      p.client_secret = *secret;
    } else {
      r.error(n, where + ".auth is required: {token: \"${DATABRICKS_TOKEN}\"} or {client_id, "
                 "client_secret} (or set DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and "
                 "DATABRICKS_CLIENT_SECRET)");
    }
  } else if (p.kind == ProviderKind::kAnthropic && !n["base_url"]) {
    // Only towards Anthropic's own API: a key from the environment must not go to another host.
    if (auto t = r.env("ANTHROPIC_API_KEY")) p.token = *t;
  }
}

void read_provider(Reader& r, const std::string& name, const YAML::Node& n, ProviderConfig& p) {
  std::string where = "providers." + name;
  p.name = name;
  if (!r.expect_map(n, where,
                    {"kind", "base_url", "host", "auth", "timeouts", "tls", "pool",
                     "anthropic_version", "default_max_tokens"})) {
    return;
  }
  if (!n["kind"]) {
    r.error(n, where + ".kind is required (openai-compatible, anthropic or databricks)");
    return;
  }
  if (auto kind = r.string(n["kind"], where + ".kind")) {
    if (*kind == "openai-compatible" || *kind == "openai") {
      p.kind = ProviderKind::kOpenAICompatible;
    } else if (*kind == "anthropic") {
      p.kind = ProviderKind::kAnthropic;
    } else if (*kind == "databricks") {
      p.kind = ProviderKind::kDatabricks;
    } else {
      r.error(n["kind"], where + ".kind '" + *kind +
                             "' is not supported (expected openai-compatible, anthropic or databricks)");
    }
  }
  const bool dbx = p.kind == ProviderKind::kDatabricks;
  // Where the provider is: base_url; a Databricks workspace is `host` (DATABRICKS_HOST).
  std::optional<std::string> url;
  const char* url_key = dbx ? "host" : "base_url";
  if (dbx && n["base_url"]) {
    r.error(n["base_url"], where + ": a databricks provider takes host (the workspace URL), not base_url");
  } else if (!dbx && n["host"]) {
    r.error(n["host"], where + ": host is for databricks providers; use base_url");
  }
  if (n[url_key]) {
    url = r.string(n[url_key], where + "." + url_key);
  } else if (dbx) {
    url = r.env("DATABRICKS_HOST");
    if (!url || url->empty()) {
      r.error(n, where + ".host is required: the workspace URL, e.g. "
                 "\"https://adb-1234567890123456.7.azuredatabricks.net\" (or set DATABRICKS_HOST)");
      url.reset();
    }
  } else if (p.kind == ProviderKind::kAnthropic) {
    url = "https://api.anthropic.com";
  } else {
    r.error(n, where + ".base_url is required, e.g. \"https://api.openai.com/v1\"");
  }
  if (url) {
    // Databricks hosts are often written without a scheme, as the Databricks CLI accepts them.
    if (dbx && url->find("://") == std::string::npos) *url = "https://" + *url;
    p.base_url = *url;
    if (!parse_base_url(*url, p)) {
      r.error(n[url_key] ? n[url_key] : n,
              where + "." + url_key + " must be an http:// or https:// URL with a host");
    }
  }
  read_provider_auth(r, where, n, p);
  if (n["anthropic_version"] || n["default_max_tokens"]) {
    if (p.kind != ProviderKind::kAnthropic) {
      r.error(n["anthropic_version"] ? n["anthropic_version"] : n["default_max_tokens"],
              where + ": anthropic_version and default_max_tokens are for anthropic providers");
    }
    if (n["anthropic_version"]) {
      if (auto v = r.string(n["anthropic_version"], where + ".anthropic_version")) p.anthropic_version = *v;
    }
    if (n["default_max_tokens"]) {
      if (auto v = r.integer(n["default_max_tokens"], where + ".default_max_tokens", 1, 1'000'000)) {
        p.default_max_tokens = int(*v);
      }
    }
  }
  if (const auto& t = n["timeouts"]) {
    if (r.expect_map(t, where + ".timeouts", {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"})) {
      if (t["connect_ms"]) r.millis(t["connect_ms"], where + ".timeouts.connect_ms", p.timeouts.connect);
      if (t["first_byte_ms"]) {
        r.millis(t["first_byte_ms"], where + ".timeouts.first_byte_ms", p.timeouts.first_byte);
      }
      if (t["idle_ms"]) r.millis(t["idle_ms"], where + ".timeouts.idle_ms", p.timeouts.idle);
      if (t["total_ms"]) r.millis(t["total_ms"], where + ".timeouts.total_ms", p.timeouts.total);
    }
  }
  if (const auto& t = n["tls"]) {
    if (r.expect_map(t, where + ".tls", {"ca_file", "verify"})) {
      if (t["ca_file"]) {
        if (auto v = r.string(t["ca_file"], where + ".tls.ca_file")) {
          p.ca_file = *v;
          if (!std::ifstream(p.ca_file)) r.error(t["ca_file"], where + ".tls.ca_file: cannot read " + p.ca_file);
        }
      }
      if (t["verify"]) {
        if (auto v = r.boolean(t["verify"], where + ".tls.verify")) p.verify_tls = *v;
      }
    }
  }
  if (const auto& t = n["pool"]) {
    if (r.expect_map(t, where + ".pool", {"max_idle", "idle_timeout_ms"})) {
      if (t["max_idle"]) {
        if (auto v = r.integer(t["max_idle"], where + ".pool.max_idle", 0, 10'000)) {
          p.pool_max_idle = std::size_t(*v);
        }
      }
      if (t["idle_timeout_ms"]) {
        r.millis(t["idle_timeout_ms"], where + ".pool.idle_timeout_ms", p.pool_idle_timeout);
      }
    }
  }
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
  auto str = [&](const char* key, std::string& out) {
    if (n[key]) {
      if (auto v = r.string(n[key], std::string("auth.jwt.") + key)) out = *v;
    }
  };
  str("issuer", j.issuer);
  str("audience", j.audience);
  str("jwks_url", j.jwks_url);
  str("jwks_file", j.jwks_file);
  str("user_claim", j.user_claim);
  str("groups_claim", j.groups_claim);
  if (j.issuer.empty()) r.error(n, "auth.jwt.issuer is required: the \"iss\" your identity provider puts in its tokens");
  if (j.audience.empty()) r.error(n, "auth.jwt.audience is required: the \"aud\" tokens for the gateway carry");
  if (j.jwks_url.empty() == j.jwks_file.empty()) {
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
  if (!r.expect_map(n, where, {"models", "max_tokens_per_request", "data_classes", "admin"})) return;
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

void read_config(Reader& r, const YAML::Node& root, Config& c) {
  std::vector<RoleRef> role_refs;
  if (!r.expect_map(root, "the top level",
                    {"server", "providers", "models", "keys", "store", "auth", "roles", "groups", "log",
                     "limits", "budgets", "records", "metrics", "tracing"})) {
    return;
  }
  if (root["server"]) read_server(r, root["server"], c.server);

  if (const auto& ps = root["providers"]) {
    if (ps.IsMap()) {
      for (const auto& kv : ps) {
        std::string name = kv.first.Scalar();
        ProviderConfig p;
        read_provider(r, name, kv.second, p);
        c.providers[name] = std::move(p);
      }
    } else {
      r.error(ps, "providers must be a mapping of provider name to settings");
    }
  }

  if (const auto& ms = root["models"]) {
    if (ms.IsMap()) {
      for (const auto& kv : ms) {
        std::string name = kv.first.Scalar();
        std::string where = "models." + name;
        ModelConfig m;
        m.name = name;
        const auto& n = kv.second;
        if (!r.expect_map(n, where, {"provider", "upstream_model", "max_data_class", "price", "route", "reasoning_effort"})) {
          continue;
        }
        if (n["route"]) {
          RouteConfig route;
          read_route(r, n["route"], where + ".route", route);
          m.route = std::move(route);
          if (n["provider"] || n["upstream_model"]) {
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
        if (!n["provider"]) {
          if (!m.route) r.error(n, where + ".provider is required (or a route: {targets: [...]})");
        } else if (auto p = r.string(n["provider"], where + ".provider")) {
          m.provider = *p;
          if (!c.providers.contains(*p)) {
            r.error(n["provider"], where + ".provider '" + *p + "' is not defined under providers");
          }
        }
        if (n["upstream_model"]) {
          if (auto u = r.string(n["upstream_model"], where + ".upstream_model")) m.upstream_model = *u;
        } else if (!m.route) {
          m.upstream_model = name;  // the provider knows the model by the same name
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
        if (!m.price.set && c.providers.contains(m.provider) &&
            c.providers.at(m.provider).kind == ProviderKind::kDatabricks) {
          if (auto list = databricks_list_price(m.upstream_model)) m.price = *list;
        }
        c.models[name] = std::move(m);
      }
    } else {
      r.error(ms, "models must be a mapping of model name to settings");
    }
  }

  if (const auto& ks = root["keys"]) {
    if (ks.IsSequence()) {
      std::set<std::string> names;
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
    } else {
      r.error(ks, "keys must be a list of {name, sha256}");
    }
  }

  if (const auto& st = root["store"]) {
    if (r.expect_map(st, "store", {"sqlite"}) && st["sqlite"]) {
      if (auto v = r.string(st["sqlite"], "store.sqlite")) {
        c.store.sqlite_path = *v;
        if (v->empty()) r.error(st["sqlite"], "store.sqlite must be a file path, e.g. \"./gatehouse.db\"");
      }
    }
  }

  if (const auto& a = root["auth"]) {
    if (r.expect_map(a, "auth", {"jwt"}) && a["jwt"]) read_jwt(r, a["jwt"], c.jwt);
  }

  if (const auto& rs = root["roles"]) {
    c.roles_defined = true;
    if (rs.IsMap()) {
      for (const auto& kv : rs) {
        RoleConfig role;
        role.name = kv.first.Scalar();
        read_role(r, kv.second, role);
        c.roles[role.name] = std::move(role);
      }
    } else if (!rs.IsNull()) {
      r.error(rs, "roles must be a mapping of role name to {models, max_tokens_per_request, data_classes, admin}");
    }
  }

  if (const auto& gs = root["groups"]) {
    if (gs.IsMap()) {
      for (const auto& kv : gs) {
        std::string group = kv.first.Scalar();
        if (auto v = r.string(kv.second, "groups." + group)) {
          c.groups[group] = *v;
          role_refs.push_back({kv.second, *v, "groups." + group});
        }
      }
    } else {
      r.error(gs, "groups must be a mapping of identity provider group to role name");
    }
  }

  for (const auto& ref : role_refs) {
    if (!c.roles.contains(ref.role)) {
      std::string known;
      for (const auto& [name, role] : c.roles) known += (known.empty() ? "" : ", ") + name;
      r.error(ref.at, ref.where + ": role '" + ref.role + "' is not defined under roles" +
                          (known.empty() ? "" : " (defined: " + known + ")"));
    }
  }

  for (const auto& [name, p] : c.providers) {
    if (p.auth_passthrough && !c.jwt.enabled) {
      r.error(root["providers"][name], "providers." + name +
                                           ".auth.passthrough needs auth.jwt: the caller's token is "
                                           "forwarded, so it must be a JWT the gateway can verify");
    }
  }

  check_routes(r, root, c);
  if (root["limits"]) read_limits(r, root["limits"], c);
  if (root["budgets"]) read_budgets(r, root["budgets"], c);
  if (root["records"]) read_records(r, root["records"], c);
  if (root["metrics"]) read_metrics(r, root["metrics"], c);
  if (root["tracing"]) read_tracing(r, root["tracing"], c);
  check_limits(r, root, c);

  if (const auto& l = root["log"]) {
    if (r.expect_map(l, "log", {"level", "access_log"})) {
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
  }
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
    read_config(r, root, *c);
  } catch (const YAML::Exception& e) {
    r.error_at(e.mark, e.msg);
  }
  result.diagnostics = std::move(r.diagnostics());
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
