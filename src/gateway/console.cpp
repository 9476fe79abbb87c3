#include "gateway/console.h"

#include <openssl/crypto.h>

#include <cctype>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "admin/admin.h"
#include "console/assets.h"
#include "gateway/endpoints.h"
#include "gateway/respond.h"
#include "limit/clock.h"
#include "pipeline/records.h"
#include "store/key_rules.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

// Scripts, styles, images and requests from the gateway's own origin only: no inline script or
// style, no framing, no form posting elsewhere, no <base> games.
constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void security_headers(pipeline::RequestContext& ctx) {
  ctx.set_response_header("content-security-policy", std::string(kCsp));
  ctx.set_response_header("x-content-type-options", "nosniff");
  ctx.set_response_header("x-frame-options", "DENY");
  ctx.set_response_header("referrer-policy", "no-referrer");
  ctx.set_response_header("cross-origin-opener-policy", "same-origin");
  ctx.set_response_header("cross-origin-resource-policy", "same-origin");
}

bool safe_method(bhttp::verb v) { return v == bhttp::verb::get || v == bhttp::verb::head; }

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Whether the request came over TLS to a proxy in front (the cookie then says Secure).
bool behind_tls(const http::Request& request) {
  return request["x-forwarded-proto"] == "https";
}

// host[:port] in lower case without the scheme's default port ("Example.com:443" for https is
// "example.com").
std::string normal_authority(std::string_view authority, std::string_view scheme) {
  std::string a(authority);
  for (auto& ch : a) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string_view default_port = scheme == "https" ? ":443" : ":80";
  if (a.size() > default_port.size() && std::string_view(a).ends_with(default_port)) {
    a.resize(a.size() - default_port.size());
  }
  return a;
}

// An Origin that is not this host: a cross-site request (a browser always sends Origin on
// non-GET fetches). Absent (curl, same-origin GET): fine. Compared case-insensitively, default
// ports aside, against the Host header (a proxy in front must pass Host through).
bool cross_site(const http::Request& request) {
  std::string_view origin = request[bhttp::field::origin];
  if (origin.empty()) return false;
  auto sep = origin.find("://");
  if (sep == std::string_view::npos) return true;  // "null" and other opaque origins
  std::string scheme(origin.substr(0, sep));
  for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return normal_authority(origin.substr(sep + 3), scheme) != normal_authority(request[bhttp::field::host], scheme);
}

std::string cookie(std::string_view value, std::int64_t max_age, bool secure) {
  std::string c = std::string(admin::kSessionCookie) + "=" + std::string(value) +
                  "; Path=/admin/v1/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (secure) c += "; Secure";
  return c;
}

Error session_error(std::string message, std::string code, int status) {
  Error e = status == 401 ? Error::unauthenticated(std::move(message)) : Error::forbidden(std::move(message), code);
  e.code = std::move(code);
  return e;
}

std::string session_json(const pipeline::RequestContext& ctx, const admin::ConsoleSession& s) {
  return json::serialize(json::object{{"caller", pipeline::caller_of(ctx)},
                                      {"role", ctx.identity.role_names},
                                      {"csrf_token", s.csrf},
                                      {"expires_at", s.expires_at}});
}

}  // namespace

asio::awaitable<void> serve_console(http::Exchange& ex, pipeline::RequestContext& ctx,
                                    const runtime::Snapshot& snapshot) {
  if (!snapshot.config->console.enabled) {
    Error off = Error::not_found("the console is switched off here (console.enabled: false)", "unknown_url");
    co_return co_await respond_error(ex, ctx, off);
  }
  std::string_view path = ctx.ingress.path;
  if (path == "/ui") {
    ctx.set_response_header("location", "/ui/");
    std::string body = "/ui/\n";
    co_return co_await respond(ex, ctx, 308, "text/plain; charset=utf-8", std::move(body));
  }
  std::string_view name = path.substr(4);  // after "/ui/"
  const console::Asset* asset = console::asset(name.empty() ? std::string_view("index.html") : name);
  // The console's own pages (/ui/keys, /ui/logs/...) are index.html; a missing file is a 404.
  if (!asset && name.find('.') == std::string_view::npos) asset = console::asset("index.html");
  if (!asset) {
    Error missing = Error::not_found("no such console file: " + std::string(path.substr(0, 200)), "unknown_url");
    co_return co_await respond_error(ex, ctx, missing);
  }
  security_headers(ctx);
  ctx.set_response_header("cache-control", "no-cache");
  ctx.set_response_header("etag", std::string(asset->etag));
  if (ex.request()[bhttp::field::if_none_match] == asset->etag) {
    std::string none;
    co_return co_await respond(ex, ctx, 304, asset->content_type, std::move(none));
  }
  // (Bodies are named locals: GCC 12 destroys temporaries in co_await arguments twice.)
  std::string body(asset->body);
  co_return co_await respond(ex, ctx, 200, asset->content_type, std::move(body));
}

