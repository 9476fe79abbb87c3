#include "admin/admin.h"
#include "admin/billing_api.h"

#include "admin/query_params.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <span>
#include <vector>

#include "admin/records_api.h"
#include "limit/clock.h"
#include "mcp/approvals.h"
#include "mcp/pins.h"
#include "pipeline/guard.h"
#include "pipeline/kill_switch.h"
#include "pipeline/records.h"
#include "record/writer.h"
#include "route/health.h"
#include "route/router.h"
#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/key_watcher.h"
#include "store/store_executor.h"

namespace gatehouse::admin {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kKill = "/admin/v1/kill";
constexpr std::string_view kKeys = "/admin/v1/keys";
constexpr std::string_view kHealth = "/admin/v1/health";
constexpr std::string_view kRoles = "/admin/v1/roles";
constexpr std::string_view kGuardrailTest = "/admin/v1/guardrails/test";
constexpr std::string_view kApprovals = "/admin/v1/approvals";
constexpr std::string_view kMcpTools = "/admin/v1/mcp/tools";

// Every route target's health: the state the gateway keeps (route/health.h), shared by the routes
// that use it and judged by their thresholds ("cooling" while it cools for at least one of them),
// and beside it what single routes hold against it alone (their own stricter timeouts). A target
// no request has tried yet is healthy.
std::string health_json(const runtime::Snapshot& snapshot) {
  std::map<std::string, route::TargetState> states;
  std::map<std::string, json::array> route_only;
  for (auto& s : snapshot.services.health->states(route::policies_of(*snapshot.config))) {
    if (s.route.empty()) {
      states[s.model] = s;
      continue;
    }
    route_only[s.target].push_back(json::object{
        {"route", s.route},
        {"state", s.state},
        {"consecutive_failures", s.consecutive_failures},
        {"cooldown_remaining_s", (s.cooldown_remaining_ms + 999) / 1000},
        {"failures", s.failures},
        {"last_error", s.last_error.empty() ? json::value(nullptr) : json::value(s.last_error)},
    });
  }
  std::map<std::string, json::array> used_by;
  for (const auto& [name, m] : snapshot.config->models) {
    if (!m.route) continue;
    for (const auto& t : m.route->targets) {
      used_by[t.model].push_back(json::value(name));
      if (!states.contains(t.model)) {
        route::TargetState fresh;
        fresh.model = t.model;
        fresh.state = "healthy";
        states[t.model] = fresh;
      }
    }
  }
  // Models called directly (no route sends to them) are targets too: every configured model that
  // is not itself a route is listed.
  for (const auto& [name, m] : snapshot.config->models) {
    if (m.route || states.contains(name)) continue;
    route::TargetState fresh;
    fresh.model = name;
    fresh.state = "healthy";
    states[name] = fresh;
  }
  json::array targets;
  for (const auto& [name, s] : states) {
    const auto* m = snapshot.config->models.contains(name) ? &snapshot.config->models.at(name) : nullptr;
    targets.push_back(json::object{
        {"model", name},
        {"provider", m ? m->provider : std::string()},
        {"state", s.state},
        {"consecutive_failures", s.consecutive_failures},
        {"cooldown_remaining_s", (s.cooldown_remaining_ms + 999) / 1000},
        {"latency_ms", s.latency_ms < 0 ? json::value(nullptr) : json::value(s.latency_ms)},
        {"successes", s.successes},
        {"failures", s.failures},
        {"last_error", s.last_error.empty() ? json::value(nullptr) : json::value(s.last_error)},
        {"routes", used_by.contains(name) ? used_by[name] : json::array()},
        {"route_only", route_only.contains(name) ? route_only[name] : json::array()},
    });
  }
  return json::serialize(json::object{{"targets", std::move(targets)}});
}


// GET /admin/v1/roles: the configured roles (what a key may be given), in name order.
std::string roles_json(const runtime::Snapshot& snapshot) {
  json::array data;
  for (const auto& [name, r] : snapshot.config->roles) {
    json::array models(r.models.begin(), r.models.end());
    json::array tools(r.tools.begin(), r.tools.end());
    data.push_back(json::object{{"name", name},
                                {"admin", r.admin},
                                {"models", std::move(models)},
                                {"tools", std::move(tools)},
                                {"max_tokens_per_request", r.max_tokens_per_request}});
  }
  return json::serialize(json::object{{"object", "list"}, {"roles_defined", snapshot.config->roles_defined},
                                      {"data", std::move(data)}});
}

// POST {"guardrail": NAME, "text": TEXT}: what the guardrail finds (pipeline::test_guardrail).
std::variant<AdminAnswer, Error> guardrail_test(const http::Request& request, const runtime::Snapshot& snapshot) {
  if (request.method() != bhttp::verb::post) return not_allowed("POST");
  json::error_code ec;
  json::value v = json::parse(request.body(), ec);
  const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  const json::value* name = o ? o->if_contains("guardrail") : nullptr;
  const json::value* text = o ? o->if_contains("text") : nullptr;
  if (!name || !name->is_string() || !text || !text->is_string()) {
    return Error::bad_request("send {\"guardrail\": \"<name>\", \"text\": \"<text to scan>\"}");
  }
  auto report = pipeline::test_guardrail(*snapshot.config, name->get_string(), text->get_string());
  if (auto* e = std::get_if<Error>(&report)) return std::move(*e);
  return AdminAnswer{200, std::move(std::get<std::string>(report))};
}


std::string who(const pipeline::RequestContext& ctx) {
  if (!ctx.identity.key_name.empty()) return "key:" + ctx.identity.key_name;
  return "user:" + ctx.identity.user;
}

json::object kill_json(const pipeline::Kill& k) {
  return {{"id", k.id},     {"scope", k.scope}, {"value", k.value},
          {"reason", k.reason}, {"by", k.by},   {"at", store::format_utc(k.at)}};
}

json::object key_json(const store::StoredKey& k, std::int64_t now) {
  json::object tags;
  for (const auto& [name, value] : k.tags) tags[name] = value;
  return {{"name", k.name},
          {"prefix", "gh_" + k.prefix + "..."},
          {"role", k.role},
          {"project", k.project},
          {"tags", std::move(tags)},
          {"created_at", store::format_utc(k.created_at)},
          {"expires_at", k.expires_at ? json::value(store::format_utc(k.expires_at)) : json::value(nullptr)},
          {"status", store::to_string(store::status_of(k, now))}};
}

// A member an admin body may have, and the JSON kind its value must be (null is no kind: a field
// is given with its kind or left out).
enum class FieldKind { kString, kObject };
struct Field {
  std::string_view name;
  FieldKind kind = FieldKind::kString;
};

constexpr Field kKillFields[] = {{"model"}, {"provider"}, {"project"}, {"key"}, {"mcp_server"}, {"mcp_tool"}, {"reason"}};
constexpr Field kKeyFields[] = {
    {"name"}, {"role"}, {"project"}, {"expires_in"}, {"tags", FieldKind::kObject}};

// The 400 for members no field of `accepted` names: a typo ("expires" for "expires_in") must not
// be dropped and the rest done as if it were not there.
Error unknown_fields(const std::vector<std::string_view>& unknown,
                     std::span<const Field> accepted) {
  std::string named, known;
  for (std::size_t i = 0; i < unknown.size() && i < 10; ++i) {
    named += (i ? ", '" : "'") + std::string(unknown[i].substr(0, 64)) + "'";
  }
  if (unknown.size() > 10) named += ", ...";
  for (const auto& f : accepted) known += (known.empty() ? "" : ", ") + std::string(f.name);
  Error e =
      Error::bad_request(std::string(unknown.size() == 1 ? "unknown field " : "unknown fields ") +
                             named + "; this endpoint accepts: " + known,
                         std::string(unknown.front().substr(0, 64)));
  e.code = "unknown_parameter";
  return e;
}

// The body as a JSON object each of whose members is a field of `accepted` with a value of its
// kind; or a 400 naming the unknown members (and the accepted fields), or the mistyped one.
std::variant<json::object, Error> body_object(const http::Request& request,
                                              std::span<const Field> accepted) {
  json::error_code ec;
  json::value v = json::parse(request.body(), ec);
  if (ec || !v.is_object()) return Error::bad_request("the body must be a JSON object");
  std::vector<std::string_view> unknown;
  for (const auto& [name, value] : v.get_object()) {
    auto f = std::find_if(accepted.begin(), accepted.end(),
                          [&](const Field& f) { return f.name == name; });
    if (f == accepted.end()) unknown.push_back(name);
  }
  if (!unknown.empty()) return unknown_fields(unknown, accepted);
  for (const auto& f : accepted) {
    const json::value* m = v.get_object().if_contains(f.name);
    if (!m || (f.kind == FieldKind::kString ? m->is_string() : m->is_object())) continue;
    Error e = Error::bad_request("'" + std::string(f.name) + "' must be " +
                                     (f.kind == FieldKind::kString ? "a string" : "an object"),
                                 std::string(f.name));
    e.code = "invalid_type";
    return e;
  }
  return std::move(v.get_object());
}

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// A 404 when `value` names no `scope` the gateway knows, so that a typo during an incident does
// not look like a kill in force. Models and providers: the running config's. Keys: the config's
// and the stored keys authentication accepts now (the watcher's index: a key created under a second
// ago may not be in it yet, nor can it call yet). Projects: any of those keys' projects.
std::optional<Error> unknown_target(std::string_view scope, const std::string& value,
                                    const runtime::Snapshot& snapshot) {
  const config::Config& config = *snapshot.config;
  bool known = false;
  if (scope == "model") {
    known = config.models.contains(value);
  } else if (scope == "mcp_server" || scope == "mcp_tool") {
    // A tool is named "server/tool": its server must be configured (its tools are the server's).
    known = config.mcp.servers.contains(scope == "mcp_server" ? value : value.substr(0, value.find('/'))) &&
            (scope == "mcp_server" || value.find('/') != std::string::npos);
  } else if (scope == "provider") {
    known = config.providers.contains(value);
  } else {
    auto names = [&](std::string_view name, std::string_view project) {
      return scope == "key" ? name == value : project == value;
    };
    for (const auto& k : config.keys) known = known || names(k.name, k.project);
    auto index = snapshot.services.stored_keys ? snapshot.services.stored_keys->current() : nullptr;
    const std::int64_t now = store::unix_now();
    if (!known && index) {
      index->for_each([&](const store::StoredKey& k) {
        known = known ||
                (store::status_of(k, now) == store::KeyStatus::kActive && names(k.name, k.project));
      });
    }
  }
  if (known) return std::nullopt;
  std::string where = scope == "model" || scope == "provider" || scope.starts_with("mcp_") ? "the running config"
                      : snapshot.services.stored_keys
                          ? "the config's keys or the active stored keys"
                          : "the config's keys";
  Error e = Error::not_found("no " + std::string(scope) + " named '" + value.substr(0, 128) +
                                 "' in " + where + "; nothing was switched off",
                             std::string(scope) + "_not_found");
  e.param = std::string(scope);
  return e;
}

std::variant<AdminAnswer, Error> kill(const http::Request& request, std::string_view path,
                                      const pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot) {
  pipeline::KillSwitch& kills = *snapshot.services.kills;
  if (path == kKill) {
    if (request.method() == bhttp::verb::get) {
      json::array data;
      for (const auto& k : kills.list()) data.push_back(kill_json(k));
      return AdminAnswer{200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}})};
    }
    if (request.method() != bhttp::verb::post) return not_allowed("GET, POST");
    auto body = body_object(request, kKillFields);
    if (auto* e = std::get_if<Error>(&body)) return std::move(*e);
    const auto& o = std::get<json::object>(body);
    std::string scope, value;
    for (std::string_view s : {"model", "provider", "project", "key", "mcp_server", "mcp_tool"}) {
      if (o.contains(s)) {
        if (!scope.empty()) return Error::bad_request("name one scope: model, provider, project, key, mcp_server or mcp_tool");
        scope = s;
        value = str(o, s);
        if (value.empty()) return Error::bad_request("'" + scope + "' must be a non-empty string", scope);
      }
    }
    if (scope.empty()) {
      return Error::bad_request("say what to switch off: {\"model\"|\"provider\"|\"project\"|\"key\"|\"mcp_server\"|\"mcp_tool\": \"...\", \"reason\": \"...\"}");
    }
    if (auto e = unknown_target(scope, value, snapshot)) return std::move(*e);
    auto k = kills.add(scope, value, std::string(str(o, "reason").substr(0, 500)), who(ctx));
    spdlog::warn("kill switch {}: {} '{}' switched off by {}: {}", k.id, k.scope, k.value, k.by, k.reason);
    audit(snapshot, ctx, "kill.add", k.scope + " " + k.value, json::object{{"id", k.id}, {"reason", k.reason}});
    return AdminAnswer{201, json::serialize(kill_json(k))};
  }
  std::string_view id = path.substr(kKill.size() + 1);
  if (request.method() != bhttp::verb::delete_) return not_allowed("DELETE");
  if (!kills.lift(id)) return Error::not_found("no kill with id '" + std::string(id.substr(0, 64)) + "'", "not_found");
  spdlog::warn("kill switch {} lifted by {}", id, who(ctx));
  audit(snapshot, ctx, "kill.lift", "kill " + std::string(id), json::object{{"id", id}});
  return AdminAnswer{200, json::serialize(json::object{{"id", id}, {"lifted", true}})};
}

