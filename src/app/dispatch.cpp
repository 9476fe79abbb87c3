// Serving a routed model request: the targets of its plan in turn — health and cooldown, retries
// with backoff, fallback on the failures the route names — and one attempt at one target.
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "api/usage.h"
#include "core/trace_context.h"
#include "app/forward.h"
#include "app/gateway.h"
#include "pipeline/kill_switch.h"
#include "provider/oauth.h"
#include "route/health.h"
#include "translate/translate.h"

namespace gatehouse::app {

namespace {

// Which of a route's failure classes an error is; 0 for a failure no other target would fix
// (the request itself is wrong: a 4xx).
unsigned failure_class(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kUpstreamTimeout: return config::kFailTimeout;
    case ErrorKind::kUpstreamConnect:
    case ErrorKind::kUpstreamReset: return config::kFailConnect;
    case ErrorKind::kUpstreamProtocol: return config::kFail5xx;
    case ErrorKind::kRateLimited:
    case ErrorKind::kUpstreamStatus:
      if (e.source != ErrorSource::kUpstream) return 0;
      if (e.upstream_status == 429) return config::kFail429;
      // 5xx, and 401/403 (shown as 502: this target's credential is refused; another may work).
      return e.status >= 500 ? unsigned(config::kFail5xx) : 0u;
    default: return 0;
  }
}

// One line per target for the 503 that ends a route whose every target failed: what happened,
// never a credential (gateway messages never hold one; a provider's message is cut short).
std::string summary_of(const Error& e) {
  std::string what = e.code.empty() ? std::string(to_string(e.kind)) : e.code;
  if (e.upstream_status) what += " (HTTP " + std::to_string(e.upstream_status) + ")";
  std::string msg = e.message.substr(0, 160);
  return what + ": " + msg;
}

http::CallTimeouts timeouts_for(const route::Target& target, http::CallTimeouts t) {
  if (!target.settings) return t;
  const auto& s = *target.settings;
  if (s.connect) t.connect = *s.connect;
  if (s.first_byte) t.first_byte = *s.first_byte;
  if (s.idle) t.idle = *s.idle;
  if (s.total) t.total = *s.total;
  return t;
}

// Exponential backoff with jitter: backoff * 2^(retry-1), times a random factor in [0.5, 1.5).
std::chrono::milliseconds backoff_for(const config::RouteConfig& route, int retry) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const double base = double(route.backoff.count()) * double(1u << std::min(retry - 1, 10));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return std::chrono::milliseconds(static_cast<long long>(base * jitter(rng)));
}

void set_header(pipeline::RequestContext& ctx, std::string_view name, std::string value) {
  for (auto& [n, v] : ctx.response_headers) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  ctx.response_headers.emplace_back(std::string(name), std::move(value));
}

}  // namespace

