#include "mcp/call_record.h"

#include <cmath>
#include <optional>

#include "core/trace_context.h"
#include "record/metrics.h"
#include "record/trace.h"
#include "record/writer.h"
#include "runtime/services.h"

namespace gatehouse::mcp {

namespace {

// The call's span, named and attributed after the OpenTelemetry MCP conventions where they have a
// name (mcp.method.name, gen_ai.tool.name, gen_ai.operation.name, error.type), gatehouse.* for
// the rest (mcp.* is the conventions' namespace). The client request's span is its parent.
record::Span tool_call_span(const ToolCallRecord& call, const TraceId& trace_id, const SpanId& parent) {
  record::Span s;
  s.trace_id = trace_id;
  s.span_id = random_span_id();
  s.parent_span_id = parent;
  s.kind = 2;  // server: the gateway answers the client's tools/call (an upstream call is part of it)
  s.name = "tools/call " + call.tool.substr(0, 128);
  s.start_unix_ns = call.time_ms * 1'000'000;
  s.end_unix_ns = s.start_unix_ns + std::int64_t(std::llround(std::max(0.0, call.duration_ms) * 1e6));
  auto attr = [&](std::string k, auto v) { s.attributes.emplace_back(std::move(k), v); };
  auto text = [&](std::string k, const std::string& v) {
    if (!v.empty()) attr(std::move(k), v);
  };
  attr("mcp.method.name", std::string("tools/call"));
  attr("gen_ai.operation.name", std::string("execute_tool"));
  attr("gen_ai.tool.name", call.tool);
  attr("gatehouse.mcp.server", call.server);
  text("gatehouse.mcp.endpoint", call.endpoint);
  attr("gatehouse.mcp.outcome", call.outcome);
  text("gatehouse.request_id", call.request_id);
  text("gatehouse.requester", call.requester);
  text("gatehouse.key", call.key_name);
  text("gatehouse.project", call.project);
  text("gatehouse.guardrails", call.guardrails);
  text("gatehouse.mcp.approval_id", call.approval_id);
  if (call.outcome != "ok") {
    attr("error.type", call.outcome.empty() ? std::string("_OTHER") : call.outcome);
    s.status = 2;
    s.status_message = call.error.empty() ? call.outcome : call.error.substr(0, 500);
  }
  return s;
}

}  // namespace

void record_tool_call(const runtime::Services& services, const ToolCallRecord& call) {
  // The trace the call belongs to: the client request's (when it sent one; not sampled: no span),
  // else a new one.
  std::string trace_id;
  std::optional<record::Span> span;
  const auto parent = parse_traceparent(call.traceparent);
  if (parent) trace_id = to_hex(parent->trace_id);
  if (services.tracer && (!parent || parent->sampled)) {
    const TraceId id = parent ? parent->trace_id : random_trace_id();
    span = tool_call_span(call, id, parent ? parent->parent_id : SpanId{});
    trace_id = to_hex(id);
  }

  if (services.metrics) {
    services.metrics->observe(record::McpToolCallObservation{call.server, call.tool, call.outcome,
                                                             std::max(0.0, call.duration_ms) / 1000.0});
  }

  if (services.writer) {
    store::McpCallRecord row;
    row.request_id = call.request_id;
    row.time_ms = call.time_ms;
    row.requester = call.requester;
    row.key_name = call.key_name;
    row.user = call.user;
    row.project = call.project;
    row.endpoint = call.endpoint;
    row.server = call.server;
    row.tool = call.tool;
    row.outcome = call.outcome;
    row.error = call.error;
    row.duration_ms = call.duration_ms;
    row.arguments = call.arguments;  // the writer cuts them at max_payload_bytes
    row.result = call.result;
    row.guardrails = call.guardrails;
    row.approval_id = call.approval_id;
    row.trace_id = std::move(trace_id);
    services.writer->submit(std::move(row));
  }

  if (span) {
    std::vector<record::Span> spans;
    spans.push_back(std::move(*span));
    services.tracer->submit(std::move(spans));
  }
}

}  // namespace gatehouse::mcp
