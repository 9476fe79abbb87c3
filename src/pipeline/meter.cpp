#include "pipeline/meter.h"

#include "api/usage.h"
#include "limit/price.h"

namespace gatehouse::pipeline {

namespace {

struct MeterState final : StageState {
  explicit MeterState(ApiShape shape) : stream(shape) {}
  api::StreamUsage stream;   // the current attempt's stream, in its provider's shape
  bool strip_usage_chunk = false;  // the gateway asked for the usage the client did not
};

// Whether a stream's usage must be asked for: an OpenAI-compatible provider reports it only
// then, and limits settle on it, budgets charge it. (Databricks puts usage on its chunks unasked;
// a translated request asks in its own way.)
bool must_ask_usage(const RequestContext& ctx) {
  const auto& cur = ctx.upstream.current;
  return !cur.translated && ctx.request.stream && !cur.include_usage && ctx.request.op == api::Operation::kChat &&
         cur.provider && cur.provider->kind == config::ProviderKind::kOpenAICompatible;
}

}  // namespace

Decision MeterStage::on_attempt(RequestContext& ctx) const {
  auto& slot = ctx.slot(this->slot());
  // A whole answer is read in on_response: only a stream needs a reader that outlives a call.
  if (!ctx.request.stream) {
    slot.reset();
    return std::nullopt;
  }
  auto state = std::make_unique<MeterState>(ctx.upstream.current.provider_shape);
  if (must_ask_usage(ctx)) {
    if (auto spans = api::find_spans(ctx.upstream.current.body)) {
      state->strip_usage_chunk = true;
      std::string body = api::with_stream_usage(ctx.upstream.current.body, *spans);
      slot = std::move(state);
      return Decision::replace(std::move(body));
    }
  }
  slot = std::move(state);
  return std::nullopt;
}

Decision MeterStage::on_response(RequestContext& ctx, std::string_view body) const {
  ctx.accounting.usage = api::read_usage(ctx.upstream.current.provider_shape, body);
  return std::nullopt;
}

Decision MeterStage::on_event(RequestContext& ctx, std::string_view event) const {
  auto* s = find_state<MeterState>(ctx);
  if (!s) return std::nullopt;
  const bool usage_only = s->stream.event(event);
  ctx.accounting.usage = s->stream.usage();
  if (usage_only && s->strip_usage_chunk) return Decision::drop();
  return std::nullopt;
}

Decision MeterStage::on_stream_end(RequestContext& ctx) const {
  // The provider ended its stream with an error event (relayed as it is): a failed request.
  if (auto* s = find_state<MeterState>(ctx); s && s->stream.failed()) ctx.outcome.error_code = "upstream_stream_error";
  return std::nullopt;
}

long long MeterStage::relayed_tokens(const RequestContext& ctx) const noexcept {
  const auto* s = find_state<MeterState>(ctx);
  return s ? s->stream.relayed_tokens() : -1;
}

void MeterStage::meter(RequestContext& ctx, long long relayed_output) noexcept {
  auto& usage = ctx.accounting.usage;
  if (!usage.known && ctx.upstream.upstream_answered) {
    // No final usage (Anthropic's message_start says the input, not the output): what it said,
    // but never less than the input's estimate (the provider read the whole request) or the
    // output the stream relayed (or, for a whole answer, the output's estimate).
    const long long output = relayed_output >= 0 ? relayed_output : ctx.request.estimated_output_tokens;
    usage.input_tokens = std::max(usage.input_tokens, ctx.request.estimated_input_tokens);
    usage.output_tokens = std::max(usage.output_tokens, output);
    usage.cached_input_tokens = std::min(usage.cached_input_tokens, usage.input_tokens);
    usage.estimated = true;
  }
  const auto* served = ctx.upstream.served_model;
  ctx.accounting.cost_usd = served ? limit::cost_usd(served->price, usage) : 0;
}

}  // namespace gatehouse::pipeline
