#include "gateway/handler.h"

#include <boost/asio/post.hpp>

#include "admin/admin.h"
#include "api/errors.h"
#include "core/request_id.h"
#include "gateway/console.h"
#include "gateway/endpoints.h"
#include "gateway/responses_api.h"
#include "gateway/llm.h"
#include "gateway/ops.h"
#include "gateway/respond.h"
#include "limit/clock.h"
#include "mcp/endpoint.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

Error unknown_endpoint(std::string_view method, std::string_view path) {
  return Error::not_found("no such endpoint: " + std::string(method) + " " + std::string(path.substr(0, 200)) +
                              " (Gatehouse serves /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models, "
                              "/v1/messages and /serving-endpoints/{model}/invocations)",
                          "unknown_url");
}

// Whether `method` is one the endpoint takes. HEAD is answered as GET without the body (RFC 9110
// 9.3.2; Exchange::respond drops it).
bool method_fits(const Endpoint& endpoint, bhttp::verb method) {
  if (endpoint.allow == "POST") return method == bhttp::verb::post;
  return method == bhttp::verb::get || method == bhttp::verb::head;
}

pipeline::RequestContext make_context(http::Exchange& ex, const runtime::Snapshot& snapshot) {
  const auto& request = ex.request();
  std::string_view target = request.target();
  pipeline::RequestContext ctx;
  ctx.config = snapshot.config.get();
  ctx.pipeline = &snapshot.pipeline;
  auto& in = ctx.ingress;
  in.request_id = ex.request_id();
  in.method = request.method_string();
  in.target = target;
  in.path = target.substr(0, target.find('?'));
  in.authorization = request[bhttp::field::authorization];
  in.traceparent = request["traceparent"];
  in.api_key = request["x-api-key"];
  in.started = ex.started();
  in.started_unix_ms = limit::system_now_ms();
  return ctx;
}

}  // namespace

Gateway::Gateway(std::shared_ptr<const runtime::Snapshot> snapshot) : initial_(std::move(snapshot)) {}

void Gateway::attach(http::Server& server) {
  server_ = &server;
  current_.assign(server.workers(), initial_);
  published_.push_back(std::move(initial_));
}

void Gateway::publish(std::shared_ptr<const runtime::Snapshot> snapshot) {
  // Snapshots no worker or request holds any more die here, on the control thread: the last
  // reference must never be dropped on a worker, where a retired record writer would write its
  // whole queue (or a trace exporter send its last batch) while that worker's connections wait.
  std::erase_if(published_, [](const auto& s) { return s.use_count() == 1; });
  published_.push_back(snapshot);
  for (std::size_t i = 0; i < current_.size(); ++i) {
    asio::post(server_->context(i), [this, i, snapshot] { current_[i] = snapshot; });
  }
}

