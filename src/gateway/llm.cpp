#include "gateway/llm.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include "gateway/attempt.h"
#include "gateway/classify.h"
#include "pipeline/guard.h"
#include "gateway/respond.h"
#include "gateway/responses_api.h"
#include "pipeline/budget.h"
#include "pipeline/limit.h"
#include "state/shared_state.h"
#include "responses/conversation.h"
#include "translate/translate.h"
#include "pipeline/pipeline.h"
#include "route/failover.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;
using pipeline::Decision;

namespace {

// The output tokens a request without max_tokens is assumed to use until its usage is known.
constexpr long long kDefaultOutputEstimate = 512;
constexpr long long kMaxOutputEstimate = 100'000'000;

// What the stages need to know of a decoded request (ctx.request).
void describe(pipeline::RequestContext& ctx, const api::CanonicalRequest& canonical, std::size_t body_size) {
  auto& req = ctx.request;
  req.op = canonical.op;
  req.stream = canonical.stream && canonical.op != api::Operation::kEmbeddings;
  req.max_tokens = canonical.max_tokens;
  // Token counting is free upstream: no usage row, no limits.
  req.model_request = canonical.op != api::Operation::kCountTokens;
  for (const auto& [k, v] : canonical.usage_context) {
    if (k == "end_user") req.end_user = v.substr(0, 256);
    if (k == "project") req.usage_project = v.substr(0, 256);
  }
  // What limits and budgets reserve before the call (docs/limits.md): about four bytes of
  // request per token, plus the most the answer may have. Capped: a max_tokens of 2^63 must not
  // overflow the counters it is reserved on (a provider refuses such a request anyway).
  req.estimated_input_tokens = static_cast<long long>((body_size + 3) / 4);
  req.estimated_output_tokens = canonical.op == api::Operation::kEmbeddings ? 0
                                : canonical.max_tokens > 0 ? std::min<long long>(canonical.max_tokens, kMaxOutputEstimate)
                                                           : kDefaultOutputEstimate;
}

// The data class: the body's `data_class` (Gatehouse's own field, never forwarded: it is removed
// here) or the x-gatehouse-data-class header. Sets ctx.request.body.
std::optional<Error> take_data_class(pipeline::RequestContext& ctx, api::CanonicalRequest& canonical,
                                     std::string_view header) {
  auto& req = ctx.request;
  std::string_view declared = canonical.has_data_class ? std::string_view(canonical.data_class) : header;
  if (!declared.empty()) {
    req.data_class = config::parse_data_class(declared);
    if (!req.data_class) {
      return Error::bad_request("data_class '" + std::string(declared.substr(0, 64)) +
                                    "' is not one of public, internal, confidential, restricted",
                                "data_class");
    }
  }
  req.body = req.client_body;
  if (canonical.has_data_class) {
    req.body_storage = api::remove_data_class(req.client_body, canonical);
    req.body = req.body_storage;
  }
  return std::nullopt;
}

// A stage replaced the request body: it is decoded again (the replacement must be a request of
// the same shape and endpoint — `op` is the endpoint's: a Databricks invocation decodes as one
// again —; what it says of stream, max_tokens... now holds).
std::optional<Error> decode_replacement(pipeline::RequestContext& ctx, api::Operation op,
                                        api::CanonicalRequest& canonical) {
  std::string& body = ctx.request.body_storage;
  const std::string model = canonical.model;
  auto again = api::decode_request(ctx.ingress.shape, op, body);
  if (auto* e = std::get_if<Error>(&again)) {
    return Error::internal("a stage replaced the request with one that does not decode: " + e->message);
  }
  canonical = std::move(std::get<api::CanonicalRequest>(again));
  canonical.model = model;  // routing already happened
  ctx.request.body = body;
  return std::nullopt;
}

// The model guardrails the input stage left to ask (I/O, so not in a stage): an "unsafe" verdict
// blocks (or, with action log, is only recorded); a classifier that fails or times out lets the
// request through (on_error: allow, logged) or refuses it with a 503 (on_error: block).
asio::awaitable<std::optional<Error>> ask_model_guardrails(http::Exchange& ex, pipeline::RequestContext& ctx,
                                                           const runtime::Snapshot& snapshot) {
  for (const auto& check : ctx.guard.checks) {
    const auto& g = *check.guardrail;
    auto verdict = co_await classify(snapshot, ex, ctx, g, check.text);
    if (auto* e = std::get_if<Error>(&verdict)) {
      spdlog::warn("{} guardrail {}: the classifier ({}) failed: {}; on_error: {}", ctx.ingress.request_id, g.name,
                   g.model, e->message, g.block_on_error ? "block" : "allow");
      ctx.guard.hit(g, "classifier_error", g.block_on_error ? guard::Action::kBlock : guard::Action::kLog, false);
      if (!g.block_on_error) continue;
      Error refusal;
      refusal.kind = ErrorKind::kUnavailable;
      refusal.status = 503;
      refusal.retryable = true;
      refusal.code = "guardrail_unavailable";
      refusal.message = "guardrail '" + g.name + "' could not check the request (its classifier failed: " +
                        to_string(e->kind).data() + "), and it refuses what it cannot check; try again later";
      ctx.guard.blocked = g.name + "/classifier_error";
      co_return refusal;
    }
    const auto& v = std::get<Verdict>(verdict);
    if (v.safe) continue;
    ctx.guard.hit(g, "unsafe", g.action, false);
    if (g.action != guard::Action::kBlock) continue;
    ctx.guard.blocked = g.name + "/unsafe";
    co_return pipeline::guardrail_blocked(g, v.categories.empty() ? "unsafe" : "unsafe (" + v.categories + ")", false);
  }
  co_return std::nullopt;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

// Tries the plan's targets under the failover loop until one answers (attempt() reports what
// happened to the loop), else answers the loop's error.
asio::awaitable<void> serve_plan(LlmRequest& r, const route::Plan& plan) {
  auto& ctx = r.ctx;
  route::Failover failover(plan, *r.snapshot.services.health, ctx.ingress.request_id);
  while (auto step = failover.next()) {
    if (step->delay.count() > 0) co_await sleep_for(step->delay);
    const route::Target& target = *step->target;
    ctx.upstream.provider = target.provider->name;
    ctx.upstream.served_model = target.model;
    ctx.set_response_header("x-gatehouse-target", target.model->name + "/" + target.provider->name);
    AttemptResult result = co_await attempt(r, target, failover);
    switch (result.kind) {
      case AttemptResult::kSkipped: failover.skipped(std::move(*result.error)); break;
      case AttemptResult::kFailed: failover.failed(std::move(*result.error), result.took); break;
      case AttemptResult::kDone: co_return;
    }
  }
  co_await respond_error(r.ex, ctx, failover.error());
}

}  // namespace

// With shared state (state.redis): the limits and budgets the stages left in on_routed, admitted
// together in one Redis round trip (state/shared_state.h); the refusals are the stages' own.
static asio::awaitable<std::optional<Error>> admit_shared(pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot) {
  auto pending = std::move(ctx.accounting.pending_admission);
  if (!snapshot.services.shared) co_return std::nullopt;
  std::shared_ptr<const limit::PendingAdmission> held = pending;  // named: no temporary in co_await
  state::SharedDecision d = co_await snapshot.services.shared->admit(held);
  if (d.source == state::SharedDecision::kUnavailable) {
    Error e;
    e.kind = ErrorKind::kUnavailable;
    e.source = ErrorSource::kGateway;
    e.status = 503;
    e.code = "shared_state_unavailable";
    e.retryable = true;
    e.retry_after_s = 1;
    e.message = "The gateway cannot reach the shared store that counts rate limits and budgets across its replicas, "
                "and is configured to refuse requests until it can (state.redis.on_error: deny); retry shortly";
    ctx.accounting.limit_decision = "refused: shared state unavailable";
    co_return e;
  }
  ctx.accounting.shared_ticket = std::move(d.ticket);
  // As in one process: a spent budget first (the budget stage runs before the limit stage).
  if (!pending->budget_subjects.empty()) {
    pipeline::Decision spent = pipeline::apply_budget_admission(ctx, std::move(d.budgets), pending->checks.size());
    if (spent.kind() == pipeline::Decision::Kind::kRefuse) co_return std::move(spent.error());
  }
  if (!pending->limits.empty()) {
    const std::size_t n = pending->limits.size();
    pipeline::Decision limited = pipeline::apply_limit_admission(ctx, std::move(d.limits), n, pending->tokens);
    if (d.source == state::SharedDecision::kLocal) ctx.accounting.limit_decision += " (this replica only: " + d.why + ")";
    if (limited.kind() == pipeline::Decision::Kind::kRefuse) co_return std::move(limited.error());
  }
  co_return std::nullopt;
}

asio::awaitable<void> serve_llm(http::Exchange& ex, pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot,
                                const Endpoint& endpoint) {
  auto& request = ex.request();
  auto decoded = api::decode_request(endpoint.shape, endpoint.op, request.body());
  if (auto* e = std::get_if<Error>(&decoded)) co_return co_await respond_error(ex, ctx, *e);
  auto& canonical = std::get<api::CanonicalRequest>(decoded);
  // A Databricks invocation's model is the path's; a model in the body is ignored.
  if (endpoint.op == api::Operation::kInvocations) canonical.model = std::string(invocation_model(ctx.ingress.path));
  ctx.request.client_body = request.body();
  describe(ctx, canonical, request.body().size());
  if (auto e = take_data_class(ctx, canonical, request["x-gatehouse-data-class"])) {
    co_return co_await respond_error(ex, ctx, *e);
  }
  // A Responses request that continues an earlier one goes on as the whole conversation, to
  // whichever target serves it (the gateway, not the provider, keeps the conversation).
  ctx.request.store = canonical.store;
  ctx.request.previous_response_id = canonical.previous_response_id;
  if (!canonical.previous_response_id.empty() && ctx.ingress.shape == ApiShape::kResponses) {
    if (auto e = co_await expand_conversation(ctx, snapshot, canonical)) co_return co_await respond_error(ex, ctx, *e);
    describe(ctx, canonical, ctx.request.body.size());  // what limits and budgets reserve: all of it
  }

  auto routed = snapshot.router.resolve(canonical.model);
  if (auto* e = std::get_if<Error>(&routed)) co_return co_await respond_error(ex, ctx, *e);
  const route::Plan& plan = std::get<route::Plan>(routed);
  ctx.request.model = canonical.model;
  ctx.request.model_config = plan.model;
  // Until a target serves it, the first one stands for the request (its price for the budget's
  // estimate). A route's providers are checked per target (on_attempt).
  ctx.upstream.served_model = plan.targets.front().model;
  if (!plan.route) ctx.upstream.provider = plan.targets.front().provider->name;
  bool replaced = false;
  Decision decision = snapshot.pipeline.on_routed(ctx, &replaced);
  if (decision.kind() == Decision::Kind::kRefuse) co_return co_await respond_error(ex, ctx, decision.error());
  if (decision.kind() == Decision::Kind::kAnswer) {
    auto& a = decision.answer();
    co_return co_await respond(ex, ctx, a.status, a.content_type, std::move(a.body));
  }
  if (replaced) {
    if (auto e = decode_replacement(ctx, endpoint.op, canonical)) co_return co_await respond_error(ex, ctx, *e);
  }
  if (ctx.accounting.pending_admission) {
    if (auto e = co_await admit_shared(ctx, snapshot)) co_return co_await respond_error(ex, ctx, *e);
  }
  if (!ctx.guard.checks.empty()) {
    if (auto e = co_await ask_model_guardrails(ex, ctx, snapshot)) co_return co_await respond_error(ex, ctx, *e);
  }

  if (canonical.op == api::Operation::kCountTokens &&
      !snapshot.providers.find(plan.targets.front().provider->name)->second->supports(canonical.op)) {
    // Only Anthropic counts tokens exactly; for other providers an estimate (about four bytes
    // of request per token) is what Claude Code needs to budget its context.
    co_return co_await respond(ex, ctx, 200, "application/json",
                               "{\"input_tokens\":" + std::to_string(std::max<std::size_t>(1, request.body().size() / 4)) + "}");
  }
  LlmRequest r{ex, ctx, snapshot, canonical};
  // A Responses answer made by translation is named here, once for every attempt: the client
  // gets this id, and the gateway stores the answer under it.
  translate::ResponsesAnswer answer;
  if (canonical.op == api::Operation::kResponses) {
    answer.id = responses::new_response_id();
    answer.model = canonical.model;
    answer.created_at = ctx.ingress.started_unix_ms / 1000;
    // As the request went on: a guardrail's masks in `instructions` must not come back (or be
    // stored) unmasked.
    answer.request = ctx.request.body;
    answer.previous_response_id = ctx.request.previous_response_id;
    r.responses = &answer;
  }
  co_await serve_plan(r, plan);
}

}  // namespace gatehouse::gateway