asio::awaitable<Gateway::Attempt> Gateway::attempt(http::Exchange& ex, pipeline::RequestContext& ctx,
                                                   const Snapshot& snapshot, const route::Target& target,
                                                   api::CanonicalRequest& canonical,
                                                   std::string_view client_body,
                                                   const std::function<void()>& answered) {
  auto& worker = workers_[ex.worker()];
  const auto& adapter = *snapshot.providers.find(target.provider->name)->second;
  const auto client_wire = ctx.shape == ApiShape::kAnthropic ? provider::Wire::kAnthropic : provider::Wire::kOpenAI;
  const std::string& model_name = target.model->name;
  if (!adapter.supports(canonical.op)) {
    co_return Attempt{Error::bad_request("model '" + model_name + "' is served by provider '" + target.provider->name +
                                             "' (" + std::string(config::to_string(target.provider->kind)) +
                                             "), which does not serve this operation",
                                         "model"),
                      true};
  }
  if (target.provider->auth_passthrough && !ctx.jwt) {
    co_return Attempt{Error::forbidden("model '" + model_name + "' is served on behalf of its caller (provider '" +
                                           target.provider->name +
                                           "' forwards the caller's own token): call it with a token from your "
                                           "identity provider, not a gateway key",
                                       "permission_denied"),
                      true};
  }
  if (ctx.data_class && target.model->max_data_class && *ctx.data_class > *target.model->max_data_class) {
    co_return Attempt{Error::forbidden("data class '" + std::string(config::to_string(*ctx.data_class)) +
                                           "' may not be sent to model '" + model_name + "' (at most '" +
                                           std::string(config::to_string(*target.model->max_data_class)) + "')",
                                       "permission_denied"),
                      true};
  }

  // Same shape on both sides: the client's bytes pass through. Otherwise translate.
  const api::CanonicalRequest* outgoing_request = &canonical;
  std::string_view outgoing_body = client_body;
  api::CanonicalRequest translated_request;
  std::string translated_body;
  std::unique_ptr<translate::ResponseTranslator> translator;
  if (adapter.wire() != client_wire) {
    auto t = client_wire == provider::Wire::kOpenAI
                 ? translate::openai_request_to_anthropic(client_body, target.provider->default_max_tokens)
                 : translate::anthropic_request_to_openai(client_body, {.reasoning_effort = target.model->reasoning_effort});
    if (auto* e = std::get_if<Error>(&t)) co_return Attempt{std::move(*e), true};
    translated_body = std::move(std::get<std::string>(t));
    translated_request = canonical;
    translated_request.model_length = 0;  // the translation has no model member
    translated_request.object_start = 1;
    outgoing_request = &translated_request;
    outgoing_body = translated_body;
    translator = client_wire == provider::Wire::kOpenAI
                     ? translate::anthropic_response_to_openai(canonical.include_usage)
                     : translate::openai_response_to_anthropic();
  }
  Metering metering;
  metering.answered = &answered;
  metering.wire = adapter.wire() == provider::Wire::kAnthropic ? api::UsageWire::kAnthropic : api::UsageWire::kOpenAI;
  // A stream's usage must be known (limits settle on it, budgets charge it): an OpenAI-compatible
  // provider reports it only when asked, so it is asked, and its usage-only chunk kept from a
  // client that did not ask. (Databricks puts usage on its chunks unasked.)
  std::string usage_body;
  if (!translator && ctx.stream && !canonical.include_usage &&
      target.provider->kind == config::ProviderKind::kOpenAICompatible &&
      canonical.op == api::Operation::kChatCompletions) {
    translated_request = canonical;
    usage_body = api::with_stream_usage(outgoing_body, translated_request);
    outgoing_request = &translated_request;
    outgoing_body = usage_body;
    metering.strip_usage_chunk = true;
  }

  auto& pool = worker.pools->get(adapter.origin());
  const http::CallTimeouts timeouts = timeouts_for(target, adapter.timeouts());
  std::optional<Error> error;
  // An OAuth token the provider refuses is refreshed, and the request retried, once.
  for (int oauth_try = 0; oauth_try < 2; ++oauth_try) {
    std::string token;
    if (target.provider->auth_passthrough) {
      token = std::string(ctx.bearer);  // on behalf of the caller: its own (verified) JWT
    } else if (auto* oauth = adapter.oauth()) {
      auto t = co_await oauth->token(*worker.pools);
      if (auto* e = std::get_if<Error>(&t)) co_return Attempt{std::move(*e), false};
      token = std::move(std::get<std::string>(t));
    }
    http::UpstreamRequest upstream;
    adapter.prepare(provider::Outgoing{*outgoing_request, outgoing_body, target.model->upstream_model,
                                       ex.request_id(), token, translator ? nullptr : &ex.request()},
                    upstream);
    ++ctx.attempts;
    set_header(ctx, "x-gatehouse-attempts", std::to_string(ctx.attempts));
    pipeline::RequestContext::AttemptRecord rec;
    rec.model = model_name;
    rec.provider = target.provider->name;
    rec.upstream_model = target.model->upstream_model;
    rec.origin = target.provider->host + ":" + target.provider->port;
    rec.span_id = random_span_id();
    rec.start_unix_ns = unix_now_ns();
    // W3C trace context goes upstream: this attempt's span when the request is traced, else the
    // client's own traceparent as it came.
    if (ctx.trace.sampled) {
      upstream.set("traceparent", format_traceparent(ctx.trace.trace_id, rec.span_id, true));
    } else if (!ctx.traceparent.empty() && parse_traceparent(ctx.traceparent)) {
      upstream.set("traceparent", ctx.traceparent);
    }
    error = co_await forward(ex, ctx, pool, timeouts, upstream, translator.get(), metering);
    rec.end_unix_ns = unix_now_ns();
    rec.status = error ? error->upstream_status : ctx.status;
    rec.error = error ? (error->code.empty() ? std::string(to_string(error->kind)) : error->code) : std::string();
    ctx.attempt_log.push_back(std::move(rec));
    if (!error) co_return Attempt{};
    if (oauth_try == 0 && adapter.oauth() && !target.provider->auth_passthrough && error->upstream_status == 401) {
      spdlog::info("{} provider {} refused its OAuth token; fetching a new one", ex.request_id(), target.provider->name);
      adapter.oauth()->rejected(token);
      continue;
    }
    break;
  }
  co_return Attempt{std::move(error), false};
}

