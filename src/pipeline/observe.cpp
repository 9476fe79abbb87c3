#include "pipeline/observe.h"

#include "core/trace_context.h"
#include "record/metrics.h"
#include "record/trace.h"

namespace gatehouse::pipeline {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return double(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()) / 1e6;
}

std::string_view shape_name(ApiShape s) {
  switch (s) {
    case ApiShape::kOpenAI: return "openai";
    case ApiShape::kAnthropic: return "anthropic";
    case ApiShape::kDatabricks: return "databricks";
  }
  return "openai";
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
  ctx.counted_in_flight = true;
  return std::nullopt;
}

void MetricsStage::on_complete(const RequestContext& ctx) const noexcept {
  // Probes, scrapes and unknown URLs are answered before on_request: not counted either way.
  if (ctx.counted_in_flight) metrics_.in_flight(-1);
  if (!ctx.model_request && ctx.model.empty()) return;
  try {
    record::RequestObservation o;
    // Only configured names become label values: a client cannot grow the series.
    o.model = ctx.model_config ? std::string_view(ctx.model_config->name) : std::string_view();
    o.provider = ctx.attempted_provider();
    o.shape = shape_name(ctx.shape);
    o.status = ctx.status;
    o.stream = ctx.stream;
    o.total_s = seconds_between(ctx.started, std::chrono::steady_clock::now());
    o.upstream_s = double(ctx.upstream_time.count()) / 1e6;
    if (ctx.first_token != std::chrono::steady_clock::time_point{}) o.ttft_s = seconds_between(ctx.started, ctx.first_token);
    o.input_tokens = ctx.usage.input_tokens;
    o.output_tokens = ctx.usage.output_tokens;
    o.cost_usd = ctx.cost_usd;
    o.error_code = ctx.error_code;
    metrics_.observe(o);
    for (const auto& a : ctx.attempt_log) {
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
    if (ctx.refused_by.starts_with("budget:")) {
      metrics_.budget_exceeded(std::string_view(ctx.refused_by).substr(7));
    } else if (!ctx.refused_by.empty()) {
      metrics_.rate_limited(ctx.refused_by);
    }
  } catch (...) {
  }
}

Decision TracingStage::on_request(RequestContext& ctx) const {
  // Probes and scrapes are not traced (a Prometheus scraping every second is not news).
  if (ctx.path == "/healthz" || ctx.path == "/readyz" || ctx.path == "/metrics" || ctx.path == "/v1/healthz" ||
      ctx.path == "/v1/readyz") {
    return std::nullopt;
  }
  auto& t = ctx.trace;
  if (auto parent = parse_traceparent(ctx.traceparent)) {
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
                                        std::chrono::steady_clock::now() - ctx.started)
                                        .count();
  return std::nullopt;
}

void TracingStage::on_complete(const RequestContext& ctx) const noexcept {
  const auto& t = ctx.trace;
  if (!t.sampled) return;
  try {
    std::vector<record::Span> spans;
    const std::string operation = !ctx.model_request ? "http"
                                  : ctx.path.find("embeddings") != std::string_view::npos ? "embeddings"
                                                                                         : "chat";
    record::Span s;
    s.trace_id = t.trace_id;
    s.span_id = t.span_id;
    s.parent_span_id = t.parent_span_id;
    s.kind = 2;  // server
    s.name = ctx.model.empty() ? std::string(ctx.method) + " " + std::string(ctx.path.substr(0, 100))
                               : operation + " " + ctx.model;
    s.start_unix_ns = t.start_unix_ns;
    s.end_unix_ns = unix_now_ns();
    auto attr = [&](std::string k, auto v) { s.attributes.emplace_back(std::move(k), v); };
    attr("http.request.method", std::string(ctx.method));
    attr("url.path", std::string(ctx.path.substr(0, 200)));
    attr("http.response.status_code", std::int64_t(ctx.status));
    attr("gatehouse.request_id", ctx.request_id);
    if (!ctx.model.empty()) {
      attr("gen_ai.operation.name", operation);
      attr("gen_ai.request.model", ctx.model);
      if (const auto* served = ctx.attempted_model()) {
        const auto& p = ctx.config->providers.find(ctx.provider);
        if (p != ctx.config->providers.end()) attr("gen_ai.system", std::string(genai_system(p->second.kind)));
        attr("gen_ai.response.model", served->upstream_model);
        attr("gatehouse.target", served->name);
      }
      if (ctx.max_tokens > 0) attr("gen_ai.request.max_tokens", std::int64_t(ctx.max_tokens));
      if (ctx.usage.known || ctx.usage.estimated) {
        attr("gen_ai.usage.input_tokens", std::int64_t(ctx.usage.input_tokens));
        attr("gen_ai.usage.output_tokens", std::int64_t(ctx.usage.output_tokens));
      }
      attr("gatehouse.attempts", std::int64_t(ctx.attempts));
      attr("gatehouse.stream", ctx.stream);
      if (ctx.cost_usd > 0) attr("gatehouse.cost_usd", ctx.cost_usd);
    }
    if (!ctx.key_name.empty()) attr("gatehouse.key", ctx.key_name);
    if (!ctx.error_code.empty()) attr("error.type", ctx.error_code);
    if (ctx.status >= 500 || ctx.status == 0) {
      s.status = 2;
      s.status_message = ctx.error_code;
    }
    spans.push_back(std::move(s));
    for (const auto& a : ctx.attempt_log) {
      record::Span c;
      c.trace_id = t.trace_id;
      c.span_id = a.span_id;
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
    exporter_.submit(std::move(spans));
  } catch (...) {
  }
}

}  // namespace gatehouse::pipeline
