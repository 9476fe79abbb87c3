#include "pipeline/observe.h"

#include "core/trace_context.h"
#include "record/metrics.h"
#include "record/trace.h"

namespace gatehouse::pipeline {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return double(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()) / 1e6;
}

// The GenAI semantic conventions' gen_ai.system for a provider kind.
std::string_view genai_system(config::ProviderKind k) {
  switch (k) {
    case config::ProviderKind::kOpenAICompatible: return "openai";
    case config::ProviderKind::kAnthropic: return "anthropic";
    case config::ProviderKind::kDatabricks: return "databricks";
  }
  return "openai";
}

}  // namespace

Decision MetricsStage::on_request(RequestContext& ctx) const {
  metrics_.in_flight(1);
  ctx.records.counted_in_flight = true;
  return std::nullopt;
}

void MetricsStage::on_complete(RequestContext& ctx) const noexcept {
  // Probes, scrapes and unknown URLs are answered before on_request: not counted either way.
  if (ctx.records.counted_in_flight) metrics_.in_flight(-1);
  if (!ctx.request.model_request && ctx.request.model.empty()) return;
  try {
    record::RequestObservation o;
    // Only configured names become label values: a client cannot grow the series.
    o.model = ctx.request.model_config ? std::string_view(ctx.request.model_config->name) : std::string_view();
    o.provider = ctx.attempted_provider();
    o.shape = traits(ctx.ingress.shape).name;
    o.status = ctx.outcome.status;
    o.stream = ctx.request.stream;
    o.total_s = seconds_between(ctx.ingress.started, std::chrono::steady_clock::now());
    o.upstream_s = double(ctx.upstream.upstream_time.count()) / 1e6;
    if (ctx.upstream.first_token != std::chrono::steady_clock::time_point{}) o.ttft_s = seconds_between(ctx.ingress.started, ctx.upstream.first_token);
    o.input_tokens = ctx.accounting.usage.input_tokens;
    o.output_tokens = ctx.accounting.usage.output_tokens;
    o.cost_usd = ctx.accounting.cost_usd;
    o.error_code = ctx.outcome.error_code;
    metrics_.observe(o);
    for (const auto& a : ctx.upstream.attempt_log) {
      // A fixed set of outcomes (a provider's own error codes would make unbounded series).
      std::string_view outcome = "ok";
      if (!a.error.empty()) {
        outcome = a.error == "upstream_timeout"                                   ? "timeout"
                  : a.error == "upstream_unreachable" || a.error == "upstream_disconnected" ? "connect_error"
                  : a.status == 429                                                ? "429"
                  : a.status >= 500 || a.error == "upstream_auth_failed"           ? "5xx"
                  : a.status >= 400                                                ? "4xx"
                                                                                   : "error";
      }
      metrics_.observe(record::AttemptObservation{a.model, a.provider, outcome});
    }
    for (const auto& h : ctx.guard.hits) {
      metrics_.guardrail_hits(h.guardrail->name, h.entity, guard::to_string(h.action), h.output ? "output" : "input",
                              std::uint64_t(h.count));
    }
    if (ctx.accounting.refused_by.starts_with("budget:")) {
      metrics_.budget_exceeded(std::string_view(ctx.accounting.refused_by).substr(7));
    } else if (!ctx.accounting.refused_by.empty()) {
      metrics_.rate_limited(ctx.accounting.refused_by);
    }
  } catch (...) {
  }
}

namespace {
// The span id of each upstream attempt, by attempt number (1-based).
struct AttemptSpans final : StageState {
  std::vector<std::array<std::uint8_t, 8>> ids;
};
}  // namespace

Decision TracingStage::on_request(RequestContext& ctx) const {
  if (!exporter_) return std::nullopt;
  // Probes and scrapes are not traced (a Prometheus scraping every second is not news).
  if (ctx.ingress.path == "/healthz" || ctx.ingress.path == "/readyz" || ctx.ingress.path == "/metrics" || ctx.ingress.path == "/v1/healthz" ||
      ctx.ingress.path == "/v1/readyz") {
    return std::nullopt;
  }
  auto& t = ctx.records.trace;
  if (auto parent = parse_traceparent(ctx.ingress.traceparent)) {
    // The client's trace, and its decision whether to record it.
    t.sampled = parent->sampled;
    t.trace_id = parent->trace_id;
    t.parent_span_id = parent->parent_id;
  } else {
    t.sampled = true;
    t.trace_id = random_trace_id();
  }
  t.span_id = random_span_id();
  t.start_unix_ns = unix_now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now() - ctx.ingress.started)
                                        .count();
  return std::nullopt;
}

Decision TracingStage::on_attempt(RequestContext& ctx) const {
  auto& cur = ctx.upstream.current;
  const auto& t = ctx.records.trace;
  if (t.sampled) {
    auto& spans = state<AttemptSpans>(ctx).ids;
    const std::size_t at = std::size_t(std::max(cur.number, 1)) - 1;
    if (spans.size() <= at) spans.resize(at + 1);
    spans[at] = random_span_id();
    cur.headers.emplace_back("traceparent", format_traceparent(t.trace_id, spans[at], true));
  } else if (!ctx.ingress.traceparent.empty() && parse_traceparent(ctx.ingress.traceparent)) {
    cur.headers.emplace_back("traceparent", std::string(ctx.ingress.traceparent));
  }
  return std::nullopt;
}