asio::awaitable<void> Gateway::serve(http::Exchange& ex, pipeline::RequestContext& ctx, const Snapshot& snapshot,
                                     const route::Plan& plan, api::CanonicalRequest& canonical,
                                     std::string_view client_body) {
  auto& health = *snapshot.services.health;
  const auto* route = plan.route;
  std::optional<Error> last_error;
  std::vector<std::string> summaries;  // a route's failures, one per target tried or skipped
  bool failed_upstream = false;        // some target was tried and failed, or skipped as unhealthy
  for (const auto& target : plan.targets) {
    const std::string& name = target.model->name;
    route::TargetHealth::Pass pass;  // a route target's: whether this request holds its probe
    // A probe is handed back however this iteration ends without a verdict (an exception, a
    // cancelled backoff): a target must never stay "probing" for ever.
    struct ProbeGuard {
      route::TargetHealth& health;
      const std::string& name;
      route::TargetHealth::Pass& pass;
      ~ProbeGuard() {
        if (pass.probe) health.release(name, true);
      }
    } probe_guard{health, name, pass};
    ctx.provider = target.provider->name;
    ctx.served_model = target.model;
    set_header(ctx, "x-gatehouse-target", name + "/" + target.provider->name);
    if (route) {
      if (auto kill = snapshot.services.kills->match(name, target.provider->name, {}, {})) {
        last_error = pipeline::kill_error(*kill);
        summaries.push_back(name + ": switched off by an administrator (" + kill->id + ")");
        continue;
      }
      std::string why;
      pass = health.acquire(name, why);
      if (!pass) {
        summaries.push_back(name + ": " + why);
        failed_upstream = true;
        continue;
      }
    }
    const int tries = route ? 1 + route->retries : 1;
    for (int t = 0; t < tries; ++t) {
      if (t > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, backoff_for(*route, t));
        co_await timer.async_wait(asio::use_awaitable);
      }
      const auto started = std::chrono::steady_clock::now();
      auto elapsed = [&] {
        return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      };
      // The provider's whole answer is in (forward calls this only then): the target's success is
      // recorded before the client has its last bytes, so that the client's next request finds it
      // (a probe that brought it back).
      bool succeeded = false;
      const std::function<void()> answered = [&] {
        if (!route || succeeded) return;
        health.success(name, ctx.stream ? ctx.upstream_first_byte : elapsed());
        pass.probe = false;
        succeeded = true;
      };
      Attempt a = co_await attempt(ex, ctx, snapshot, target, canonical, client_body, answered);
      const auto took = elapsed();
      if (succeeded) co_return;
      if (!a.error || ex.client_gone()) {
        if (route) {
          if (a.error || (ctx.client_gone && !ctx.upstream_answered)) {
            health.release(name, pass.probe);  // no verdict: the client left first
          } else if (!ctx.error_code.empty()) {
            // The stream started, then the provider failed: too late to fall back, not too late
            // to count against the target.
            health.failure(name, route->cooldown_failures, route->cooldown, -1,
                           "the stream broke after it started (" + ctx.error_code + ")", pass.probe);
          } else {
            // Streams: time to the first byte; whole answers: the whole exchange.
            health.success(name, ctx.stream ? ctx.upstream_first_byte : took);
          }
          pass.probe = false;
        }
        co_return;  // answered (or the client left)
      }
      last_error = std::move(a.error);
      if (a.ineligible) {
        if (route) health.release(name, pass.probe);
        pass.probe = false;
        summaries.push_back(name + ": " + last_error->message.substr(0, 160));
        break;  // the next target may serve it
      }
      const unsigned cls = failure_class(*last_error);
      if (!route) {
        spdlog::warn("{} upstream {} failed: {}", ex.request_id(), ctx.provider, last_error->message);
        co_return co_await respond_error(ex, ctx, *last_error);
      }
      if (cls == 0) {
        // The target answered; the request is what is wrong: no other target would do better.
        health.success(name, took);
        pass.probe = false;
        co_return co_await respond_error(ex, ctx, *last_error);
      }
      const std::string summary = summary_of(*last_error);
      if (!(route->fallback_on & cls)) {
        // Not a failure this route retries or falls back on: the client gets it as it is.
        health.failure(name, route->cooldown_failures, route->cooldown, -1, summary, pass.probe);
        pass.probe = false;
        spdlog::warn("{} route {}: target {} ({}) failed: {}", ex.request_id(), plan.model->name, name, ctx.provider,
                     summary);
        co_return co_await respond_error(ex, ctx, *last_error);
      }
      // A 429 is not retried on the spot: the next target is tried (a Retry-After cools this one).
      const bool retry_here = cls != config::kFail429 && t + 1 < tries;
      spdlog::warn("{} route {}: target {} ({}) failed{}: {}", ex.request_id(), plan.model->name, name, ctx.provider,
                   retry_here ? ", retrying" : "", summary);
      if (retry_here) continue;
      health.failure(name, route->cooldown_failures, route->cooldown,
                     cls == config::kFail429 ? last_error->retry_after_s : -1, summary, pass.probe);
      pass.probe = false;
      summaries.push_back(name + ": " + summary);
      failed_upstream = true;
      break;
    }
  }
  if (!failed_upstream) {
    // No target could take the request at all (an operation none serves, a kill, OBO without a
    // JWT): that reason, as it is.
    co_return co_await respond_error(ex, ctx, *last_error);
  }
  // Every target of the route failed or was skipped.
  Error e;
  e.kind = ErrorKind::kUnavailable;
  e.source = ErrorSource::kGateway;
  e.retryable = true;
  e.status = 503;
  e.code = "all_targets_failed";
  e.message = "every target of model '" + plan.model->name + "' failed: ";
  for (std::size_t i = 0; i < summaries.size(); ++i) e.message += (i ? "; " : "") + summaries[i];
  co_return co_await respond_error(ex, ctx, e);
}

}  // namespace gatehouse::app