// A key to create from a POST /admin/v1/keys body, and its secret; or what is wrong with it.
std::variant<std::pair<store::StoredKey, std::string>, Error> new_key_from(const http::Request& request,
                                                                           const config::Config& config,
                                                                           std::int64_t now) {
  auto body = body_object(request, kKeyFields);
  if (auto* e = std::get_if<Error>(&body)) return std::move(*e);
  const auto& o = std::get<json::object>(body);
  store::StoredKey key;
  key.name = str(o, "name");
  key.role = str(o, "role");
  key.project = str(o, "project");
  if (auto why = store::check_key_name(key.name)) return Error::bad_request("name: " + *why, "name");
  if (config.roles_defined && !config.roles.contains(key.role)) {
    std::string known;
    for (const auto& [name, r] : config.roles) known += (known.empty() ? "" : ", ") + name;
    return Error::bad_request("role must be one of: " + known, "role");
  }
  for (const auto& k : config.keys) {
    if (k.name == key.name) return Error::bad_request("a key named '" + key.name + "' is in the config file", "name");
  }
  if (const auto* tags = o.if_contains("tags")) {
    for (const auto& [k, v] : tags->get_object()) {
      if (!v.is_string()) return Error::bad_request("tags must be an object of strings", "tags");
      key.tags.emplace_back(std::string(k), std::string(v.get_string()));
    }
  }
  if (o.contains("expires_in")) {  // given empty, it is a mistake, not "never"
    auto seconds = store::parse_lifetime(str(o, "expires_in"));
    if (!seconds) return Error::bad_request("expires_in must look like 90m, 12h or 30d", "expires_in");
    key.expires_at = now + *seconds;
  }
  std::string secret = store::new_secret();
  key.digest = config::sha256(secret);
  key.prefix = store::secret_prefix(secret);
  key.created_at = now;
  if (auto why = store::check_new_key(key)) return Error::bad_request(*why);
  return std::pair{std::move(key), std::move(secret)};
}