http::Response Gateway::render_error(const Error& error, const std::string& request_id, std::string_view target) {
  const ApiShape shape = endpoint_of(target.substr(0, target.find('?'))).shape;
  http::Response res{static_cast<bhttp::status>(error.status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-request-id", request_id);
  if (traits(shape).request_id_header) res.set("request-id", request_id);
  if (error.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(error.retry_after_s));
  res.body() = api::encode_error(shape, error);
  return res;
}

std::shared_ptr<admin::ConsoleSessions> Gateway::sessions(const config::Config& config) {
  std::lock_guard lock(sessions_mutex_);
  if (!sessions_ || !sessions_->made_from(config.console.session_secret)) {
    sessions_ = std::make_shared<admin::ConsoleSessions>(config.console.session_secret);
  }
  return sessions_;
}

asio::awaitable<void> Gateway::handle(http::Exchange& ex) {
  // Pin the snapshot: a reload during this request does not change what it sees.
  std::shared_ptr<const runtime::Snapshot> snapshot = current_[ex.worker()];
  auto incoming_id = ex.request()["x-request-id"];
  ex.set_request_id(acceptable_request_id(incoming_id) ? std::string(incoming_id) : new_request_id());

  // The credential a console session carries (ctx.ingress.authorization views it): declared
  // before the context, so it outlives everything that reads the context.
  std::string session_authorization;
  pipeline::RequestContext ctx = make_context(ex, *snapshot);
  // on_complete runs exactly once, however this coroutine ends.
  struct Complete {
    const pipeline::Pipeline& p;
    pipeline::RequestContext& c;
    ~Complete() { p.on_complete(c); }
  } complete{snapshot->pipeline, ctx};

  Endpoint endpoint = endpoint_of(ctx.ingress.path);
  // Without metrics, /metrics is an unknown URL.
  if (endpoint.ops == Ops::kMetrics && !snapshot->config->metrics.enabled) endpoint = Endpoint{};
  ctx.ingress.shape = endpoint.shape;
  if (endpoint.backend == Backend::kUnknown) {
    co_return co_await respond_error(ex, ctx, unknown_endpoint(ctx.ingress.method, ctx.ingress.path));
  }
  if (!endpoint.allow.empty() && !method_fits(endpoint, ex.request().method())) {
    co_return co_await respond_error(ex, ctx, method_not_allowed(endpoint.allow));
  }
  // With server.admin_listen, the admin API and the console are served there and only there
  // (probes and the metrics page on both).
  if (server_->admin_port() != 0) {
    const bool admin_path = endpoint.backend == Backend::kAdmin || endpoint.backend == Backend::kConsole;
    if (admin_path != ex.admin_listener() && (admin_path || endpoint.backend != Backend::kOps ||
                                              endpoint.ops == Ops::kModels || endpoint.ops == Ops::kModel ||
                                              endpoint.ops == Ops::kMcpMetadata)) {
      Error elsewhere = Error::not_found(
          "no such endpoint on this address: " + std::string(ctx.ingress.path.substr(0, 200)) +
              (admin_path ? " (the admin API and the console are served on server.admin_listen)"
                          : " (this is the admin address, server.admin_listen)"),
          "unknown_url");
      co_return co_await respond_error(ex, ctx, elsewhere);
    }
  }
  if (endpoint.backend == Backend::kConsole) co_return co_await serve_console(ex, ctx, *snapshot);
  if (endpoint.backend == Backend::kAdmin) {
    ctx.set_response_header("cache-control", "no-store");
    ctx.set_response_header("x-content-type-options", "nosniff");
    auto console_sessions = sessions(*snapshot->config);
    // console.enabled: false turns the cookie sign-in off too (the admin API takes bearers only).
    const bool console_on = snapshot->config->console.enabled;
    if (ctx.ingress.path == kSessionPath && !console_on) {
      Error off = Error::not_found("the console is switched off here (console.enabled: false)", "unknown_url");
      co_return co_await respond_error(ex, ctx, off);
    }
    if (ctx.ingress.path == kSessionPath) {
      co_return co_await serve_session(ex, ctx, *snapshot, *console_sessions, session_authorization);
    }
    if (console_on && ctx.ingress.authorization.empty() && ctx.ingress.api_key.empty()) {
      if (auto e = open_console_session(ex.request(), *console_sessions, session_authorization)) {
        co_return co_await respond_error(ex, ctx, *e);
      }
      if (!session_authorization.empty()) ctx.ingress.authorization = session_authorization;
    }
  }
  // Probes and scrapes need no caller: answered before the stages (not counted, not traced).
  if (co_await serve_probe(ex, ctx, *snapshot, endpoint, server_->draining())) co_return;
  if (endpoint.backend == Backend::kMcp || endpoint.ops == Ops::kMcpMetadata) {
    if (!snapshot->config->mcp.enabled()) {
      co_return co_await respond_error(ex, ctx, Error::not_found("no MCP servers are configured here (mcp.servers)", "not_found"));
    }
    // DNS-rebinding protection comes before the caller is known (docs/mcp.md).
    if (auto e = mcp::check_origin(*snapshot, ex.request())) co_return co_await respond_error(ex, ctx, *e);
    if (endpoint.ops == Ops::kMcpMetadata) {
      auto meta = mcp::resource_metadata(*snapshot, ex.request(), ctx.ingress.path);
      if (auto* e = std::get_if<Error>(&meta)) co_return co_await respond_error(ex, ctx, *e);
      co_return co_await respond(ex, ctx, 200, "application/json", std::get<std::string>(std::move(meta)));
    }
  }

  auto decision = snapshot->pipeline.on_request(ctx);
  if (decision.kind() == pipeline::Decision::Kind::kRefuse) {
    // An MCP client learns where to sign in from a 401 (RFC 9728).
    if (endpoint.backend == Backend::kMcp && decision.error().status == 401) {
      ctx.set_response_header("www-authenticate",
                              mcp::www_authenticate(*snapshot, ex.request(), mcp::route_of(ctx.ingress.path)));
    }
    co_return co_await respond_error(ex, ctx, decision.error());
  }
  if (decision.kind() == pipeline::Decision::Kind::kAnswer) {
    auto& a = decision.answer();
    co_return co_await respond(ex, ctx, a.status, a.content_type, std::move(a.body));
  }
  switch (endpoint.backend) {
    case Backend::kAdmin: {
      auto answer = co_await admin::handle_admin(ex.request(), ctx.ingress.path, ctx, *snapshot);
      if (auto* e = std::get_if<Error>(&answer)) co_return co_await respond_error(ex, ctx, *e);
      auto& a = std::get<admin::AdminAnswer>(answer);
      for (auto& header : a.headers) ctx.set_response_header(header.first, std::move(header.second));
      co_return co_await respond(ex, ctx, a.status, a.content_type, std::move(a.body));
    }
    case Backend::kOps:
      co_return co_await serve_models(ex, ctx, *snapshot, endpoint);
    case Backend::kLlm:
      co_return co_await serve_llm(ex, ctx, *snapshot, endpoint);
    case Backend::kMcp:
      co_return co_await mcp::serve(ex, ctx, *snapshot);
    case Backend::kResponses:
      co_return co_await serve_stored_response(ex, ctx, *snapshot);
    case Backend::kConsole:  // answered above
    case Backend::kUnknown:
      break;
  }
}

}  // namespace gatehouse::gateway
