// mcp: the MCP gateway's servers, virtual servers, approvals and pinning; roles' `tools`
// (docs/mcp.md).
#include <algorithm>

#include "config/reader.h"
#include "core/encoding.h"

namespace gatehouse::config {

namespace {

// "server/tool-glob": the server part must be a configured server's name (or a glob over them).
bool tool_glob_ok(Reader& r, const YAML::Node& at, const std::string& where, const std::string& glob,
                  const McpConfig& mcp, std::vector<std::string>* servers) {
  const auto slash = glob.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == glob.size()) {
    r.error(at, where + ": '" + glob + "' must be \"server/tool\" (globs allowed on either side, e.g. \"crm/search_*\")");
    return false;
  }
  const std::string server = glob.substr(0, slash);
  bool any = false;
  for (const auto& [name, s] : mcp.servers) {
    // A server part with glob characters names every server it matches.
    const bool match = glob_match(server, name);
    if (!match) continue;
    any = true;
    if (servers && std::find(servers->begin(), servers->end(), name) == servers->end()) servers->push_back(name);
  }
  if (!any) {
    std::string known;
    for (const auto& [name, s] : mcp.servers) known += (known.empty() ? "" : ", ") + name;
    r.error(at, where + ": '" + glob + "' names no server under mcp.servers" +
                    (known.empty() ? " (none is defined)" : " (defined: " + known + ")"));
    return false;
  }
  return true;
}

void read_string_list(Reader& r, const YAML::Node& n, const std::string& where, std::vector<std::string>& out,
                      const char* example) {
  if (!n.IsSequence()) {
    r.error(n, where + " must be a list, e.g. " + example);
    return;
  }
  for (const auto& e : n) {
    if (auto v = r.string(e, where + "[]")) out.push_back(*v);
  }
}

void read_server_auth(Reader& r, const std::string& where, const YAML::Node& a, McpServerConfig& s, const Config& c) {
  if (!r.expect_map(a, where, {"token", "header", "client_id", "client_secret", "token_path", "scope", "provider",
                               "passthrough"})) {
    return;
  }
  int kinds = 0;
  if (a["token"]) {
    ++kinds;
    if (auto t = r.required(a["token"], where + ".token")) s.conn.token = *t;
  }
  if (const auto& h = a["header"]) {
    ++kinds;
    if (r.expect_map(h, where + ".header", {"name", "value"})) {
      auto name = h["name"] ? r.required(h["name"], where + ".header.name") : std::nullopt;
      auto value = h["value"] ? r.required(h["value"], where + ".header.value") : std::nullopt;
      if (!h["name"] || !h["value"]) r.error(h, where + ".header needs name and value, e.g. {name: X-Api-Key, value: \"${CRM_KEY}\"}");
      if (name) s.header_name = *name;
      if (value) s.header_value = *value;
    }
  }
  if (a["client_id"] || a["client_secret"]) {
    ++kinds;
    if (!a["client_id"] || !a["client_secret"]) {
      r.error(a, where + ": OAuth client credentials need both client_id and client_secret");
    }
    if (a["client_id"]) {
      if (auto t = r.required(a["client_id"], where + ".client_id")) s.conn.client_id = *t;
    }
    if (a["client_secret"]) {
      if (auto t = r.required(a["client_secret"], where + ".client_secret")) s.conn.client_secret = *t;
    }
    if (a["token_path"]) {
      if (auto t = r.required(a["token_path"], where + ".token_path")) s.conn.token_path = *t;
    }
    if (a["scope"]) {
      if (auto t = r.string(a["scope"], where + ".scope")) s.conn.oauth_scope = *t;
    }
  } else if (a["token_path"] || a["scope"]) {
    r.error(a["token_path"] ? a["token_path"] : a["scope"], where + ": token_path and scope go with client_id + client_secret");
  }
  if (a["provider"]) {
    ++kinds;
    if (auto p = r.string(a["provider"], where + ".provider")) {
      auto it = c.providers.find(*p);
      if (it == c.providers.end()) {
        r.error(a["provider"], where + ".provider: provider '" + *p + "' is not defined under providers");
      } else if (it->second.auth_passthrough) {
        r.error(a["provider"], where + ".provider: provider '" + *p + "' forwards its callers' tokens; use passthrough: true");
      } else {
        s.credential_provider = *p;
        s.conn.token = it->second.token;
        s.conn.client_id = it->second.client_id;
        s.conn.client_secret = it->second.client_secret;
        s.conn.token_path = it->second.token_path;
        s.conn.oauth_scope = it->second.oauth_scope;
      }
    }
  }
  if (a["passthrough"]) {
    if (auto v = r.boolean(a["passthrough"], where + ".passthrough")) {
      s.passthrough = *v;
      if (*v) ++kinds;
      if (*v && !c.jwt.enabled) {
        r.error(a["passthrough"], where + ".passthrough forwards the caller's JWT (Databricks on-behalf-of): it needs auth.jwt");
      }
    }
  }
  if (kinds > 1) {
    r.error(a, where + ": give one of token, header, client_id + client_secret, provider or passthrough");
  }
}

void read_server(Reader& r, const std::string& name, const YAML::Node& n, McpServerConfig& s, const Config& c) {
  const std::string where = "mcp.servers." + name;
  s.name = name;
  s.conn.name = "mcp:" + name;
  if (!r.expect_map(n, where, {"url", "command", "env", "cwd", "auth", "guardrails", "timeouts", "tls"})) return;
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                          std::string::npos || name.find("__") != std::string::npos) {
    r.error(n, where + ": a server name takes letters, digits, '-', '_' and '.', without \"__\" (it prefixes tool names)");
  }
  if (n["url"] && n["command"]) {
    r.error(n, where + ": give url (a Streamable HTTP server) or command (a stdio server), not both");
  } else if (!n["url"] && !n["command"]) {
    r.error(n, where + " needs url (\"https://host/mcp\") or command ([\"npx\", \"-y\", \"some-mcp-server\"])");
  }
  // MCP calls wait for tools, not tokens: a tool may take minutes; no idle gap rule for streams.
  s.conn.timeouts.first_byte = Millis(300'000);
  s.conn.timeouts.idle = Millis(300'000);
  s.conn.timeouts.total = Millis(3'600'000);
  if (n["url"]) {
    if (auto u = r.required(n["url"], where + ".url")) {
      s.url = *u;
      s.conn.base_url = *u;
      if (!parse_base_url(*u, s.conn)) r.error(n["url"], where + ".url must be an http:// or https:// URL with a host");
      if (s.conn.base_path.empty()) s.conn.base_path = "/";
    }
    if (n["env"] || n["cwd"]) r.error(n["env"] ? n["env"] : n["cwd"], where + ": env and cwd are for stdio servers (command)");
    if (const auto& t = n["timeouts"]) read_provider_timeouts(r, where, t, s.conn);
    if (const auto& t = n["tls"]) read_provider_tls(r, where, t, s.conn);
    if (const auto& a = n["auth"]) read_server_auth(r, where + ".auth", a, s, c);
  }
  if (n["command"]) {
    read_string_list(r, n["command"], where + ".command", s.command, "[\"npx\", \"-y\", \"@modelcontextprotocol/server-filesystem\", \"/srv\"]");
    if (n["command"].IsSequence() && s.command.empty()) r.error(n["command"], where + ".command must not be empty");
    if (const auto& e = n["env"]) {
      if (!e.IsMap()) {
        r.error(e, where + ".env must be a mapping of variable to value, e.g. {LOG_LEVEL: info}");
      } else {
        for (const auto& kv : e) {
          if (auto v = r.string(kv.second, where + ".env." + kv.first.Scalar())) s.env[kv.first.Scalar()] = *v;
        }
      }
    }
    if (n["cwd"]) {
      if (auto v = r.string(n["cwd"], where + ".cwd")) s.cwd = *v;
    }
    for (const char* k : {"auth", "timeouts", "tls"}) {
      if (n[k]) r.error(n[k], where + "." + k + " is for HTTP servers (url); a stdio server gets only its env");
    }
  }
  if (const auto& g = n["guardrails"]) check_guardrail_lists(r, g, where + ".guardrails", c, s.guardrails);
}

}  // namespace

void read_role_tools(Reader& r, const YAML::Node& n, const std::string& where, RoleConfig& role) {
  read_string_list(r, n, where + ".tools", role.tools, "[\"crm/search_*\", \"uc-functions/*\"]");
}

void read_mcp(Reader& r, const YAML::Node& n, Config& c) {
  auto& m = c.mcp;
  if (!r.expect_map(n, "mcp", {"servers", "virtual", "approvals", "pinning", "session_secret", "allowed_origins",
                               "allowed_hosts", "public_url", "authorization_server", "stdio", "session_idle_s"})) {
    return;
  }
  if (const auto& ss = n["servers"]) {
    if (!ss.IsMap()) {
      r.error(ss, "mcp.servers must be a mapping of server name to {url, auth} or {command, env}");
    } else {
      for (const auto& kv : ss) {
        McpServerConfig s;
        read_server(r, kv.first.Scalar(), kv.second, s, c);
        m.servers[kv.first.Scalar()] = std::move(s);
      }
    }
  } else {
    r.error(n, "mcp.servers is required: the MCP servers the gateway fronts");
  }
  if (const auto& vs = n["virtual"]) {
    if (!vs.IsMap()) {
      r.error(vs, "mcp.virtual must be a mapping of name to {tools: [\"server/glob\", ...]}");
    } else {
      for (const auto& kv : vs) {
        const std::string name = kv.first.Scalar();
        const std::string where = "mcp.virtual." + name;
        if (m.servers.contains(name)) r.error(kv.first, where + ": a server is already named '" + name + "' (/mcp/" + name + ")");
        if (!r.expect_map(kv.second, where, {"tools"})) continue;
        McpVirtualConfig v;
        v.name = name;
        if (!kv.second["tools"]) {
          r.error(kv.second, where + ".tools is required, e.g. [\"crm/search_*\", \"uc-functions/*\"]");
          continue;
        }
        read_string_list(r, kv.second["tools"], where + ".tools", v.tools, "[\"crm/search_*\"]");
        std::size_t i = 0;
        for (const auto& g : v.tools) tool_glob_ok(r, kv.second["tools"][i++], where + ".tools", g, m, &v.servers);
        m.virtual_servers[name] = std::move(v);
      }
    }
  }
  if (const auto& a = n["approvals"]) {
    if (r.expect_map(a, "mcp.approvals", {"tools", "timeout_s"})) {
      if (a["tools"]) {
        read_string_list(r, a["tools"], "mcp.approvals.tools", m.approval_tools, "[\"crm/delete_*\"]");
        std::size_t i = 0;
        for (const auto& g : m.approval_tools) tool_glob_ok(r, a["tools"][i++], "mcp.approvals.tools", g, m, nullptr);
      }
      if (a["timeout_s"]) {
        if (auto v = r.integer(a["timeout_s"], "mcp.approvals.timeout_s", 1, 7 * 86400)) m.approval_timeout = std::chrono::seconds(*v);
      }
      if (!m.approval_tools.empty() && !c.store.configured()) {
        r.error(a, "mcp.approvals needs a store (store: {sqlite: PATH} or {postgres: URL}): pending calls are kept there for `gatehouse approvals`");
      }
    }
  }
  if (n["pinning"]) {
    if (auto v = r.boolean(n["pinning"], "mcp.pinning")) m.pinning = *v;
  }
  if (n["session_secret"]) {
    if (auto v = r.required(n["session_secret"], "mcp.session_secret")) {
      m.session_secret = *v;
      if (v->size() < 16) r.error(n["session_secret"], "mcp.session_secret must be at least 16 characters (it signs session ids)");
    }
  }
  if (n["allowed_origins"]) read_string_list(r, n["allowed_origins"], "mcp.allowed_origins", m.allowed_origins, "[\"https://console.example.com\"]");
  if (n["allowed_hosts"]) read_string_list(r, n["allowed_hosts"], "mcp.allowed_hosts", m.allowed_hosts, "[\"gateway.example.com\"]");
  if (n["public_url"]) {
    if (auto v = r.string(n["public_url"], "mcp.public_url")) {
      m.public_url = *v;
      while (!m.public_url.empty() && m.public_url.back() == '/') m.public_url.pop_back();
      if (m.public_url.rfind("http://", 0) != 0 && m.public_url.rfind("https://", 0) != 0) {
        r.error(n["public_url"], "mcp.public_url must be an http:// or https:// URL (how clients reach the gateway)");
      }
    }
  }
  if (n["authorization_server"]) {
    if (auto v = r.string(n["authorization_server"], "mcp.authorization_server")) m.authorization_server = *v;
  } else if (c.jwt.enabled) {
    m.authorization_server = c.jwt.issuer;
  }
  if (const auto& s = n["stdio"]) {
    if (r.expect_map(s, "mcp.stdio", {"max_processes", "idle_timeout_s"})) {
      if (s["max_processes"]) {
        if (auto v = r.integer(s["max_processes"], "mcp.stdio.max_processes", 1, 10'000)) m.stdio_max_processes = std::size_t(*v);
      }
      if (s["idle_timeout_s"]) {
        if (auto v = r.integer(s["idle_timeout_s"], "mcp.stdio.idle_timeout_s", 1, 7 * 86400)) m.stdio_idle = Millis(*v * 1000);
      }
    }
  }
  if (n["session_idle_s"]) {
    if (auto v = r.integer(n["session_idle_s"], "mcp.session_idle_s", 1, 30 * 86400)) m.session_idle = Millis(*v * 1000);
  }
}

void check_role_tools(Reader& r, const YAML::Node& root, const Config& c) {
  const auto& rs = root["roles"];
  if (!rs || !rs.IsMap()) return;
  for (const auto& kv : rs) {
    const auto& ts = kv.second.IsMap() ? kv.second["tools"] : YAML::Node();
    if (!ts || !ts.IsSequence()) continue;
    const std::string where = "roles." + kv.first.Scalar() + ".tools";
    if (!c.mcp.enabled()) {
      r.error(ts, where + " names MCP tools, but no mcp.servers are configured");
      continue;
    }
    for (const auto& e : ts) {
      if (e.IsScalar()) tool_glob_ok(r, e, where, e.Scalar(), c.mcp, nullptr);
    }
  }
}

}  // namespace gatehouse::config