std::string list_json(const std::vector<store::StoredKey>& keys, std::int64_t now) {
  json::array data;
  for (const auto& k : keys) data.push_back(key_json(k, now));
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

// Store calls run on the store's thread (StoreExecutor); the worker waits without blocking.
// Calls, results and errors are named locals, never temporaries inside co_await / co_return
// expressions: GCC 12 destroys such temporaries twice in coroutines (a double free, found here).
asio::awaitable<std::variant<AdminAnswer, Error>> keys(const http::Request& request, std::string_view path,
                                                       const pipeline::RequestContext& ctx,
                                                       const runtime::Snapshot& snapshot) {
  using Result = std::variant<AdminAnswer, Error>;
  Result result;
  if (!snapshot.services.store_executor) {
    result = Error::not_found("no key store is configured (store: {sqlite: ...} or store: {postgres: ...})", "no_store");
    co_return result;
  }
  auto& exec = *snapshot.services.store_executor;
  const std::int64_t now = store::unix_now();
  const bool collection = path == kKeys;

  if (collection && request.method() == bhttp::verb::get) {
    using Listed = std::variant<std::vector<store::StoredKey>, std::string>;
    std::function<Listed(store::KeyStore&)> call = [](store::KeyStore& ks) { return ks.list(); };
    auto listed = co_await exec.run<Listed>(std::move(call));
    if (auto* e = std::get_if<std::string>(&listed)) {
      result = Error::internal("key store: " + *e);
    } else {
      result = AdminAnswer{200, list_json(std::get<0>(listed), now)};
    }
    co_return result;
  }

  if (collection && request.method() == bhttp::verb::post) {
    auto made = new_key_from(request, *snapshot.config, now);
    if (auto* e = std::get_if<Error>(&made)) {
      result = std::move(*e);
      co_return result;
    }
    // (No structured binding here: GCC 12 miscompiles them in coroutine frames.)
    store::StoredKey key = std::move(std::get<0>(made).first);
    std::string secret = std::move(std::get<0>(made).second);
    using Created = std::variant<store::StoredKey, std::string>;
    std::function<Created(store::KeyStore&)> call = [key](store::KeyStore& ks) { return ks.create(key); };
    auto created = co_await exec.run<Created>(std::move(call));
    if (auto* e = std::get_if<std::string>(&created)) {
      bool clash = e->find("exist") != std::string::npos || e->find("already") != std::string::npos;
      result = clash ? Error::bad_request(*e, "name") : Error::internal("key store: " + *e);
      co_return result;
    }
    spdlog::info("key '{}' created by {}", key.name, who(ctx));
    audit(snapshot, ctx, "key.create", "key " + key.name,
          json::object{{"role", key.role}, {"project", key.project}, {"expires_at", key.expires_at}});
    json::object out = key_json(std::get<store::StoredKey>(created), now);
    out["key"] = secret;  // shown once
    result = AdminAnswer{201, json::serialize(out)};
    co_return result;
  }

  if (collection || request.method() != bhttp::verb::delete_) {
    result = not_allowed(collection ? "GET, POST" : "DELETE");
    co_return result;
  }
  std::string name(path.substr(kKeys.size() + 1));
  using Revoked = std::variant<bool, std::string>;
  std::function<Revoked(store::KeyStore&)> call = [name, now](store::KeyStore& ks) { return ks.revoke(name, now); };
  auto revoked = co_await exec.run<Revoked>(std::move(call));
  if (auto* e = std::get_if<std::string>(&revoked)) {
    result = Error::internal("key store: " + *e);
  } else if (!std::get<bool>(revoked)) {
    result = Error::not_found("no active key named '" + name.substr(0, 128) + "'", "not_found");
  } else {
    spdlog::info("key '{}' revoked by {}", name, who(ctx));
    audit(snapshot, ctx, "key.revoke", "key " + name, json::object{});
    result = AdminAnswer{200, json::serialize(json::object{{"name", name}, {"revoked", true}})};
  }
  co_return result;
}

// --- MCP: held calls and pinned tool definitions ------------------------------------------------

std::string utc_ms(std::int64_t ms) { return store::format_utc(ms / 1000); }

// JSON text as a JSON value (a string when it does not parse).
json::value json_or_text(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);
  return v;
}

