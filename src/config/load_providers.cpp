// providers: where each provider is, its kind, its credential and its connection settings
// (docs/providers/, docs/configuration.md).
#include <fstream>
#include <optional>
#include <string>

#include "config/reader.h"

namespace gatehouse::config {

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

namespace {

// `kind`, which every other setting depends on. False when it is missing (reported): the rest of
// the provider is not read.
bool read_provider_kind(Reader& r, const std::string& where, const YAML::Node& n, ProviderConfig& p) {
  if (!n["kind"]) {
    r.error(n, where + ".kind is required (openai-compatible, anthropic or databricks)");
    return false;
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
  return true;
}

// Where the provider is: base_url; a Databricks workspace is `host` (DATABRICKS_HOST).
void read_provider_location(Reader& r, const std::string& where, const YAML::Node& n, ProviderConfig& p) {
  const bool dbx = p.kind == ProviderKind::kDatabricks;
  std::optional<std::string> url;
  const char* url_key = dbx ? "host" : "base_url";
  if (dbx && n["base_url"]) {
    r.error(n["base_url"], where + ": a databricks provider takes host (the workspace URL), not base_url");
  } else if (!dbx && n["host"]) {
    r.error(n["host"], where + ": host is for databricks providers; use base_url");
  }
  if (n[url_key]) {
    url = r.required(n[url_key], where + "." + url_key);
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
    // An empty credential (`token: "${TOK}"` with TOK set to "") would send no Authorization:
    // refused here, naming the variable, rather than as the provider's 401 on every request.
    if (auth["token"]) {
      if (auto t = r.required(auth["token"], where + ".auth.token")) p.token = *t;
    }
    if (auth["client_id"]) {
      if (auto t = r.required(auth["client_id"], where + ".auth.client_id")) p.client_id = *t;
    }
    if (auth["client_secret"]) {
      if (auto t = r.required(auth["client_secret"], where + ".auth.client_secret")) p.client_secret = *t;
    }
    // By presence: an empty value is reported above.
    if (auth["token"] && (auth["client_id"] || auth["client_secret"])) {
      r.error(auth, where + ".auth: give either token or client_id + client_secret, not both");
    } else if (!auth["client_id"] != !auth["client_secret"]) {
      r.error(auth, where + ".auth: OAuth needs both client_id and client_secret");
    } else if (dbx && !auth["token"] && !auth["client_id"]) {
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
    // Anthropic's API refuses every request without one, so none is a configuration error (as for
    // databricks), not a 401 relayed to each client.
    auto t = r.env("ANTHROPIC_API_KEY");
    if (t && !t->empty()) {
      p.token = *t;
    } else {
      r.error(n, where + ".auth is required: {token: \"${ANTHROPIC_API_KEY}\"} (or set ANTHROPIC_API_KEY" +
                     (t ? "; it is set but empty)" : ")"));
    }
  } else if (p.kind == ProviderKind::kAnthropic && !n["auth"] && p.host == "api.anthropic.com") {
    // Anthropic's API named by its URL: the environment's key is not used for a base_url (it must
    // not go to another host), so no key would be sent and every request refused upstream.
    r.error(n, where + ".auth is required for Anthropic's API: {token: \"${ANTHROPIC_API_KEY}\"} (or leave base_url out "
                       "to use ANTHROPIC_API_KEY)");
  }
}

// anthropic_version and default_max_tokens, which only an anthropic provider takes.
void read_anthropic_settings(Reader& r, const std::string& where, const YAML::Node& n, ProviderConfig& p) {
  if (!n["anthropic_version"] && !n["default_max_tokens"]) return;
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

}  // namespace

void read_provider_timeouts(Reader& r, const std::string& where, const YAML::Node& t, ProviderConfig& p) {
  if (!r.expect_map(t, where + ".timeouts", {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"})) return;
  if (t["connect_ms"]) r.millis(t["connect_ms"], where + ".timeouts.connect_ms", p.timeouts.connect);
  if (t["first_byte_ms"]) {
    r.millis(t["first_byte_ms"], where + ".timeouts.first_byte_ms", p.timeouts.first_byte);
  }
  if (t["idle_ms"]) r.millis(t["idle_ms"], where + ".timeouts.idle_ms", p.timeouts.idle);
  if (t["total_ms"]) r.millis(t["total_ms"], where + ".timeouts.total_ms", p.timeouts.total);
}

void read_provider_tls(Reader& r, const std::string& where, const YAML::Node& t, ProviderConfig& p) {
  if (!r.expect_map(t, where + ".tls", {"ca_file", "verify"})) return;
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

namespace {

void read_provider_pool(Reader& r, const std::string& where, const YAML::Node& t, ProviderConfig& p) {
  if (!r.expect_map(t, where + ".pool", {"max_idle", "idle_timeout_ms"})) return;
  if (t["max_idle"]) {
    if (auto v = r.integer(t["max_idle"], where + ".pool.max_idle", 0, 10'000)) {
      p.pool_max_idle = std::size_t(*v);
    }
  }
  if (t["idle_timeout_ms"]) {
    r.millis(t["idle_timeout_ms"], where + ".pool.idle_timeout_ms", p.pool_idle_timeout);
  }
}

void read_provider(Reader& r, const std::string& name, const YAML::Node& n, ProviderConfig& p) {
  std::string where = "providers." + name;
  p.name = name;
  if (!r.expect_map(n, where,
                    {"kind", "base_url", "host", "auth", "timeouts", "tls", "pool",
                     "anthropic_version", "default_max_tokens", "responses"})) {
    return;
  }
  if (!read_provider_kind(r, where, n, p)) return;
  if (n["responses"]) {
    if (auto v = read_responses_mode(r, n["responses"], where + ".responses")) p.responses_native = *v;
    if (p.kind == ProviderKind::kAnthropic) {
      r.error(n["responses"], where + ".responses is for openai-compatible and databricks providers (an anthropic "
                                      "provider is always reached through translation)");
    }
  }
  read_provider_location(r, where, n, p);
  read_provider_auth(r, where, n, p);
  read_anthropic_settings(r, where, n, p);
  if (const auto& t = n["timeouts"]) read_provider_timeouts(r, where, t, p);
  if (const auto& t = n["tls"]) read_provider_tls(r, where, t, p);
  if (const auto& t = n["pool"]) read_provider_pool(r, where, t, p);
}

}  // namespace

std::optional<bool> read_responses_mode(Reader& r, const YAML::Node& n, const std::string& where) {
  auto v = r.string(n, where);
  if (!v) return std::nullopt;
  if (*v == "native") return true;
  if (*v == "translate") return false;
  r.error(n, where + " must be native (the provider speaks the Responses API itself) or translate (to chat)");
  return std::nullopt;
}

void read_providers(Reader& r, const YAML::Node& ps, Config& c) {
  if (!ps.IsMap()) {
    r.error(ps, "providers must be a mapping of provider name to settings");
    return;
  }
  for (const auto& kv : ps) {
    std::string name = kv.first.Scalar();
    ProviderConfig p;
    read_provider(r, name, kv.second, p);
    c.providers[name] = std::move(p);
  }
}

void check_auth_passthrough(Reader& r, const YAML::Node& root, const Config& c) {
  for (const auto& [name, p] : c.providers) {
    if (p.auth_passthrough && !c.jwt.enabled) {
      r.error(root["providers"][name], "providers." + name +
                                           ".auth.passthrough needs auth.jwt: the caller's token is "
                                           "forwarded, so it must be a JWT the gateway can verify");
    }
  }
}

}  // namespace gatehouse::config
