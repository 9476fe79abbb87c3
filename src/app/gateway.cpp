#include "app/gateway.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "api/openai.h"
#include "app/forward.h"
#include "core/request_id.h"

namespace gatehouse::app {

namespace bhttp = boost::beast::http;

namespace {

enum class Endpoint { kChat, kEmbeddings, kModels, kModel, kHealth, kReady, kUnknown };

// Clients point their SDK at ".../v1" or at the bare host; both prefixes are accepted.
Endpoint endpoint_of(std::string_view path) {
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  if (path == "/chat/completions") return Endpoint::kChat;
  if (path == "/embeddings") return Endpoint::kEmbeddings;
  if (path == "/models") return Endpoint::kModels;
  if (path.starts_with("/models/") && path.size() > 8) return Endpoint::kModel;
  if (path == "/healthz") return Endpoint::kHealth;
  if (path == "/readyz") return Endpoint::kReady;
  return Endpoint::kUnknown;
}

Error method_not_allowed(std::string_view allowed) {
  Error e = Error::bad_request("this endpoint accepts " + std::string(allowed) + " only");
  e.kind = ErrorKind::kMethodNotAllowed;
  e.status = 405;
  e.code = "method_not_allowed";
  return e;
}

// The Allow header a 405 must carry (RFC 9110 15.5.6).
std::string_view allowed_methods(Endpoint endpoint) {
  return endpoint == Endpoint::kChat || endpoint == Endpoint::kEmbeddings ? "POST" : "GET, HEAD";
}

}  // namespace

Gateway::Gateway(std::shared_ptr<const Snapshot> snapshot) : initial_(std::move(snapshot)) {}

void Gateway::attach(http::Server& server) {
  server_ = &server;
  workers_.resize(server.workers());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i].snapshot = initial_;
    workers_[i].pools = std::make_unique<http::UpstreamPools>(server.context(i));
  }
  initial_.reset();
}

void Gateway::publish(std::shared_ptr<const Snapshot> snapshot) {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::post(server_->context(i), [this, i, snapshot] { workers_[i].snapshot = snapshot; });
  }
}

void Gateway::on_worker_stop(std::size_t i) { workers_[i].pools->close(); }