json::object approval_json(const mcp::Approval& a) {
  json::object o{{"id", a.id},
                 {"request_id", a.request.request_id},
                 {"requester", a.request.requester},
                 {"key_name", a.request.key_name},
                 {"server", a.request.server},
                 {"tool", a.request.tool},
                 {"arguments", json_or_text(a.request.arguments)},
                 {"status", a.status},
                 {"created", utc_ms(a.created_ms)},
                 {"expires", a.expires_ms ? json::value(utc_ms(a.expires_ms)) : json::value(nullptr)}};
  if (a.status != "pending") {
    o["reason"] = a.reason;
    o["decided_by"] = a.decided_by;
    o["decided"] = a.decided_ms ? json::value(utc_ms(a.decided_ms)) : json::value(nullptr);
  }
  return o;
}

constexpr Field kDecisionFields[] = {{"decision"}, {"reason"}};

// GET /admin/v1/approvals: the calls this gateway holds. POST /admin/v1/approvals/{id}
// {"decision": "approve"|"deny", "reason": "..."}: decides one (this gateway's, or another's
// sharing the store).
asio::awaitable<std::variant<AdminAnswer, Error>> approvals(const http::Request& request, std::string_view path,
                                                            const pipeline::RequestContext& ctx,
                                                            const runtime::Snapshot& snapshot) {
  using Result = std::variant<AdminAnswer, Error>;
  Result result;
  const auto& held = snapshot.services.approvals;
  if (path == kApprovals) {
    if (request.method() != bhttp::verb::get) {
      result = not_allowed("GET");
      co_return result;
    }
    json::array data;
    if (held) {
      for (const auto& a : held->pending()) data.push_back(approval_json(a));
    }
    result = AdminAnswer{200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}})};
    co_return result;
  }
  if (request.method() != bhttp::verb::post) {
    result = not_allowed("POST");
    co_return result;
  }
  std::string id(path.substr(kApprovals.size() + 1));
  if (!held) {
    result = Error::not_found("no calls are held for approval here (mcp.approvals.tools is not configured)",
                              "not_found");
    co_return result;
  }
  const char* how = "send {\"decision\": \"approve\" | \"deny\", \"reason\": \"why (optional)\"}";
  auto body = body_object(request, kDecisionFields);
  if (auto* e = std::get_if<Error>(&body)) {
    if (e->code != "unknown_parameter") e->message += "; " + std::string(how);
    result = std::move(*e);
    co_return result;
  }
  const auto& o = std::get<json::object>(body);
  const std::string_view decision = str(o, "decision");
  if (decision != "approve" && decision != "deny") {
    result = Error::bad_request(how, "decision");
    co_return result;
  }
  std::string reason(str(o, "reason").substr(0, 500));
  std::string by = pipeline::caller_of(ctx);
  const bool approve = decision == "approve";
  mcp::Decision d = co_await held->decide_async(id, approve, std::move(reason), std::move(by));
  switch (d.outcome) {
    case mcp::Decision::Outcome::kDecided:
      result = AdminAnswer{200, json::serialize(approval_json(d.approval))};
      break;
    case mcp::Decision::Outcome::kUnknown:
      result = Error::not_found("no approval with id '" + id.substr(0, 64) + "' (GET /admin/v1/approvals lists them)",
                                "not_found");
      break;
    case mcp::Decision::Outcome::kAlreadyDecided: {
      Error e = Error::bad_request(
          d.approval.status == "pending"
              ? "approval " + d.approval.id + " ran out of time; the held call is being ended"
              : "approval " + d.approval.id + " was already " + d.approval.status +
                    (d.approval.decided_by.empty() ? std::string() : " by " + d.approval.decided_by) +
                    (d.approval.decided_ms ? " at " + utc_ms(d.approval.decided_ms) : std::string()));
      e.status = 409;
      e.code = "already_decided";
      result = std::move(e);
      break;
    }
    case mcp::Decision::Outcome::kFailed:
      result = Error::internal("approvals store: " + d.error);
      break;
  }
  co_return result;
}

