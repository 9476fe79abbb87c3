#pragma once

#include "config/config.h"
#include "pipeline/stage.h"

namespace gatehouse::record {
class Metrics;
class TraceExporter;
}  // namespace gatehouse::record

namespace gatehouse::pipeline {

// Prometheus metrics (`metrics: {enabled: true}`): every model request's status, latencies
// (total, upstream, the gateway's own overhead, time to first token), tokens and cost, each
// upstream attempt's outcome, and refusals by limits and budgets. on_request counts it in flight.
class MetricsStage final : public Stage {
 public:
  MetricsStage(const config::Config& config, record::Metrics& metrics) : config_(config), metrics_(metrics) {}
  std::string_view name() const override { return "metrics"; }
  Decision on_request(RequestContext& ctx) const override;
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  const config::Config& config_;
  record::Metrics& metrics_;
};

// Trace context and OpenTelemetry traces (`tracing:`). With an exporter, in on_request the
// request joins the client's trace (a valid W3C traceparent, following its sampled flag) or
// starts one; each upstream attempt gets a child span (on_attempt) whose id goes upstream in
// traceparent; in on_complete the spans, with the GenAI semantic convention attributes, go to the
// exporter (never waiting). Without one (tracing off) or for a request not sampled, a client's
// valid traceparent is passed upstream as it came.
class TracingStage final : public Stage {
 public:
  explicit TracingStage(record::TraceExporter* exporter) : exporter_(exporter) {}
  std::string_view name() const override { return "tracing"; }
  Decision on_request(RequestContext& ctx) const override;
  Decision on_attempt(RequestContext& ctx) const override;
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  record::TraceExporter* exporter_;  // null: tracing off
};

}  // namespace gatehouse::pipeline
