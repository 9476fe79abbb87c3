#include "mcp/endpoint.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>

#include "api/errors.h"
#include "limit/clock.h"
#include "mcp/govern.h"
#include "mcp/pins.h"
#include "mcp/session.h"
#include "mcp/tools.h"
#include "mcp/upstream.h"
#include "pipeline/context.h"
#include "pipeline/pipeline.h"
#include "runtime/services.h"
#include "runtime/snapshot.h"
#include "runtime/worker_pools.h"

namespace gatehouse::mcp {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kLatest = "2025-11-25";
constexpr std::string_view kStateless = "2026-07-28";
constexpr std::string_view kVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

bool supported_version(std::string_view v) {
  for (auto s : kVersions) {
    if (s == v) return true;
  }
  return false;
}

std::string random_hex(std::size_t bytes) {
  unsigned char b[32];
  RAND_bytes(b, int(bytes));
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < bytes; ++i) {
    s += hex[b[i] >> 4];
    s += hex[b[i] & 15];
  }
  return s;
}

// An id for a request the gateway itself sends on a client's upstream session (initialize, the
// lists a virtual server merges, the pin check): never one the client could be using.
std::string own_id() { return "gatehouse-" + random_hex(8); }

std::string principal_of(const pipeline::RequestContext& ctx) {
  return ctx.identity.key_name.empty() ? "user:" + ctx.identity.user : "key:" + ctx.identity.key_name;
}

// A JSON-RPC error response to `id`.
std::string rpc_error(const json::value& id, int code, std::string_view message, json::object data = {}) {
  json::object e{{"code", code}, {"message", message}};
  if (!data.empty()) e["data"] = std::move(data);
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}});
}

std::string rpc_result(const json::value& id, json::value result) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