json::object pin_json(const mcp::ToolPin& p) {
  json::value pending = nullptr;
  if (!p.pending_sha256.empty()) {
    pending = json::object{{"sha256", p.pending_sha256},
                           {"since", utc_ms(p.pending_since_ms)},
                           {"definition", json_or_text(p.pending_definition)}};
  }
  return {{"server", p.server},     {"tool", p.tool},
          {"sha256", p.sha256},     {"pinned_at", utc_ms(p.pinned_at_ms)},
          {"pending", std::move(pending)}, {"definition", json_or_text(p.definition)}};
}

// GET /admin/v1/mcp/tools: every pinned definition and the change waiting beside it.
// POST /admin/v1/mcp/tools/{server}/{tool}/accept: makes the waiting one the pinned one.
std::variant<AdminAnswer, Error> mcp_tools(const http::Request& request, std::string_view path,
                                           const pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot) {
  const auto& pins = snapshot.services.pins;
  if (path == kMcpTools) {
    if (request.method() != bhttp::verb::get) return not_allowed("GET");
    json::array data;
    if (pins) {
      for (const auto& p : pins->list()) data.push_back(pin_json(p));
    }
    return AdminAnswer{200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}})};
  }
  constexpr std::string_view kAccept = "/accept";
  std::string_view rest = path.substr(kMcpTools.size() + 1);
  const auto slash = rest.find('/');
  if (!rest.ends_with(kAccept) || slash == std::string_view::npos || slash + kAccept.size() >= rest.size()) {
    return Error::not_found("no such admin endpoint: " + std::string(path.substr(0, 200)) +
                                " (POST /admin/v1/mcp/tools/{server}/{tool}/accept)",
                            "unknown_url");
  }
  if (request.method() != bhttp::verb::post) return not_allowed("POST");
  auto server = percent_decode(rest.substr(0, slash), false);
  auto tool = percent_decode(rest.substr(slash + 1, rest.size() - slash - 1 - kAccept.size()), false);
  if (!server || !tool) return Error::bad_request("the server and tool names in the path are badly escaped");
  if (!pins) {
    return Error::not_found(snapshot.config->mcp.enabled() ? "tool pinning is off (mcp.pinning: false)"
                                                           : "no MCP servers are configured (mcp.servers)",
                            "not_found");
  }
  const std::string name = *server + "/" + *tool;
  if (!pins->accept(*server, *tool, pipeline::caller_of(ctx))) {
    bool known = false;
    for (const auto& p : pins->list()) known = known || (p.server == *server && p.tool == *tool);
    return Error::not_found(known ? "tool " + name.substr(0, 200) + " has no changed definition waiting to be accepted"
                                  : "no tool " + name.substr(0, 200) + " is pinned (GET /admin/v1/mcp/tools lists them)",
                            "not_found");
  }
  for (const auto& p : pins->list()) {
    if (p.server == *server && p.tool == *tool) return AdminAnswer{200, json::serialize(pin_json(p))};
  }
  return AdminAnswer{200, json::serialize(json::object{{"server", *server}, {"tool", *tool}, {"accepted", true}})};
}

}  // namespace

