#include "app/gateway.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "api/errors.h"
#include "api/openai.h"
#include "app/admin.h"
#include "app/forward.h"
#include "app/metrics_page.h"
#include "core/request_id.h"
#include "limit/clock.h"
#include "limit/price.h"
#include "pipeline/authorize.h"
#include "provider/oauth.h"
#include "translate/translate.h"

namespace gatehouse::app {

namespace bhttp = boost::beast::http;

namespace {

enum class Endpoint {
  kChat,
  kEmbeddings,
  kMessages,     // Anthropic: POST /v1/messages
  kCountTokens,  // Anthropic: POST /v1/messages/count_tokens
  kInvocations,  // Databricks: POST /serving-endpoints/{name}/invocations
  kModels,
  kModel,
  kAdmin,        // /admin/v1/...
  kHealth,
  kReady,
  kMetrics,      // Prometheus, GET /metrics
  kUnknown
};

constexpr std::string_view kServing = "/serving-endpoints/";
constexpr std::string_view kInvocations = "/invocations";

// Clients point their SDK at ".../v1" or at the bare host; both prefixes are accepted. The
// OpenAI SDK pointed at a Databricks workspace ("{host}/serving-endpoints") is accepted too.
Endpoint endpoint_of(std::string_view path) {
  if (path.starts_with(kServing)) {
    std::string_view rest = path.substr(kServing.size());
    if (rest == "chat/completions") return Endpoint::kChat;
    if (rest == "embeddings") return Endpoint::kEmbeddings;
    if (rest.ends_with(kInvocations) && rest.size() > kInvocations.size() &&
        rest.find('/') == rest.size() - kInvocations.size()) {
      return Endpoint::kInvocations;
    }
    return Endpoint::kUnknown;
  }
  if (path.starts_with("/admin/v1/")) return Endpoint::kAdmin;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  if (path == "/chat/completions") return Endpoint::kChat;
  if (path == "/embeddings") return Endpoint::kEmbeddings;
  if (path == "/messages") return Endpoint::kMessages;
  if (path == "/messages/count_tokens") return Endpoint::kCountTokens;
  if (path == "/models") return Endpoint::kModels;
  if (path.starts_with("/models/") && path.size() > 8) return Endpoint::kModel;
  if (path == "/healthz") return Endpoint::kHealth;
  if (path == "/metrics") return Endpoint::kMetrics;
  if (path == "/readyz") return Endpoint::kReady;
  return Endpoint::kUnknown;
}

ApiShape shape_of(Endpoint endpoint) {
  if (endpoint == Endpoint::kMessages || endpoint == Endpoint::kCountTokens) return ApiShape::kAnthropic;
  if (endpoint == Endpoint::kInvocations) return ApiShape::kDatabricks;
  return ApiShape::kOpenAI;
}

bool is_post_endpoint(Endpoint e) {
  return e == Endpoint::kChat || e == Endpoint::kEmbeddings || e == Endpoint::kMessages ||
         e == Endpoint::kCountTokens || e == Endpoint::kInvocations;
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
  return is_post_endpoint(endpoint) ? "POST" : "GET, HEAD";
}

// The output tokens a request without max_tokens is assumed to use until its usage is known.
constexpr long long kDefaultOutputEstimate = 512;
constexpr long long kMaxOutputEstimate = 100'000'000;

}  // namespace

Gateway::Gateway(std::shared_ptr<const Snapshot> snapshot) : initial_(std::move(snapshot)) {}

void Gateway::attach(http::Server& server) {
  server_ = &server;
  workers_.resize(server.workers());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i].snapshot = initial_;
    workers_[i].pools = std::make_unique<http::UpstreamPools>(server.context(i));
  }
  published_.push_back(std::move(initial_));
}

void Gateway::publish(std::shared_ptr<const Snapshot> snapshot) {
  // Snapshots no worker or request holds any more die here, on the control thread: the last
  // reference must never be dropped on a worker, where a retired record writer would write its
  // whole queue (or a trace exporter send its last batch) while that worker's connections wait.
  std::erase_if(published_, [](const auto& s) { return s.use_count() == 1; });
  published_.push_back(snapshot);
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
  res.body() = api::encode_error(ApiShape::kOpenAI, error);
  return res;
}

