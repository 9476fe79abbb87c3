// The record of one MCP tool call: a row in the store (table mcp_calls, `gatehouse logs --mcp`),
// gatehouse_mcp_tool_calls_total{server,tool,outcome} and gatehouse_mcp_tool_call_duration_seconds,
// and an OpenTelemetry span.
#pragma once

#include <cstdint>
#include <string>

namespace gatehouse::runtime {
struct Services;
}

namespace gatehouse::mcp {

struct ToolCallRecord {
  std::string request_id;
  std::int64_t time_ms = 0;        // when the call arrived (unix ms)
  std::string requester, key_name, user, project;
  std::string endpoint;            // the /mcp/{name} route the client used
  std::string server, tool;        // the upstream server and the tool's own name there
  // ok | tool_error (isError: true) | denied | killed | rate_limited | guardrail_blocked |
  // approval_denied | approval_expired | changed_definition | upstream_error | client_gone
  std::string outcome;
  std::string error;               // a message for outcomes other than ok
  double duration_ms = 0;
  std::string arguments, result;   // JSON text; empty unless records.inference_log.payloads (masked)
  std::string guardrails;          // what guardrails did (pipeline Guardrails::summary())
  std::string approval_id;
  // W3C trace context: the client request's span is the parent of the call's.
  std::string traceparent;
};

// Writes the row (when there is a store), counts the metrics and exports the span (when tracing).
// Runs on a worker: never blocks.
void record_tool_call(const runtime::Services& services, const ToolCallRecord& call);

}  // namespace gatehouse::mcp