void TracingStage::on_complete(RequestContext& ctx) const noexcept {
  const auto& t = ctx.records.trace;
  if (!exporter_ || !t.sampled) return;
  try {
    std::vector<record::Span> spans;
    const std::string operation = !ctx.request.model_request ? "http"
                                  : ctx.ingress.path.find("embeddings") != std::string_view::npos ? "embeddings"
                                                                                         : "chat";
    record::Span s;
    s.trace_id = t.trace_id;
    s.span_id = t.span_id;
    s.parent_span_id = t.parent_span_id;
    s.kind = 2;  // server
    s.name = ctx.request.model.empty() ? std::string(ctx.ingress.method) + " " + std::string(ctx.ingress.path.substr(0, 100))
                               : operation + " " + ctx.request.model;
    s.start_unix_ns = t.start_unix_ns;
    s.end_unix_ns = unix_now_ns();
    auto attr = [&](std::string k, auto v) { s.attributes.emplace_back(std::move(k), v); };
    attr("http.request.method", std::string(ctx.ingress.method));
    attr("url.path", std::string(ctx.ingress.path.substr(0, 200)));
    attr("http.response.status_code", std::int64_t(ctx.outcome.status));
    attr("gatehouse.request_id", ctx.ingress.request_id);
    if (!ctx.request.model.empty()) {
      attr("gen_ai.operation.name", operation);
      attr("gen_ai.request.model", ctx.request.model);
      if (const auto* served = ctx.attempted_model()) {
        const auto& p = ctx.config->providers.find(ctx.upstream.provider);
        if (p != ctx.config->providers.end()) attr("gen_ai.system", std::string(genai_system(p->second.kind)));
        attr("gen_ai.response.model", served->upstream_model);
        attr("gatehouse.target", served->name);
      }
      if (ctx.request.max_tokens > 0) attr("gen_ai.request.max_tokens", std::int64_t(ctx.request.max_tokens));
      if (ctx.accounting.usage.known || ctx.accounting.usage.estimated) {
        attr("gen_ai.usage.input_tokens", std::int64_t(ctx.accounting.usage.input_tokens));
        attr("gen_ai.usage.output_tokens", std::int64_t(ctx.accounting.usage.output_tokens));
      }
      attr("gatehouse.attempts", std::int64_t(ctx.upstream.attempts));
      if (!ctx.guard.hits.empty()) attr("gatehouse.guardrails", ctx.guard.summary());
      if (!ctx.guard.blocked.empty()) attr("gatehouse.guardrail.blocked", ctx.guard.blocked);
      attr("gatehouse.stream", ctx.request.stream);
      if (ctx.accounting.cost_usd > 0) attr("gatehouse.cost_usd", ctx.accounting.cost_usd);
    }
    if (!ctx.identity.key_name.empty()) attr("gatehouse.key", ctx.identity.key_name);
    if (!ctx.outcome.error_code.empty()) attr("error.type", ctx.outcome.error_code);
    if (ctx.outcome.status >= 500 || ctx.outcome.status == 0) {
      s.status = 2;
      s.status_message = ctx.outcome.error_code;
    }
    spans.push_back(std::move(s));
    const auto* attempt_spans = find_state<AttemptSpans>(ctx);
    for (std::size_t i = 0; i < ctx.upstream.attempt_log.size(); ++i) {
      const auto& a = ctx.upstream.attempt_log[i];
      record::Span c;
      c.trace_id = t.trace_id;
      c.span_id = attempt_spans && i < attempt_spans->ids.size() ? attempt_spans->ids[i] : random_span_id();
      c.parent_span_id = t.span_id;
      c.kind = 3;  // client
      c.name = operation + " " + a.upstream_model;
      c.start_unix_ns = a.start_unix_ns;
      c.end_unix_ns = a.end_unix_ns;
      auto cattr = [&](std::string k, auto v) { c.attributes.emplace_back(std::move(k), v); };
      if (auto p = ctx.config->providers.find(a.provider); p != ctx.config->providers.end()) {
        cattr("gen_ai.system", std::string(genai_system(p->second.kind)));
      }
      cattr("gen_ai.operation.name", operation);
      cattr("gen_ai.request.model", a.upstream_model);
      cattr("gatehouse.target", a.model);
      cattr("gatehouse.provider", a.provider);
      cattr("server.address", a.origin);
      if (a.status) cattr("http.response.status_code", std::int64_t(a.status));
      if (!a.error.empty()) {
        cattr("error.type", a.error);
        c.status = 2;
        c.status_message = a.error;
      }
      spans.push_back(std::move(c));
    }
    exporter_->submit(std::move(spans));
  } catch (...) {
  }
}

}  // namespace gatehouse::pipeline