http::Response Gateway::render_error(const Error& error, const std::string& request_id) {
  http::Response res{static_cast<bhttp::status>(error.status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-request-id", request_id);
  if (error.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(error.retry_after_s));
  res.body() = error.upstream_body.empty() ? api::encode_error(error) : error.upstream_body;
  return res;
}

asio::awaitable<void> Gateway::respond_error(http::Exchange& ex, pipeline::RequestContext& ctx,
                                             const Error& error) {
  ctx.status = error.status;
  ctx.error_code = error.code.empty() ? std::string(to_string(error.kind)) : error.code;
  http::Response res = render_error(error, ex.request_id());
  if (error.kind == ErrorKind::kMethodNotAllowed) {
    res.set(bhttp::field::allow, allowed_methods(endpoint_of(ctx.path)));
  }
  co_await ex.respond(res);
}

asio::awaitable<void> Gateway::respond_json(http::Exchange& ex, pipeline::RequestContext& ctx,
                                            int status, std::string body) {
  ctx.status = status;
  http::Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  co_await ex.respond(res);
}

asio::awaitable<void> Gateway::handle(http::Exchange& ex) {
  auto& request = ex.request();
  auto& worker = workers_[ex.worker()];
  // Pin the snapshot: a reload during this request does not change what it sees.
  std::shared_ptr<const Snapshot> snapshot = worker.snapshot;

  auto incoming_id = request["x-request-id"];
  ex.set_request_id(acceptable_request_id(incoming_id) ? std::string(incoming_id) : new_request_id());

  std::string_view target = request.target();
  std::string_view path = target.substr(0, target.find('?'));
  pipeline::RequestContext ctx;
  ctx.request_id = ex.request_id();
  ctx.method = request.method_string();
  ctx.path = path;
  ctx.authorization = request[bhttp::field::authorization];
  ctx.config = snapshot->config.get();
  ctx.started = ex.started();
  // on_complete runs exactly once, however this coroutine ends.
  struct Complete {
    const pipeline::Pipeline& p;
    pipeline::RequestContext& c;
    ~Complete() { p.on_complete(c); }
  } complete{snapshot->pipeline, ctx};

  const Endpoint endpoint = endpoint_of(path);
  // HEAD is answered as GET without the body (RFC 9110 9.3.2); Exchange::respond drops it.
  const bool is_get = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head;
  const bool is_post = request.method() == bhttp::verb::post;
  switch (endpoint) {
    case Endpoint::kHealth:
      if (!is_get) co_return co_await respond_error(ex, ctx, method_not_allowed("GET"));
      co_return co_await respond_json(ex, ctx, 200, R"({"status":"ok"})");
    case Endpoint::kReady:
      if (!is_get) co_return co_await respond_error(ex, ctx, method_not_allowed("GET"));
      if (server_->draining()) {
        co_return co_await respond_json(ex, ctx, 503, R"({"status":"draining"})");
      }
      co_return co_await respond_json(ex, ctx, 200, R"({"status":"ready"})");
    case Endpoint::kUnknown:
      co_return co_await respond_error(
          ex, ctx,
          Error::not_found("no such endpoint: " + std::string(request.method_string()) + " " +
                               std::string(path.substr(0, 200)) +
                               " (Gatehouse serves /v1/chat/completions, /v1/embeddings, /v1/models)",
                           "unknown_url"));
    case Endpoint::kModels:
    case Endpoint::kModel:
      if (!is_get) co_return co_await respond_error(ex, ctx, method_not_allowed("GET"));
      break;
    case Endpoint::kChat:
    case Endpoint::kEmbeddings:
      if (!is_post) co_return co_await respond_error(ex, ctx, method_not_allowed("POST"));
      break;
  }

  if (auto rejected = snapshot->pipeline.on_request(ctx)) {
    co_return co_await respond_error(ex, ctx, *rejected);
  }
  if (endpoint == Endpoint::kModels) {
    co_return co_await respond_json(ex, ctx, 200, snapshot->models_json);
  }
  if (endpoint == Endpoint::kModel) {
    std::string_view id = path.substr(path.find("/models/") + 8);
    if (auto it = snapshot->model_json.find(id); it != snapshot->model_json.end()) {
      co_return co_await respond_json(ex, ctx, 200, it->second);
    }
    // Not configured: the same 404 model_not_found a completion naming it would get.
    auto missing = snapshot->router.resolve(id);
    co_return co_await respond_error(ex, ctx, std::get<Error>(missing));
  }

  const auto op =
      endpoint == Endpoint::kChat ? api::Operation::kChatCompletions : api::Operation::kEmbeddings;
  auto decoded = api::decode_request(op, request.body());
  if (auto* e = std::get_if<Error>(&decoded)) co_return co_await respond_error(ex, ctx, *e);
  const auto& canonical = std::get<api::CanonicalRequest>(decoded);
  ctx.stream = canonical.stream && op == api::Operation::kChatCompletions;

  auto routed = snapshot->router.resolve(canonical.model);
  if (auto* e = std::get_if<Error>(&routed)) co_return co_await respond_error(ex, ctx, *e);
  ctx.model = canonical.model;

  std::optional<Error> last_error;
  for (const auto& target : std::get<std::vector<route::Target>>(routed)) {
    ctx.provider = target.provider->name;
    const auto& adapter = *snapshot->providers.find(target.provider->name)->second;
    http::UpstreamRequest upstream;
    adapter.prepare(canonical, request.body(), target.model->upstream_model, ex.request_id(), upstream);
    auto& pool = worker.pools->get(adapter.origin());
    last_error = co_await forward(ex, ctx, pool, adapter.timeouts(), upstream);
    if (!last_error) co_return;  // answered (or the client left)
    spdlog::warn("{} upstream {} failed: {}", ex.request_id(), target.provider->name,
                 last_error->message);
  }
  co_await respond_error(ex, ctx, *last_error);
}

}  // namespace gatehouse::app