asio::awaitable<void> Gateway::respond_error(http::Exchange& ex, pipeline::RequestContext& ctx,
                                             const Error& error) {
  ctx.status = error.status;
  ctx.error_code = error.code.empty() ? std::string(to_string(error.kind)) : error.code;
  settle(ctx);  // a refusal or a failure frees its reservations before the client hears of it
  http::Response res{static_cast<bhttp::status>(error.status), 11};
  add_context_headers(ctx, res);
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-request-id", ex.request_id());
  if (ctx.shape == ApiShape::kAnthropic) res.set("request-id", ex.request_id());
  if (error.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(error.retry_after_s));
  res.body() = api::encode_error(ctx.shape, error);
  capture_response(ctx, res.body());
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
  ctx.traceparent = request["traceparent"];
  ctx.api_key = request["x-api-key"];
  ctx.config = snapshot->config.get();
  ctx.pipeline = &snapshot->pipeline;
  ctx.started = ex.started();
  ctx.started_unix_ms = limit::system_now_ms();
  // on_complete runs exactly once, however this coroutine ends, after the usage is metered.
  struct Complete {
    const pipeline::Pipeline& p;
    pipeline::RequestContext& c;
    ~Complete() {
      meter(c);
      p.on_complete(c);
    }
  } complete{snapshot->pipeline, ctx};

  const Endpoint endpoint = endpoint_of(path);
  ctx.shape = shape_of(endpoint);
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
    case Endpoint::kMetrics:
      if (snapshot->config->metrics.enabled) {
        if (!is_get) co_return co_await respond_error(ex, ctx, method_not_allowed("GET"));
        ctx.status = 200;
        http::Response res{bhttp::status::ok, 11};
        res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = render_metrics(*snapshot);
        co_await ex.respond(res);
        co_return;
      }
      [[fallthrough]];  // without metrics, an unknown URL
    case Endpoint::kUnknown: {
      Error unknown = Error::not_found("no such endpoint: " + std::string(request.method_string()) + " " +
                                           std::string(path.substr(0, 200)) +
                                           " (Gatehouse serves /v1/chat/completions, /v1/embeddings, /v1/models, "
                                           "/v1/messages and /serving-endpoints/{model}/invocations)",
                                       "unknown_url");
      co_return co_await respond_error(ex, ctx, unknown);
    }
    case Endpoint::kModels:
    case Endpoint::kModel:
      if (!is_get) co_return co_await respond_error(ex, ctx, method_not_allowed("GET"));
      break;
    case Endpoint::kAdmin:
      break;  // methods are checked per admin endpoint
    case Endpoint::kChat:
    case Endpoint::kEmbeddings:
    case Endpoint::kMessages:
    case Endpoint::kCountTokens:
    case Endpoint::kInvocations:
      if (!is_post) co_return co_await respond_error(ex, ctx, method_not_allowed("POST"));
      break;
  }

  if (auto rejected = snapshot->pipeline.on_request(ctx)) {
    co_return co_await respond_error(ex, ctx, *rejected);
  }
  if (endpoint == Endpoint::kAdmin) {
    auto answer = co_await handle_admin(request, path, ctx, *snapshot);
    if (auto* e = std::get_if<Error>(&answer)) co_return co_await respond_error(ex, ctx, *e);
    auto& a = std::get<AdminAnswer>(answer);
    co_return co_await respond_json(ex, ctx, a.status, std::move(a.body));
  }
  if (endpoint == Endpoint::kModels) {
    // With roles, a caller sees only the models it may use.
    // Named, not a conditional expression inside co_await: GCC 12 destroys a temporary made by
    // `a ? f() : copy` in a co_await argument twice (double free, seen under ASan).
    std::string body =
        snapshot->config->roles_defined ? snapshot->models_json_for(ctx.roles) : snapshot->models_json;
    co_return co_await respond_json(ex, ctx, 200, std::move(body));
  }
  if (endpoint == Endpoint::kModel) {
    std::string_view id = path.substr(path.find("/models/") + 8);
    bool visible = !snapshot->config->roles_defined || pipeline::AuthorizeStage::allows(ctx.roles, id);
    if (auto it = snapshot->model_json.find(id); visible && it != snapshot->model_json.end()) {
      co_return co_await respond_json(ex, ctx, 200, it->second);
    }
    // Not configured, or not the caller's to see: the same 404 model_not_found a completion
    // naming an unknown model gets (a hidden model's existence is not revealed).
    co_return co_await respond_error(ex, ctx, route::model_not_found(id));
  }

  api::Operation op = api::Operation::kChatCompletions;
  if (endpoint == Endpoint::kEmbeddings) op = api::Operation::kEmbeddings;
  if (endpoint == Endpoint::kMessages) op = api::Operation::kMessages;
  if (endpoint == Endpoint::kCountTokens) op = api::Operation::kCountTokens;
  if (endpoint == Endpoint::kInvocations) op = api::Operation::kInvocations;
  auto decoded = api::decode_request(op, request.body());
  if (auto* e = std::get_if<Error>(&decoded)) co_return co_await respond_error(ex, ctx, *e);
  auto& canonical = std::get<api::CanonicalRequest>(decoded);
  if (endpoint == Endpoint::kInvocations) {
    // The endpoint in the path is the model; a model in the body is ignored.
    std::string_view rest = path.substr(kServing.size());
    canonical.model = std::string(rest.substr(0, rest.size() - kInvocations.size()));
  }
  ctx.stream = canonical.stream && canonical.op != api::Operation::kEmbeddings;
  ctx.max_tokens = canonical.max_tokens;
  // Token counting is free upstream: no usage row, no limits.
  ctx.model_request = canonical.op != api::Operation::kCountTokens;
  for (const auto& [k, v] : canonical.usage_context) {
    if (k == "end_user") ctx.end_user = v.substr(0, 256);
    if (k == "project") ctx.usage_project = v.substr(0, 256);
  }
  // What limits and budgets reserve before the call (docs/limits.md): about four bytes of
  // request per token, plus the most the answer may have.
  ctx.estimated_input_tokens = static_cast<long long>((request.body().size() + 3) / 4);
  // Capped: a max_tokens of 2^63 must not overflow the counters it is reserved on (a provider
  // refuses such a request anyway; the cap only bounds what is reserved until it does).
  ctx.estimated_output_tokens = canonical.op == api::Operation::kEmbeddings ? 0
                                : canonical.max_tokens > 0 ? std::min<long long>(canonical.max_tokens, kMaxOutputEstimate)
                                                           : kDefaultOutputEstimate;

  // The data class: the body's `data_class` (Gatehouse's own field, never forwarded) or the
  // x-gatehouse-data-class header.
  std::string_view client_body = request.body();
  ctx.request_body = client_body;
  std::string stripped_body;
  {
    std::string_view declared = canonical.has_data_class
                                    ? std::string_view(canonical.data_class)
                                    : std::string_view(request["x-gatehouse-data-class"]);
    if (!declared.empty()) {
      ctx.data_class = config::parse_data_class(declared);
      if (!ctx.data_class) {
        co_return co_await respond_error(
            ex, ctx,
            Error::bad_request("data_class '" + std::string(declared.substr(0, 64)) +
                                   "' is not one of public, internal, confidential, restricted",
                               "data_class"));
      }
    }
    if (canonical.has_data_class) {
      stripped_body = api::remove_data_class(client_body, canonical);
      client_body = stripped_body;
    }
  }

  auto routed = snapshot->router.resolve(canonical.model);
  if (auto* e = std::get_if<Error>(&routed)) co_return co_await respond_error(ex, ctx, *e);
  const route::Plan& plan = std::get<route::Plan>(routed);
  ctx.model = canonical.model;
  ctx.model_config = plan.model;
  // Until a target serves it, the first one stands for the request (its price for the budget's
  // estimate). A route's providers are checked per target (a killed one is skipped).
  ctx.served_model = plan.targets.front().model;
  if (!plan.route) ctx.provider = plan.targets.front().provider->name;
  if (auto rejected = snapshot->pipeline.on_routed(ctx)) {
    co_return co_await respond_error(ex, ctx, *rejected);
  }

  if (canonical.op == api::Operation::kCountTokens) {
    const auto& first = plan.targets.front();
    if (!snapshot->providers.find(first.provider->name)->second->supports(canonical.op)) {
      // Only Anthropic counts tokens exactly; for other providers an estimate (about four
      // bytes of request per token) is what Claude Code needs to budget its context.
      co_return co_await respond_json(
          ex, ctx, 200,
          "{\"input_tokens\":" + std::to_string(std::max<std::size_t>(1, request.body().size() / 4)) + "}");
    }
  }

  co_await serve(ex, ctx, *snapshot, plan, canonical, client_body);
}

}  // namespace gatehouse::app