Error not_allowed(std::string_view allowed) {
  Error e = Error::bad_request("this endpoint accepts " + std::string(allowed) + " only");
  e.kind = ErrorKind::kMethodNotAllowed;
  e.status = 405;
  e.code = "method_not_allowed";
  return e;
}

// Appends an admin action to the audit chain (when there is a store): never dropped; under a
// full record queue the caller waits (back-pressure).
void audit(const runtime::Snapshot& snapshot, const pipeline::RequestContext& ctx, std::string kind, std::string subject,
           json::object detail) {
  if (!snapshot.services.writer) return;
  store::AuditRecord r;
  r.time_ms = limit::system_now_ms();
  r.kind = std::move(kind);
  r.actor = pipeline::caller_of(ctx);
  r.subject = std::move(subject);
  r.detail = json::serialize(detail);
  r.request_id = ctx.ingress.request_id;
  snapshot.services.writer->submit(std::move(r));
}

std::optional<Error> require_admin(const pipeline::RequestContext& ctx) {
  for (const auto* r : ctx.identity.roles) {
    if (r->admin) return std::nullopt;
  }
  std::string why = ctx.identity.roles.empty() ? std::string("the caller has no role")
                                      : "role '" + ctx.identity.role_names + "' is not one";
  return Error::forbidden("the admin API needs a role with admin: true; " + why, "permission_denied");
}