std::optional<Error> open_console_session(const http::Request& request, const admin::ConsoleSessions& sessions,
                                          std::string& authorization) {
  std::string_view value = admin::cookie_value(request[bhttp::field::cookie], admin::kSessionCookie);
  if (value.empty()) return std::nullopt;
  auto s = sessions.open(value, store::unix_now());
  if (!s) {
    return session_error("the console session has expired or was ended; sign in again", "session_expired", 401);
  }
  if (!safe_method(request.method())) {
    if (cross_site(request)) {
      return session_error("a cross-site request to the admin API was refused", "csrf_failed", 403);
    }
    if (!equal_secret(request["x-csrf-token"], s->csrf)) {
      return session_error(
          "changes from the console need the session's X-CSRF-Token header (GET /admin/v1/session gives it)",
          "csrf_failed", 403);
    }
  }
  authorization = "Bearer " + s->credential;
  return std::nullopt;
}

asio::awaitable<void> serve_session(http::Exchange& ex, pipeline::RequestContext& ctx,
                                    const runtime::Snapshot& snapshot, admin::ConsoleSessions& sessions,
                                    std::string& authorization) {
  const auto& request = ex.request();
  ctx.set_response_header("cache-control", "no-store");
  const auto method = request.method();
  if (method != bhttp::verb::post && method != bhttp::verb::get && method != bhttp::verb::delete_) {
    Error e = method_not_allowed("GET, POST, DELETE");
    co_return co_await respond_error(ex, ctx, e);
  }
  const std::int64_t now = store::unix_now();
  std::optional<admin::ConsoleSession> session;
  if (method == bhttp::verb::post) {
    if (cross_site(request)) {
      Error e = session_error("a cross-site sign-in was refused", "csrf_failed", 403);
      co_return co_await respond_error(ex, ctx, e);
    }
    json::error_code ec;
    json::value v = json::parse(request.body(), ec);
    const json::value* key = !ec && v.is_object() ? v.get_object().if_contains("key") : nullptr;
    if (!key || !key->is_string() || key->get_string().empty() || key->get_string().size() > 16384 ||
        v.get_object().size() != 1) {
      Error e = Error::bad_request("send {\"key\": \"<an admin key or an admin JWT>\"}", "key");
      co_return co_await respond_error(ex, ctx, e);
    }
    std::string credential(key->get_string());
    if (credential.find_first_of("\r\n") != std::string::npos) {
      Error e = Error::bad_request("the key must be one line", "key");
      co_return co_await respond_error(ex, ctx, e);
    }
    authorization = "Bearer " + credential;
    const auto ttl = snapshot.config->console.session_ttl.count();
    session = sessions.start(std::move(credential), now + ttl);
  } else {
    std::string_view value = admin::cookie_value(request[bhttp::field::cookie], admin::kSessionCookie);
    session = value.empty() ? std::nullopt : sessions.open(value, now);
    if (!session) {
      Error e = session_error("not signed in to the console (or the session expired); sign in again",
                              "session_expired", 401);
      co_return co_await respond_error(ex, ctx, e);
    }
    if (method == bhttp::verb::delete_ && (cross_site(request) || !equal_secret(request["x-csrf-token"], session->csrf))) {
      Error e = session_error("signing out needs the session's X-CSRF-Token header", "csrf_failed", 403);
      co_return co_await respond_error(ex, ctx, e);
    }
    authorization = "Bearer " + session->credential;
  }
  ctx.ingress.authorization = authorization;
  ctx.ingress.api_key = {};

  // The credential is checked as on any request (a key revoked since, a JWT expired, a role
  // without admin: true end the session at once).
  auto decision = snapshot.pipeline.on_request(ctx);
  if (decision.kind() == pipeline::Decision::Kind::kRefuse) {
    if (method != bhttp::verb::post) ctx.set_response_header("set-cookie", cookie("", 0, behind_tls(request)));
    co_return co_await respond_error(ex, ctx, decision.error());
  }
  if (auto denied = admin::require_admin(ctx)) {
    Error e = *denied;
    e.message = "the console is for administrators: " + e.message;
    co_return co_await respond_error(ex, ctx, e);
  }
  if (method == bhttp::verb::delete_) {
    sessions.end(*session, now);
    spdlog::info("console: {} signed out", pipeline::caller_of(ctx));
    admin::audit(snapshot, ctx, "console.sign_out", pipeline::caller_of(ctx), json::object{{"session", session->id}});
    ctx.set_response_header("set-cookie", cookie("", 0, behind_tls(request)));
    std::string body = R"({"signed_out":true})";
    co_return co_await respond(ex, ctx, 200, "application/json", std::move(body));
  }
  if (method == bhttp::verb::post) {
    spdlog::info("console: {} signed in", pipeline::caller_of(ctx));
    admin::audit(snapshot, ctx, "console.sign_in", pipeline::caller_of(ctx),
                 json::object{{"session", session->id}, {"expires_at", session->expires_at}});
    ctx.set_response_header("set-cookie", cookie(sessions.seal(*session), session->expires_at - now,
                                                 behind_tls(request)));
  }
  std::string body = session_json(ctx, *session);
  co_return co_await respond(ex, ctx, 200, "application/json", std::move(body));
}

}  // namespace gatehouse::gateway