Error http_error(int status, std::string message, std::string code) {
  Error e;
  e.kind = status == 404 ? ErrorKind::kNotFound
           : status == 403 ? ErrorKind::kForbidden
           : status == 405 ? ErrorKind::kMethodNotAllowed
           : status >= 500 ? ErrorKind::kUnavailable
                           : ErrorKind::kBadRequest;
  e.source = status >= 500 ? ErrorSource::kUpstream : ErrorSource::kClient;
  e.status = status;
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

bool is_loopback_name(std::string_view host) {
  // host without port
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == "::1" || host.ends_with(".localhost");
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    return end == std::string_view::npos ? host : host.substr(0, end + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// The client's side of one answer: a JSON body, or an SSE stream once start() ran.
class Out {
 public:
  Out(http::Exchange& ex, pipeline::RequestContext& ctx, bool sse_ok) : ex_(ex), ctx_(ctx), sse_ok_(sse_ok) {}
  void session(std::string id) { session_ = std::move(id); }
  // 2026-07-28: every result carries resultType ("complete": the gateway asks no further input).
  void stamp_results(bool on) { stamp_ = on; }
  bool streaming() const { return streaming_; }
  bool sse_ok() const { return sse_ok_; }

  asio::awaitable<bool> start() {
    if (streaming_) co_return true;
    streaming_ = true;
    ctx_.outcome.status = 200;
    http::StreamHead head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    headers(head);
    co_return co_await ex_.start_stream(head);
  }
  // One event: the message (empty: an event with only an id, as servers prime a stream).
  asio::awaitable<bool> event(std::string_view json, std::string_view id, std::string_view retry = {}) {
    std::string stamped;
    if (stamp_) {
      stamped = stamp(json);
      json = stamped;
    }
    std::string ev;
    ev.reserve(json.size() + id.size() + 32);
    if (!id.empty()) ev.append("id: ").append(id).append("\n");
    if (!retry.empty()) ev.append("retry: ").append(retry).append("\n");
    ev.append("data: ").append(json).append("\n\n");
    co_return co_await ex_.write_chunk(ev);
  }
  asio::awaitable<void> end() { co_await ex_.end_stream(); }

  asio::awaitable<void> json_body(int status, std::string body) {
    if (streaming_) {
      if (!body.empty()) co_await event(body, {});
      co_await end();
      co_return;
    }
    ctx_.outcome.status = status;
    if (ctx_.pipeline) ctx_.pipeline->on_settled(ctx_);
    if (stamp_ && !body.empty()) body = stamp(body);
    http::Response res{static_cast<bhttp::status>(status), 11};
    if (!body.empty()) res.set(bhttp::field::content_type, "application/json");
    headers(res);
    res.body() = std::move(body);
    co_await ex_.respond(res);
  }
  asio::awaitable<void> error(const Error& e) {
    ctx_.outcome.error_code = e.code;
    if (e.retry_after_s >= 0) ctx_.response_headers.emplace_back("retry-after", std::to_string(e.retry_after_s));
    std::string body = api::encode_error(ApiShape::kMcp, e);
    co_await json_body(e.status, std::move(body));
  }

 private:
  template <class Msg>
  void headers(Msg& m) {
    for (const auto& [k, v] : ctx_.response_headers) m.set(k, v);
    if (!session_.empty()) m.set("mcp-session-id", session_);
  }
  static std::string stamp(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::string(text);
    auto* r = v.as_object().if_contains("result");
    if (!r || !r->is_object() || r->as_object().contains("resultType")) return std::string(text);
    r->as_object()["resultType"] = "complete";
    return json::serialize(v);
  }
  http::Exchange& ex_;
  pipeline::RequestContext& ctx_;
  bool sse_ok_;
  bool streaming_ = false;
  bool stamp_ = false;
  std::string session_;
};

enum class Kind { kRequest, kNotification, kResponse, kInvalid };

Kind kind_of(const json::object& m) {
  const bool method = m.contains("method") && m.at("method").is_string();
  const bool id = m.contains("id") && (m.at("id").is_string() || m.at("id").is_int64() || m.at("id").is_uint64());
  if (method) return id ? Kind::kRequest : (m.contains("id") ? Kind::kInvalid : Kind::kNotification);
  if (id && (m.contains("result") || m.contains("error"))) return Kind::kResponse;
  return Kind::kInvalid;
}

std::string method_of(const json::object& m) {
  auto* v = m.if_contains("method");
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Server-to-client request ids in a virtual server: "gh:{server}:{original id as JSON}", so the
// client's answer finds its way back without any state.
std::string wrap_id(std::string_view server, const json::value& id) {
  return "gh:" + std::string(server) + ":" + json::serialize(id);
}
std::optional<std::pair<std::string, json::value>> unwrap_id(const json::value& id) {
  if (!id.is_string()) return std::nullopt;
  std::string_view s = id.as_string();
  if (!s.starts_with("gh:")) return std::nullopt;
  s.remove_prefix(3);
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(s.substr(colon + 1), ec);
  if (ec) return std::nullopt;
  return std::make_pair(std::string(s.substr(0, colon)), std::move(v));
}

// A list request (tools/list, prompts/list, ...) the gateway makes itself, from `cursor`.
std::string list_request(std::string_view method, const std::string& cursor, const std::string& id) {
  json::object params;
  if (!cursor.empty()) params["cursor"] = cursor;
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
}

}  // namespace

std::string_view route_of(std::string_view path) {
  if (!path.starts_with("/mcp/")) return {};
  path.remove_prefix(5);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty() || path.find('/') != std::string_view::npos) return {};
  return path;
}

std::optional<Error> check_origin(const runtime::Snapshot& snapshot, const http::Request& request) {
  const auto& m = snapshot.config->mcp;
  const std::string_view host = request[bhttp::field::host];
  const std::string_view listen = snapshot.config->server.listen_host;
  const bool loopback_listen = listen == "127.0.0.1" || listen == "localhost" || listen == "::1";
  if (!m.allowed_hosts.empty()) {
    bool ok = false;
    for (const auto& g : m.allowed_hosts) ok = ok || glob_match(g, host) || glob_match(g, strip_port(host));
    if (!ok) {
      return http_error(403, "Host '" + std::string(host.substr(0, 200)) + "' is not allowed here (mcp.allowed_hosts)",
                        "host_not_allowed");
    }
  } else if (loopback_listen && !is_loopback_name(strip_port(host))) {
    return http_error(403,
                      "Host '" + std::string(host.substr(0, 200)) +
                          "' is not a loopback name; the gateway listens on loopback (DNS-rebinding protection: "
                          "set mcp.allowed_hosts)",
                      "host_not_allowed");
  }
  const std::string_view origin = request[bhttp::field::origin];
  if (origin.empty()) return std::nullopt;
  for (const auto& g : m.allowed_origins) {
    if (glob_match(g, origin)) return std::nullopt;
  }
  // Same origin as the Host the request was sent to, or a loopback page talking to a loopback gateway.
  std::string_view o = origin;
  if (auto p = o.find("://"); p != std::string_view::npos) o.remove_prefix(p + 3);
  if (o == host) return std::nullopt;
  if (m.allowed_origins.empty() && loopback_listen && is_loopback_name(strip_port(o))) return std::nullopt;
  return http_error(403, "Origin '" + std::string(origin.substr(0, 200)) + "' is not allowed (mcp.allowed_origins)",
                    "origin_not_allowed");
}

namespace {

std::string base_url(const runtime::Snapshot& snapshot, const http::Request& request) {
  const auto& m = snapshot.config->mcp;
  if (!m.public_url.empty()) return m.public_url;
  std::string_view host = request[bhttp::field::host];
  if (host.empty()) host = "localhost";
  return "http://" + std::string(host);
}

}  // namespace

std::string www_authenticate(const runtime::Snapshot& snapshot, const http::Request& request, std::string_view name) {
  return "Bearer resource_metadata=\"" + base_url(snapshot, request) + "/.well-known/oauth-protected-resource/mcp/" +
         std::string(name) + "\"";
}

std::variant<std::string, Error> resource_metadata(const runtime::Snapshot& snapshot, const http::Request& request,
                                                   std::string_view path) {
  constexpr std::string_view kWellKnown = "/.well-known/oauth-protected-resource";
  std::string_view rest = path.substr(kWellKnown.size());
  const auto& m = snapshot.config->mcp;
  std::string resource = base_url(snapshot, request);
  if (!rest.empty()) {
    auto name = route_of(rest);
    if (name.empty() || (!m.find_server(name) && !m.find_virtual(name))) {
      return http_error(404, "no MCP server named '" + std::string(rest.substr(0, 100)) + "'", "not_found");
    }
    resource += std::string(rest);
  }
  json::object o{{"resource", resource}, {"bearer_methods_supported", json::array{"header"}},
                 {"resource_name", "Gatehouse MCP gateway"}};
  json::array servers;
  if (!m.authorization_server.empty()) servers.push_back(json::value(m.authorization_server));
  o["authorization_servers"] = std::move(servers);
  return json::serialize(o);
}

namespace {

// One request to an MCP route, from its first byte to its last.
class Call {
 public:
  Call(http::Exchange& ex, pipeline::RequestContext& ctx, const runtime::Snapshot& snap, std::string_view name)
      : ex_(ex), ctx_(ctx), snap_(snap), config_(*snap.config), name_(name),
        out_(ex, ctx, ex.request()[bhttp::field::accept].find("text/event-stream") != std::string_view::npos) {
    server_ = config_.mcp.find_server(name);
    virtual_ = server_ ? nullptr : config_.mcp.find_virtual(name);
  }

  asio::awaitable<void> run() {
    if (!server_ && !virtual_) {
      co_return co_await out_.error(http_error(404, "no MCP server named '" + std::string(name_.substr(0, 100)) +
                                                        "' (mcp.servers and mcp.virtual name them)",
                                               "not_found"));
    }
    sessions_ = snap_.services.mcp_sessions.get();
    switch (ex_.request().method()) {
      case bhttp::verb::post: co_return co_await post();
      case bhttp::verb::get: co_return co_await get();
      case bhttp::verb::delete_: co_return co_await del();
      default: {
        ctx_.response_headers.emplace_back("allow", "GET, POST, DELETE");
        co_return co_await out_.error(http_error(405, "MCP endpoints take POST, GET and DELETE", "method_not_allowed"));
      }
    }
  }

 private:
  // ---- sessions ----------------------------------------------------------------------------

  // The client's session, from Mcp-Session-Id; answers the error itself when there is none.
  asio::awaitable<bool> load_session() {
    const std::string_view id = ex_.request()["mcp-session-id"];
    if (id.empty()) {
      co_await out_.error(http_error(400, "Bad Request: Mcp-Session-Id header is required (send initialize first)",
                                     "session_required"));
      co_return false;
    }
    auto s = sessions_->codec().decode(id);
    if (!s || s->route != name_ || s->principal != principal_of(ctx_) || !sessions_->refresh(*s)) {
      co_await out_.error(http_error(404, "Session not found: initialize a new session", "session_not_found"));
      co_return false;
    }
    session_ = std::move(*s);
    session_id_ = std::string(id);
    out_.session(session_id_);
    const std::string_view v = ex_.request()["mcp-protocol-version"];
    if (!v.empty() && !supported_version(v)) {
      co_await out_.error(http_error(400,
                                     "Bad Request: unsupported MCP-Protocol-Version '" + std::string(v.substr(0, 40)) +
                                         "' (supported: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)",
                                     "unsupported_protocol_version"));
      co_return false;
    }
    co_return true;
  }

  CallContext call_for(const std::string& server) {
    CallContext c;
    auto it = session_.upstreams.find(server);
    if (it != session_.upstreams.end()) {
      c.session_id = it->second.id;
      c.protocol_version = it->second.version;
    }
    c.session_key = session_.nonce;
    c.request_id = ctx_.ingress.request_id;
    c.caller_bearer = ctx_.identity.jwt ? ctx_.identity.bearer : std::string_view();
    c.pools = &snap_.services.pools->of(ex_.worker());
    return c;
  }

  Upstream* upstream(const std::string& server) {
    auto it = snap_.mcp_upstreams.find(server);
    return it == snap_.mcp_upstreams.end() ? nullptr : it->second.get();
  }

  // The response among a reply's messages (what comes before it — progress, logs — is dropped:
  // these replies answer the gateway's own requests); nullopt when the reply has none, and then
  // `broken` (when given) says why if the stream broke.
  static asio::awaitable<std::optional<json::object>> response_in(MessageStream& messages, Error* broken = nullptr) {
    for (;;) {
      auto m = co_await messages.next();
      if (auto* e = std::get_if<Error>(&m)) {
        if (broken) *broken = std::move(*e);
        co_return std::nullopt;
      }
      if (std::holds_alternative<std::monostate>(m)) co_return std::nullopt;
      boost::system::error_code ec;
      auto v = json::parse(std::get<Message>(m).json, ec);
      if (!ec && v.is_object() && kind_of(v.as_object()) == Kind::kResponse) co_return std::move(v.as_object());
    }
  }

  // Every page of a list (`method`: tools/list, prompts/list, ...) of one server, its items under
  // `key` in order (at most 50 pages); what came before a failure when one page fails.
  asio::awaitable<json::array> list_all(const std::string& server, const std::string& method, const std::string& key) {
    json::array items;
    std::string cursor;
    for (int page = 0; page < 50; ++page) {
      Reply r = co_await post_to(server, list_request(method, cursor, own_id()));
      if (r.status != 200 || !r.messages) break;
      auto response = co_await response_in(*r.messages);
      auto* result = response ? response->if_contains("result") : nullptr;
      if (!result || !result->is_object()) break;
      if (auto* list = result->as_object().if_contains(key); list && list->is_array()) {
        for (auto& item : list->as_array()) items.push_back(std::move(item));
      }
      auto* next = result->as_object().if_contains("nextCursor");
      if (!next || !next->is_string() || next->as_string().empty()) break;
      cursor = std::string(next->as_string());
    }
    co_return items;
  }

  // initialize (and notifications/initialized) with the client's params on one upstream. The
  // result's protocol version and session are kept in session_.
  asio::awaitable<std::optional<Error>> initialize_upstream(const std::string& server, json::object* result_out) {
    Upstream* up = upstream(server);
    if (!up) co_return http_error(502, "MCP server '" + server + "' is not available", "upstream_unavailable");
    json::object params;
    {
      boost::system::error_code ec;
      auto v = json::parse(session_.init_params, ec);
      if (!ec && v.is_object()) params = std::move(v.as_object());
    }
    if (!params.contains("protocolVersion")) params["protocolVersion"] = session_.version.empty() ? kLatest : session_.version;
    session_.upstreams.erase(server);
    CallContext c = call_for(server);
    const std::string body = json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", own_id()}, {"method", "initialize"},
                                                          {"params", std::move(params)}});
    Reply r = co_await up->post(c, body);
    if (r.status != 200 || !r.messages) {
      // A full stdio registry (503) says so as it is: the client may come back later.
      Error e = http_error(r.status == 503 ? 503 : 502,
                           "MCP server '" + server + "' refused initialize (HTTP " + std::to_string(r.status) + "): " +
                               r.body.substr(0, 300),
                           r.status == 503 ? "upstream_unavailable" : "upstream_error");
      if (r.status == 503) e.retry_after_s = 5;
      co_return e;
    }
    Error broken;
    auto response = co_await response_in(*r.messages, &broken);
    if (!response && !broken.message.empty()) co_return broken;
    std::optional<json::object> result;
    if (response) {
      if (auto* res = response->if_contains("result"); res && res->is_object()) {
        result = std::move(res->as_object());
      } else if (auto* err = response->if_contains("error")) {
        co_return http_error(502, "MCP server '" + server + "' refused initialize: " + json::serialize(*err).substr(0, 300),
                             "upstream_error");
      }
    }
    if (!result) co_return http_error(502, "MCP server '" + server + "' gave no answer to initialize", "upstream_error");
    UpstreamSession us;
    us.id = r.session_id;
    if (auto* v = result->if_contains("protocolVersion"); v && v->is_string()) us.version = std::string(v->as_string());
    session_.upstreams[server] = us;
    c = call_for(server);
    Reply n = co_await up->post(c, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    (void)n;
    if (result_out) *result_out = std::move(*result);
    co_return std::nullopt;
  }

  // post() to an upstream; an upstream that lost our session (404, or a stdio process that
  // ended) is initialized again once, without ending the client's session.
  asio::awaitable<Reply> post_to(const std::string& server, std::string body) {
    Upstream* up = upstream(server);
    if (!up) {
      Reply r;
      r.status = 502;
      r.body = "MCP server '" + server + "' is not available";
      co_return r;
    }
    if (!session_.upstreams.contains(server) && !session_.nonce.empty()) {
      // A virtual server's upstream that was down at initialize: try now.
      if (auto e = co_await initialize_upstream(server, nullptr)) {
        Reply r;
        r.status = e->status;
        r.body = e->message;
        co_return r;
      }
      sessions_->replace_upstream(session_, server, session_.upstreams[server]);
    }
    Reply r = co_await up->post(call_for(server), body);
    if (r.status == 404 && !session_.nonce.empty()) {
      spdlog::info("mcp: {} lost session of {} (HTTP 404): initializing it again", server, name_);
      if (auto e = co_await initialize_upstream(server, nullptr)) {
        r.status = e->status;
        r.body = e->message;
        co_return r;
      }
      sessions_->replace_upstream(session_, server, session_.upstreams[server]);
      r = co_await up->post(call_for(server), std::move(body));
    }
    co_return r;
  }

  // ---- POST ----------------------------------------------------------------------------------

  asio::awaitable<void> post() {
    const std::string_view type = ex_.request()[bhttp::field::content_type];
    if (type.find("application/json") == std::string_view::npos) {
      co_return co_await out_.error(http_error(415, "Unsupported Media Type: Content-Type must be application/json",
                                               "unsupported_media_type"));
    }
    const std::string_view accept = ex_.request()[bhttp::field::accept];
    if (accept.find("application/json") == std::string_view::npos && accept.find("*/*") == std::string_view::npos &&
        accept.find("text/event-stream") == std::string_view::npos) {
      co_return co_await out_.error(http_error(
          406, "Not Acceptable: Client must accept both application/json and text/event-stream", "not_acceptable"));
    }
    boost::system::error_code ec;
    json::value v = json::parse(ex_.request().body(), ec);
    if (ec) {
      co_return co_await out_.json_body(400, rpc_error(nullptr, -32700, "Parse error: the body is not JSON"));
    }
    if (v.is_array()) {
      co_return co_await out_.json_body(
          400, rpc_error(nullptr, -32600, "Invalid Request: JSON-RPC batches are not supported (MCP 2025-06-18 removed them)"));
    }
    if (!v.is_object() || kind_of(v.as_object()) == Kind::kInvalid) {
      co_return co_await out_.json_body(400, rpc_error(nullptr, -32600, "Invalid Request: not a JSON-RPC 2.0 message"));
    }
    auto& msg = v.as_object();
    const Kind kind = kind_of(msg);
    const std::string method = method_of(msg);
    if (kind == Kind::kRequest && method == "initialize") co_return co_await initialize(msg);
    if (ex_.request()["mcp-session-id"].empty() && is_stateless(msg)) co_return co_await stateless(msg, kind, method);
    if (!co_await load_session()) co_return;
    if (kind == Kind::kResponse) co_return co_await client_response(msg);
    if (kind == Kind::kNotification) co_return co_await client_notification(msg, method);
    co_return co_await client_request(msg, method);
  }

  asio::awaitable<void> initialize(json::object& msg) {
    const json::value id = msg["id"];
    json::object params;
    if (auto* p = msg.if_contains("params"); p && p->is_object()) params = p->as_object();
    std::string requested;
    if (auto* pv = params.if_contains("protocolVersion"); pv && pv->is_string()) requested = std::string(pv->as_string());
    session_.nonce = random_hex(16);
    session_.route = std::string(name_);
    session_.principal = principal_of(ctx_);
    session_.created_s = limit::system_now_ms() / 1000;
    session_.init_params = json::serialize(params);
    session_.version = supported_version(requested) ? requested : std::string(kLatest);
    if (server_) {
      // One server: its answer is the client's (the protocol version it negotiates included).
      json::object result;
      if (auto e = co_await initialize_upstream(server_->name, &result)) co_return co_await out_.error(*e);
      if (auto* pv = result.if_contains("protocolVersion"); pv && pv->is_string()) session_.version = std::string(pv->as_string());
      out_.session(sessions_->codec().encode(session_));
      co_return co_await out_.json_body(200, rpc_result(id, std::move(result)));
    }
    // A virtual server answers for itself and initializes its servers in parallel.
    co_await for_each_server(virtual_->servers, [this](const std::string& server) -> asio::awaitable<void> {
      if (auto e = co_await initialize_upstream(server, nullptr)) {
        spdlog::warn("mcp: {}: server {} did not initialize: {} (its tools are missing until it does)", name_, server,
                     e->message);
      }
    });
    out_.session(sessions_->codec().encode(session_));
    json::object caps{{"tools", json::object{{"listChanged", true}}},
                      {"resources", json::object{{"listChanged", true}, {"subscribe", true}}},
                      {"prompts", json::object{{"listChanged", true}}},
                      {"completions", json::object{}},
                      {"logging", json::object{}}};
    json::object result{{"protocolVersion", session_.version},
                        {"capabilities", std::move(caps)},
                        {"serverInfo", json::object{{"name", "gatehouse/" + std::string(name_)}, {"version", GATEHOUSE_VERSION}}},
                        {"instructions", "Tools of " + std::to_string(virtual_->servers.size()) +
                                             " servers, named {server}__{tool}, governed by Gatehouse."}};
    co_return co_await out_.json_body(200, rpc_result(id, std::move(result)));
  }

  // ---- MCP 2026-07-28 (stateless) ------------------------------------------------------------

  // A 2026-07-28 message: no session; its protocol version in the header or in params._meta.
  bool is_stateless(const json::object& msg) const {
    if (ex_.request()["mcp-protocol-version"] == kStateless) return true;
    auto* params = msg.if_contains("params");
    if (!params || !params->is_object()) return false;
    auto* meta = params->as_object().if_contains("_meta");
    if (!meta || !meta->is_object()) return false;
    auto* v = meta->as_object().if_contains("io.modelcontextprotocol/protocolVersion");
    return v && v->is_string() && v->as_string() == kStateless;
  }

  // A 2026-07-28 client's request, served through upstream sessions the gateway opens for it in
  // the stateful protocol (every upstream today speaks 2025-11-25): one per route, caller and
  // client capabilities, kept by the process and initialized again when lost. The Mcp-Method and
  // Mcp-Name headers must match the body (-32020). Results carry resultType "complete".
  asio::awaitable<void> stateless(json::object& msg, Kind kind, const std::string& method) {
    stateless_ = true;
    out_.stamp_results(true);
    const json::value id = kind == Kind::kRequest ? msg["id"] : json::value(nullptr);
    if (kind != Kind::kRequest) {
      // No server-to-client requests are made of a stateless client (its capabilities are not
      // announced upstream), so nothing answers one; notifications have no session to go to.
      co_return co_await out_.json_body(202, {});
    }
    json::object empty;
    json::object& params = msg.contains("params") && msg["params"].is_object() ? msg["params"].as_object() : empty;
    const std::string_view header_method = ex_.request()["mcp-method"];
    if (header_method != method) {
      std::string message = "Header mismatch: Mcp-Method is required and must be '" + method + "'";
      if (!header_method.empty()) {
        message = "Header mismatch: Mcp-Method '" + std::string(header_method.substr(0, 100)) + "' is not the body's method '" +
                  method + "'";
      }
      std::string body = rpc_error(id, -32020, message);
      co_return co_await out_.json_body(400, std::move(body));
    }
    const char* name_key = method == "tools/call" || method == "prompts/get" ? "name"
                           : method == "resources/read" ? "uri" : nullptr;
    if (name_key) {
      auto* n = params.if_contains(name_key);
      const std::string_view header_name = ex_.request()["mcp-name"];
      if (!n || !n->is_string() || header_name != n->as_string()) {
        co_return co_await out_.json_body(400, rpc_error(id, -32020, "Header mismatch: Mcp-Name must be the request's params." +
                                                                         std::string(name_key)));
      }
    }
    json::object meta;
    if (auto* m = params.if_contains("_meta"); m && m->is_object()) meta = m->as_object();
    if (method == "server/discover") co_return co_await discover(id, meta);
    if (method == "subscriptions/listen") {
      co_return co_await out_.json_body(200, rpc_error(id, -32601, "Method not found: subscriptions/listen is not served by "
                                                                   "this gateway yet (use 2025-11-25's GET stream)"));
    }
    // The client's identity and capabilities, without what a stateless client cannot be asked
    // over a session (sampling, elicitation, roots come back as input-required results in 2026-07-28).
    json::object caps;
    if (auto* c = meta.if_contains("io.modelcontextprotocol/clientCapabilities"); c && c->is_object()) caps = c->as_object();
    for (const char* k : {"sampling", "elicitation", "roots"}) caps.erase(k);
    json::object info{{"name", "stateless-client"}, {"version", "0"}};
    if (auto* c = meta.if_contains("io.modelcontextprotocol/clientInfo"); c && c->is_object()) info = c->as_object();
    json::object init{{"protocolVersion", kLatest}, {"capabilities", caps}, {"clientInfo", info}};
    const std::string key = std::string(name_) + "|" + principal_of(ctx_) + "|" + sha256_hex(json::serialize(caps)).substr(0, 32);
    bool opened = false;
    if (auto known = sessions_->bridge(key)) {
      if (auto s = sessions_->codec().decode(*known); s && sessions_->refresh(*s)) {
        session_ = std::move(*s);
        opened = true;
      }
    }
    if (!opened) {
      session_.nonce = random_hex(16);
      session_.route = std::string(name_);
      session_.principal = principal_of(ctx_);
      session_.created_s = limit::system_now_ms() / 1000;
      session_.init_params = json::serialize(init);
      session_.version = std::string(kStateless);
      if (server_) {
        if (auto e = co_await initialize_upstream(server_->name, nullptr)) {
          Reply r;
          r.status = e->status;
          r.body = e->message;
          co_return co_await relay_error(r, &id);
        }
      } else {
        co_await for_each_server(virtual_->servers, [this](const std::string& server) -> asio::awaitable<void> {
          co_await initialize_upstream(server, nullptr);
        });
      }
      sessions_->set_bridge(key, sessions_->codec().encode(session_));
    }
    // The upstream protocol has no _meta of the stateless revision: it goes no further.
    if (auto* m = params.if_contains("_meta"); m && m->is_object()) {
      auto& mo = m->as_object();
      for (auto it = mo.begin(); it != mo.end();) {
        if (it->key().starts_with("io.modelcontextprotocol/")) it = mo.erase(it);
        else ++it;
      }
    }
    co_return co_await client_request(msg, method);
  }

  asio::awaitable<void> discover(const json::value& id, const json::object& meta) {
    json::object caps{{"tools", json::object{}}, {"resources", json::object{}}, {"prompts", json::object{}},
                      {"completions", json::object{}}};
    json::object result{{"resultType", "complete"},
                        {"supportedVersions", json::array{kStateless, "2025-11-25", "2025-06-18", "2025-03-26"}},
                        {"capabilities", std::move(caps)},
                        {"serverInfo", json::object{{"name", "gatehouse/" + std::string(name_)}, {"version", GATEHOUSE_VERSION}}}};
    std::string body = rpc_result(id, std::move(result));
    co_return co_await out_.json_body(200, std::move(body));
  }

  // Runs `f(server)` for every server at once and waits for all (a virtual server's fan-out).
  template <class F>
  asio::awaitable<void> for_each_server(const std::vector<std::string>& servers, F f) {
    auto ex = co_await asio::this_coro::executor;
    auto left = std::make_shared<std::size_t>(servers.size());
    auto done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    for (const auto& s : servers) {
      asio::co_spawn(ex, f(s), [left, done](std::exception_ptr) {
        if (--*left == 0) done->cancel();
      });
    }
    if (*left > 0) {
      boost::system::error_code ec;
      co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // The client answers a server-to-client request (sampling, elicitation, roots).
  asio::awaitable<void> client_response(json::object& msg) {
    std::string server;
    if (server_) {
      server = server_->name;
    } else if (auto w = unwrap_id(msg["id"]); w && session_.upstreams.contains(w->first) &&
                                             std::find(virtual_->servers.begin(), virtual_->servers.end(), w->first) !=
                                                 virtual_->servers.end()) {
      server = w->first;
      msg["id"] = std::move(w->second);
    } else {
      co_return co_await out_.json_body(400, rpc_error(nullptr, -32600, "Invalid Request: this response answers no request of ours"));
    }
    Reply r = co_await post_to(server, json::serialize(msg));
    co_return co_await relay_status(r);
  }

  asio::awaitable<void> client_notification(json::object& msg, const std::string& method) {
    // The gateway sent notifications/initialized itself when it initialized the upstream.
    if (method == "notifications/initialized") co_return co_await out_.json_body(202, {});
    if (server_) {
      Reply r = co_await post_to(server_->name, json::serialize(msg));
      co_return co_await relay_status(r);
    }
    // A virtual server: to every server.
    const std::string body = json::serialize(msg);
    co_await for_each_server(virtual_->servers, [this, &body](const std::string& s) -> asio::awaitable<void> {
      if (session_.upstreams.contains(s)) co_await post_to(s, body);
    });
    co_return co_await out_.json_body(202, {});
  }

  asio::awaitable<void> relay_status(Reply& r) {
    if (r.status >= 300) co_return co_await relay_error(r);
    co_return co_await out_.json_body(202, {});
  }

  // An upstream's refusal of a message. Its own JSON-RPC error body passes as it is; a server
  // that is unreachable or failing (5xx) is, for a request, a JSON-RPC error on that request (the
  // session goes on); anything else an HTTP error naming the server's answer.
  asio::awaitable<void> relay_error(Reply& r, const json::value* request_id = nullptr) {
    // The server refusing the gateway's own credential is not the client's 401/403: relayed as
    // it is, an MCP client would take its gateway key for the bad one (and start signing in).
    if (r.status == 401 || r.status == 403) {
      spdlog::warn("mcp: an MCP server behind {} refused the gateway's credential (HTTP {}): check its auth", name_, r.status);
      r.body = "the MCP server refused the gateway's credential for it (HTTP " + std::to_string(r.status) +
               "); an administrator must check mcp.servers.<name>.auth";
      r.status = 502;
    }
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("jsonrpc")) {
      std::string body = std::move(r.body);
      co_return co_await out_.json_body(r.status, std::move(body));
    }
    std::string message = r.body.empty() ? "the MCP server answered HTTP " + std::to_string(r.status) : r.body.substr(0, 500);
    if (request_id && (r.status >= 500 || r.status < 400)) {
      json::object data{{"type", "upstream_error"}, {"status", r.status}};
      std::string body = rpc_error(*request_id, -32000, message, std::move(data));
      co_return co_await out_.json_body(200, std::move(body));
    }
    const int status = r.status >= 500 || r.status < 400 ? 502 : r.status;
    Error e = http_error(status, std::move(message), "upstream_error");
    co_return co_await out_.error(e);
  }

  asio::awaitable<void> client_request(json::object& msg, const std::string& method) {
    const json::value id = msg["id"];
    if (method == "tools/call") co_return co_await tool_call(msg);
    if (server_) {
      if (method == "tools/list") co_return co_await relay(server_->name, msg, Transform::kToolsList);
      co_return co_await relay(server_->name, msg, Transform::kNone);
    }
    // A virtual server.
    if (method == "ping") co_return co_await out_.json_body(200, rpc_result(id, json::object{}));
    if (method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
        method == "resources/templates/list") {
      co_return co_await fan_out_list(id, method);
    }
    if (method == "logging/setLevel") {
      const std::string body = json::serialize(msg);
      co_await for_each_server(virtual_->servers, [this, &body](const std::string& s) -> asio::awaitable<void> {
        if (session_.upstreams.contains(s)) {
          Reply r = co_await post_to(s, body);
          if (r.messages) {
            while (std::holds_alternative<Message>(co_await r.messages->next())) {
            }
          }
        }
      });
      co_return co_await out_.json_body(200, rpc_result(id, json::object{}));
    }
    if (method == "prompts/get" || method == "completion/complete") {
      // The prompt's prefixed name says which server.
      json::object* params = msg.contains("params") && msg["params"].is_object() ? &msg["params"].as_object() : nullptr;
      json::value* name = nullptr;
      if (params && method == "prompts/get") name = params->if_contains("name");
      if (params && method == "completion/complete") {
        if (auto* ref = params->if_contains("ref"); ref && ref->is_object()) {
          auto& r = ref->as_object();
          if (auto* t = r.if_contains("type"); t && t->is_string() && t->as_string() == "ref/prompt") name = r.if_contains("name");
        }
      }
      if (name && name->is_string()) {
        auto target = split_prefixed(*virtual_, name->as_string());
        if (!target) {
          co_return co_await out_.json_body(200, rpc_error(id, -32602, "Unknown prompt: " + std::string(name->as_string())));
        }
        *name = target->second;
        co_return co_await relay(target->first, msg, Transform::kNone);
      }
      if (method == "prompts/get") co_return co_await out_.json_body(200, rpc_error(id, -32602, "prompts/get needs params.name"));
      // A resource template's completion: the first server that answers.
      co_return co_await first_success(msg);
    }
    if (method.starts_with("resources/")) co_return co_await first_success(msg);
    co_return co_await out_.json_body(200, rpc_error(id, -32601, "Method not found: " + method));
  }

  // ---- relaying one request to one server --------------------------------------------------

  enum class Transform { kNone, kToolsList, kToolCall };

  // Sends `msg` to `server` and relays its answer: an SSE stream when the server streamed and
  // the client accepts one, else the final response as JSON. Messages the server sends on the
  // way (progress, logging, sampling/elicitation requests) go through; in a virtual server,
  // server-to-client request ids and event ids are marked with the server's name. `transform`
  // says what the gateway does to the final response.
  asio::awaitable<void> relay(const std::string& server, json::object& msg, Transform transform,
                              ToolCallState* call = nullptr) {
    const json::value id = msg["id"];
    Reply r = co_await post_to(server, json::serialize(msg));
    if (r.status == 202) co_return co_await out_.json_body(202, {});
    if (r.status >= 300 || !r.messages) {
      if (call) call->fail("upstream_error", "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200));
      co_return co_await relay_error(r, &id);
    }
    const bool stream = out_.streaming() || (r.stream && out_.sse_ok());
    std::unique_ptr<MessageStream> messages = std::move(r.messages);
    std::optional<std::string> final;
    bool final_seen = false;
    std::string last_event;  // the upstream's own id of the last event read
    for (int leg = 0;; ++leg) {
      ex_.watch_client([&messages] { messages->abort(); });
      for (;;) {
        auto m = co_await messages->next();
        if (auto* e = std::get_if<Error>(&m)) {
          ex_.unwatch_client();
          if (call) call->fail(ex_.client_gone() ? "client_gone" : "upstream_error", e->message);
          if (out_.streaming()) co_return co_await out_.end();
          std::string message = "MCP server '" + server + "': " + e->message;
          Reply failed;
          failed.status = 502;
          failed.body = std::move(message);
          co_return co_await relay_error(failed, &id);
        }
        if (std::holds_alternative<std::monostate>(m)) break;
        auto& message = std::get<Message>(m);
        if (!message.event_id.empty()) last_event = message.event_id;
        std::string event_id = message.event_id.empty() || server_ ? message.event_id : server + "/" + message.event_id;
        std::string text = std::move(message.json);
        bool is_final = false;
        if (!text.empty()) {
          boost::system::error_code ec;
          auto v = json::parse(text, ec);
          if (!ec && v.is_object()) {
            auto& o = v.as_object();
            const Kind k = kind_of(o);
            if (k == Kind::kResponse && o["id"] == id) {
              is_final = final_seen = true;
              if (transform == Transform::kToolsList) text = filter_tools(server, o);
              else if (transform == Transform::kToolCall && call) text = call->guard_result(o);
            } else if (k == Kind::kRequest && virtual_) {
              o["id"] = wrap_id(server, o["id"]);
              text = json::serialize(o);
            }
          }
        }
        if (!stream) {
          if (is_final) final = std::move(text);
          continue;
        }
        if (text.empty() && stateless_) continue;  // 2026-07-28 has no resumption: nothing to prime
        if (!out_.streaming() && !co_await out_.start()) break;
        if (!co_await out_.event(text, event_id, message.retry)) break;
      }
      ex_.unwatch_client();
      // The server closed the stream before its response (SSE polling: the client is to resume
      // with Last-Event-ID). A client that cannot — a stateless one, or one that got no stream
      // from us — has the gateway resume it.
      const bool client_resumes = out_.streaming() && !stateless_;
      if (final_seen || client_resumes || ex_.client_gone() || last_event.empty() || leg >= 5) break;
      Upstream* up = upstream(server);
      CallContext c = call_for(server);
      c.last_event_id = last_event;
      Reply again = co_await up->listen(c);
      if (again.status != 200 || !again.messages) break;
      messages = std::move(again.messages);
    }
    if (ex_.client_gone() && call) call->fail("client_gone", "the client went away");
    if (out_.streaming()) co_return co_await out_.end();
    if (!final) {
      // A request always gets a response: an error naming what happened, never a bare 202.
      if (call) call->fail("upstream_error", "no answer");
      Reply failed;
      failed.status = 502;
      failed.body = "MCP server '" + server + "' ended its answer without a response";
      co_return co_await relay_error(failed, &id);
    }
    co_return co_await out_.json_body(200, std::move(*final));
  }

  // tools/list's answer, filtered: only the tools the caller may call (roles, the virtual
  // server's globs), without those whose definition changed since it was pinned; named
  // {server}__{tool} in a virtual server.
  std::string filter_tools(const std::string& server, json::object& response) {
    auto* result = response.if_contains("result");
    if (!result || !result->is_object()) return json::serialize(response);
    auto* tools = result->as_object().if_contains("tools");
    if (!tools || !tools->is_array()) return json::serialize(response);
    json::array kept;
    for (auto& t : tools->as_array()) {
      if (!t.is_object()) continue;
      if (keep_tool(server, t.as_object())) kept.push_back(std::move(t));
    }
    *tools = std::move(kept);
    return json::serialize(response);
  }

  bool keep_tool(const std::string& server, json::object& tool) {
    auto* n = tool.if_contains("name");
    if (!n || !n->is_string()) return false;
    const std::string name(n->as_string());
    if (virtual_ && !any_glob(virtual_->tools, server, name)) return false;
    if (!roles_allow(config_, ctx_.identity.roles, server, name)) return false;
    if (snap_.services.pins && config_.mcp.pinning) {
      auto verdict = snap_.services.pins->check(server, name, canonical_definition(tool));
      if (verdict == ToolPins::Verdict::kChanged) {
        spdlog::warn("mcp: tool {}/{} changed its definition since it was pinned: withheld until an administrator "
                     "accepts it (gatehouse mcp tools accept {}/{})",
                     server, name, server, name);
        return false;
      }
    }
    if (virtual_) {
      const std::string shown = prefixed(server, name);
      if (shown.size() > kClientNameLimit) {
        spdlog::warn("mcp: {}: tool name '{}' is {} characters; clients that cap names at 64 may refuse it", name_, shown,
                     shown.size());
      }
      tool["name"] = shown;
    }
    return true;
  }

  // A virtual server's list: every server's pages, merged into one answer.
  asio::awaitable<void> fan_out_list(const json::value& id, const std::string& method) {
    std::string key = "resourceTemplates";
    if (method == "tools/list") key = "tools";
    else if (method == "prompts/list") key = "prompts";
    else if (method == "resources/list") key = "resources";
    std::map<std::string, json::array> per_server;
    co_await for_each_server(virtual_->servers, [&](const std::string& s) -> asio::awaitable<void> {
      per_server[s] = co_await list_all(s, method, key);
    });
    json::array all;
    for (const auto& s : virtual_->servers) {
      for (auto& item : per_server[s]) {
        if (!item.is_object()) continue;
        auto& o = item.as_object();
        if (method == "tools/list") {
          if (!keep_tool(s, o)) continue;
        } else if (method == "prompts/list") {
          if (auto* n = o.if_contains("name"); n && n->is_string()) o["name"] = prefixed(s, n->as_string());
        }
        all.push_back(std::move(item));
      }
    }
    json::object result;
    result[key] = std::move(all);
    std::string body = rpc_result(id, std::move(result));
    co_return co_await out_.json_body(200, std::move(body));
  }

  // A resource request in a virtual server: the servers in order, the first that answers without
  // an error (resource URIs are the servers' own: they are not renamed).
  asio::awaitable<void> first_success(json::object& msg) {
    const json::value id = msg["id"];
    const std::string body = json::serialize(msg);
    std::string last_error = rpc_error(id, -32002, "Resource not found");
    for (const auto& s : virtual_->servers) {
      if (!session_.upstreams.contains(s)) continue;
      Reply r = co_await post_to(s, body);
      if (r.status != 200 || !r.messages) continue;
      auto response = co_await response_in(*r.messages);
      if (!response || (*response)["id"] != id) continue;
      std::string text = json::serialize(*response);
      if (response->contains("result")) co_return co_await out_.json_body(200, std::move(text));
      last_error = std::move(text);
    }
    co_return co_await out_.json_body(200, std::move(last_error));
  }

  // ---- tools/call ------------------------------------------------------------------------------

  asio::awaitable<void> tool_call(json::object& msg) {
    ToolCallState call(snap_, ctx_, name_);
    const json::value id = msg["id"];
    json::object* params = msg.contains("params") && msg["params"].is_object() ? &msg["params"].as_object() : nullptr;
    json::value* name = params ? params->if_contains("name") : nullptr;
    if (!name || !name->is_string()) {
      co_return co_await out_.json_body(200, rpc_error(id, -32602, "Invalid params: tools/call needs params.name"));
    }
    std::string server, tool;
    if (server_) {
      server = server_->name;
      tool = std::string(name->as_string());
    } else {
      auto target = split_prefixed(*virtual_, name->as_string());
      if (!target || !any_glob(virtual_->tools, target->first, target->second)) {
        co_return co_await out_.json_body(200, rpc_error(id, -32602, "Unknown tool: " + std::string(name->as_string())));
      }
      server = target->first;
      tool = target->second;
      *name = tool;
    }
    call.begin(server, tool, params);
    // Who may call it, before anything else: a tool the caller may not call is not named by
    // anything but the refusal.
    if (auto refusal = co_await call.admit()) {
      co_return co_await out_.json_body(200, rpc_error(id, refusal->code, refusal->message, std::move(refusal->data)));
    }
    if (auto refusal = co_await check_pinned(call, server, tool)) {
      co_return co_await out_.json_body(200, rpc_error(id, refusal->code, refusal->message, std::move(refusal->data)));
    }
    if (auto refusal = call.guard_arguments(*params)) {
      co_return co_await out_.json_body(200, rpc_error(id, refusal->code, refusal->message, std::move(refusal->data)));
    }
    if (call.needs_approval()) {
      if (auto refusal = co_await await_approval(call, *params)) {
        co_return co_await out_.json_body(200, rpc_error(id, refusal->code, refusal->message, std::move(refusal->data)));
      }
      if (ex_.client_gone()) {
        call.fail("client_gone", "the client went away while the call was held; it was not made");
        co_return;
      }
      // Held for minutes or days: a kill switched on meanwhile still stops it.
      if (auto refusal = call.check_kill()) {
        co_return co_await out_.json_body(200, rpc_error(id, refusal->code, refusal->message, std::move(refusal->data)));
      }
    }
    co_await relay(server, msg, Transform::kToolCall, &call);
  }

  // A tool whose definition changed since it was pinned is refused; one never listed is looked
  // up first (the gateway lists the server's tools itself), so no call skips the pin check.
  asio::awaitable<std::optional<Refusal>> check_pinned(ToolCallState& call, const std::string& server,
                                                       const std::string& tool) {
    auto* pins = snap_.services.pins.get();
    if (!pins || !config_.mcp.pinning) co_return std::nullopt;
    auto verdict = pins->status(server, tool);
    if (!verdict) {
      co_await list_upstream_tools(server);
      verdict = pins->status(server, tool);
    }
    // A tool its server does not list has no definition to pin: not called (it could be anything).
    if (!verdict) co_return call.refuse_unlisted();
    if (verdict == ToolPins::Verdict::kChanged) co_return call.refuse_changed();
    co_return std::nullopt;
  }

  asio::awaitable<void> list_upstream_tools(const std::string& server) {
    json::array tools = co_await list_all(server, "tools/list", "tools");
    for (auto& t : tools) {
      if (!t.is_object()) continue;
      auto* n = t.as_object().if_contains("name");
      if (n && n->is_string()) snap_.services.pins->check(server, n->as_string(), canonical_definition(t.as_object()));
    }
  }

  // Holds the call for an administrator; progress notifications meanwhile to a client that sent
  // a progressToken (and accepts a stream).
  asio::awaitable<std::optional<Refusal>> await_approval(ToolCallState& call, json::object& params) {
    json::value token;
    if (auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
      if (auto* t = meta->as_object().if_contains("progressToken")) token = *t;
    }
    const bool progress = !token.is_null() && out_.sse_ok();
    if (progress) co_await out_.start();
    auto tick = [this, progress, token, timeout = config_.mcp.approval_timeout](std::chrono::seconds waited) -> asio::awaitable<void> {
      if (!progress) co_return;
      json::object n{{"jsonrpc", "2.0"},
                     {"method", "notifications/progress"},
                     {"params", json::object{{"progressToken", token},
                                             {"progress", waited.count()},
                                             {"total", timeout.count()},
                                             {"message", "waiting for an administrator to approve this call"}}}};
      co_await out_.event(json::serialize(n), {});
    };
    // At once (the client learns why it waits), then every few seconds.
    co_await tick(std::chrono::seconds(0));
    // A client that leaves ends the wait (the held call expires, "the client went away"): the
    // wait and a timer the client's departure cancels race; the loser is cancelled.
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer gone(ex, asio::steady_timer::time_point::max());
    ex_.watch_client([&gone] { gone.cancel(); });
    auto wait_gone = [&gone]() -> asio::awaitable<void> {
      boost::system::error_code ec;
      co_await gone.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    };
    using namespace asio::experimental::awaitable_operators;
    auto outcome = co_await (call.await_approval(config_.mcp.approval_timeout, tick) || wait_gone());
    ex_.unwatch_client();
    if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
    co_return std::nullopt;  // the client is gone: tool_call sees client_gone() and makes no call
  }

  // ---- GET and DELETE ------------------------------------------------------------------------

  asio::awaitable<void> get() {
    if (ex_.request()["mcp-protocol-version"] == kStateless && ex_.request()["mcp-session-id"].empty()) {
      ctx_.response_headers.emplace_back("allow", "POST");
      co_return co_await out_.error(http_error(405, "Method Not Allowed: MCP 2026-07-28 has no GET stream", "method_not_allowed"));
    }
    const std::string_view accept = ex_.request()[bhttp::field::accept];
    if (accept.find("text/event-stream") == std::string_view::npos) {
      co_return co_await out_.error(http_error(406, "Not Acceptable: Client must accept text/event-stream", "not_acceptable"));
    }
    if (!co_await load_session()) co_return;
    const std::string last(ex_.request()["last-event-id"]);
    std::vector<std::string> servers;
    std::string resume_server, resume_id = last;
    if (server_) {
      servers.push_back(server_->name);
      resume_server = server_->name;
    } else {
      // Every server's stream; the id a client resumes from goes to the server that issued it.
      if (auto slash = last.find('/'); slash != std::string::npos) {
        resume_server = last.substr(0, slash);
        resume_id = last.substr(slash + 1);
      }
      servers = virtual_->servers;
    }
    // Open every server's stream; those that offer none (405) are left out.
    std::vector<std::pair<std::string, std::unique_ptr<MessageStream>>> streams;
    int last_status = 405;
    for (const auto& s : servers) {
      Upstream* up = upstream(s);
      if (!up || !session_.upstreams.contains(s)) continue;
      CallContext c = call_for(s);
      if (s == resume_server) c.last_event_id = resume_id;
      Reply r = co_await up->listen(c);
      last_status = r.status;
      if (r.status == 200 && r.messages) streams.emplace_back(s, std::move(r.messages));
    }
    if (streams.empty()) {
      if (last_status == 404 || last_status == 400) {
        co_return co_await out_.error(http_error(404, "Session not found: initialize a new session", "session_not_found"));
      }
      ctx_.response_headers.emplace_back("allow", "POST, DELETE");
      co_return co_await out_.error(http_error(405, "Method Not Allowed: this MCP server offers no stream outside requests",
                                               "method_not_allowed"));
    }
    if (!co_await out_.start()) co_return;
    // One reader per stream, all on this worker; their events are written in the order they come.
    auto ex = co_await asio::this_coro::executor;
    struct Shared {
      std::deque<std::pair<std::string, Message>> queue;
      std::size_t open = 0;
      asio::steady_timer wake;
      explicit Shared(asio::any_io_executor e) : wake(e, asio::steady_timer::time_point::max()) {}
    };
    auto shared = std::make_shared<Shared>(ex);
    shared->open = streams.size();
    for (auto& [s, stream] : streams) {
      asio::co_spawn(ex, [shared, s = s, st = stream.get()]() -> asio::awaitable<void> {
        // Counted down however the reader ends (get() waits for every reader before it returns).
        struct Done {
          Shared& sh;
          ~Done() {
            --sh.open;
            sh.wake.cancel();
          }
        } done{*shared};
        for (;;) {
          auto m = co_await st->next();
          if (!std::holds_alternative<Message>(m)) break;
          shared->queue.emplace_back(s, std::move(std::get<Message>(m)));
          shared->wake.cancel();
        }
      }, asio::detached);
    }
    ex_.watch_client([&streams] {
      for (auto& [s, st] : streams) st->abort();
    });
    bool ok = true;
    while (ok) {
      while (!shared->queue.empty() && ok) {
        auto [s, message] = std::move(shared->queue.front());
        shared->queue.pop_front();
        std::string text = std::move(message.json);
        if (virtual_ && !text.empty()) {
          boost::system::error_code ec;
          auto v = json::parse(text, ec);
          if (!ec && v.is_object() && kind_of(v.as_object()) == Kind::kRequest) {
            v.as_object()["id"] = wrap_id(s, v.as_object()["id"]);
            text = json::serialize(v);
          }
        }
        if (!text.empty()) {
          text = guard_replayed_result(snap_, ctx_, s, std::move(text));
          // A tools/list answer replayed here (a resumed stream) is filtered as on its own stream.
          boost::system::error_code ec;
          auto v = json::parse(text, ec);
          if (!ec && v.is_object() && kind_of(v.as_object()) == Kind::kResponse) {
            auto* res = v.as_object().if_contains("result");
            if (res && res->is_object() && res->as_object().contains("tools")) text = filter_tools(s, v.as_object());
          }
        }
        const std::string id = message.event_id.empty() || server_ ? message.event_id : s + "/" + message.event_id;
        ok = co_await out_.event(text, id, message.retry);
      }
      if (!ok || shared->open == 0) break;
      boost::system::error_code ec;
      shared->wake.expires_at(asio::steady_timer::time_point::max());
      if (shared->queue.empty() && shared->open > 0) co_await shared->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    ex_.unwatch_client();
    for (auto& [s, st] : streams) st->abort();
    // The readers hold raw pointers to the streams: wait until each has returned.
    while (shared->open > 0) {
      boost::system::error_code ec;
      shared->wake.expires_at(asio::steady_timer::time_point::max());
      co_await shared->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ok) co_await out_.end();
  }

  asio::awaitable<void> del() {
    if (!co_await load_session()) co_return;
    std::vector<std::string> servers;
    if (server_) servers.push_back(server_->name);
    else servers = virtual_->servers;
    for (const auto& s : servers) {
      Upstream* up = upstream(s);
      if (up && session_.upstreams.contains(s)) co_await up->end(call_for(s));
    }
    sessions_->end(session_);
    co_return co_await out_.json_body(200, {});
  }

  http::Exchange& ex_;
  pipeline::RequestContext& ctx_;
  const runtime::Snapshot& snap_;
  const config::Config& config_;
  std::string_view name_;
  Out out_;
  const config::McpServerConfig* server_ = nullptr;
  const config::McpVirtualConfig* virtual_ = nullptr;
  Sessions* sessions_ = nullptr;
  Session session_;
  std::string session_id_;
  bool stateless_ = false;  // a 2026-07-28 client: no session of its own
};

}  // namespace

asio::awaitable<void> serve(http::Exchange& ex, pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot) {
  Call call(ex, ctx, snapshot, route_of(ctx.ingress.path));
  co_await call.run();
}

}  // namespace gatehouse::mcp