asio::awaitable<std::variant<AdminAnswer, Error>> handle_admin(const http::Request& request,
                                                               std::string_view path,
                                                               const pipeline::RequestContext& ctx,
                                                               const runtime::Snapshot& snapshot) {
  // (Errors are built outside co_return expressions: GCC 12 mishandles temporaries there.)
  if (auto denied = require_admin(ctx)) co_return std::move(*denied);
  if (is_records_path(path)) co_return co_await records_api(request, path, ctx, snapshot);  // records_api.cpp
  if (path == kKill || (path.starts_with(kKill) && path.size() > kKill.size() + 1 && path[kKill.size()] == '/')) {
    std::variant<AdminAnswer, Error> answer = kill(request, path, ctx, snapshot);
    co_return answer;
  }
  if (path == kKeys || (path.starts_with(kKeys) && path.size() > kKeys.size() + 1 && path[kKeys.size()] == '/')) {
    co_return co_await keys(request, path, ctx, snapshot);
  }
  if (path == kHealth) {
    if (request.method() != boost::beast::http::verb::get) {
      Error e = Error::bad_request("/admin/v1/health accepts GET only");
      e.kind = ErrorKind::kMethodNotAllowed;
      e.status = 405;
      e.code = "method_not_allowed";
      co_return e;
    }
    co_return AdminAnswer{200, health_json(snapshot)};
  }
  if (path == kRoles) {
    if (request.method() != boost::beast::http::verb::get) {
      Error e = not_allowed("GET");
      co_return e;
    }
    AdminAnswer roles(200, roles_json(snapshot));
    co_return roles;
  }
  if (path == kGuardrailTest) {
    std::variant<AdminAnswer, Error> answer = guardrail_test(request, snapshot);
    co_return answer;
  }
  if (path == kApprovals ||
      (path.starts_with(kApprovals) && path.size() > kApprovals.size() + 1 && path[kApprovals.size()] == '/')) {
    co_return co_await approvals(request, path, ctx, snapshot);
  }
  if (path == kMcpTools ||
      (path.starts_with(kMcpTools) && path.size() > kMcpTools.size() + 1 && path[kMcpTools.size()] == '/')) {
    std::variant<AdminAnswer, Error> answer = mcp_tools(request, path, ctx, snapshot);
    co_return answer;
  }
  if (is_billing_path(path)) co_return co_await handle_billing(request, path, ctx, snapshot);
  Error unknown = Error::not_found("no such admin endpoint: " + std::string(path.substr(0, 200)) +
                                       " (/admin/v1/kill, /admin/v1/keys, /admin/v1/health, /admin/v1/roles, /admin/v1/guardrails/test, "
                                       "/admin/v1/approvals, /admin/v1/mcp/tools, /admin/v1/usage/series, /admin/v1/usage/groups, "
                                       "/admin/v1/budgets, /admin/v1/logs, /admin/v1/mcp/calls, /admin/v1/audit, /admin/v1/billing)",
                                   "unknown_url");
  co_return unknown;
}

}  // namespace gatehouse::admin
