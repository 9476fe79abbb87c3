#pragma once

#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// Metering: what the request used and what it costs (ctx.accounting.usage, cost_usd). It reads
// the usage the provider reports in its own shape, before any translation: from a whole answer
// (on_response) or from its stream's events (on_event: OpenAI's final usage chunk, the running
// usage Databricks puts on every chunk, Anthropic's message_start and message_delta). An
// OpenAI-compatible provider reports a stream's usage only when asked, so on_attempt asks for it
// (stream_options.include_usage) when the client did not, and on_event keeps that usage-only
// chunk from the client. A provider's error event inside its stream marks the request failed
// (upstream_stream_error; the route counts it against the target). When the answer is settled
// the cost is priced at the served model's price, with the gateway's estimate standing in for a
// provider that accepted the request and said nothing (it may bill it). Placed after the limit
// and budget stages: its on_settled runs before theirs (reverse order), so they settle on it.
class MeterStage final : public Stage {
 public:
  std::string_view name() const override { return "meter"; }
  Decision on_attempt(RequestContext& ctx) const override;
  Decision on_response(RequestContext& ctx, std::string_view body) const override;
  Decision on_event(RequestContext& ctx, std::string_view event) const override;
  Decision on_stream_end(RequestContext& ctx) const override;
  void on_settled(RequestContext& ctx) const noexcept override { meter(ctx, relayed_tokens(ctx)); }
  void on_complete(RequestContext& ctx) const noexcept override { meter(ctx, relayed_tokens(ctx)); }

  // The request's usage and cost, once the provider's answer is over: the provider's report;
  // when it accepted the request but reported nothing (a stream cut short, by the client or the
  // provider, or a provider that never reports), what it said and the estimate of the input, and
  // for the output the tokens its stream relayed (`relayed_output`, -1 for a whole answer: then
  // the estimate, max_tokens or the default); nothing when no provider accepted it. The same
  // however often it runs.
  static void meter(RequestContext& ctx, long long relayed_output = -1) noexcept;

 private:
  // The output the current attempt's stream relayed, in tokens; -1 when it is not a stream.
  long long relayed_tokens(const RequestContext& ctx) const noexcept;
};

}  // namespace gatehouse::pipeline
