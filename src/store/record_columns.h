// What the record stores (SQLite, PostgreSQL) share of their SQL: the columns the logs are read
// with, the usage column each summary groups by. Internal to gh_store.
#pragma once

#include "store/record_store.h"

namespace gatehouse::store {

// The columns both engines read back for `gatehouse logs` (InferenceRow), in this order.
inline constexpr const char* kInferenceColumns =
    "id, request_id, request_time, requester, key_name, user_name, project, model, served_model, "
    "provider, "
    "status_code, execution_duration_ms, upstream_duration_ms, time_to_first_token_ms, "
    "input_token_count, "
    "output_token_count, cost_usd, request_streaming, error_code, request, response, "
    "payload_truncated, decisions";
// The same for `gatehouse logs --mcp` (McpCallRow).
inline constexpr const char* kMcpCallColumns =
    "id, request_id, request_time, requester, key_name, user_name, project, endpoint, server, "
    "tool, outcome, error, "
    "duration_ms, arguments, result, payload_truncated, guardrails, approval_id, trace_id";

// The usage table's column for `by` (a fixed name, never a value from outside).
inline const char* group_column(UsageGroup by) {
  switch (by) {
    case UsageGroup::kProject:
      return "project";
    case UsageGroup::kKey:
      return "key_name";
    case UsageGroup::kUser:
      return "user_name";
    case UsageGroup::kModel:
      return "model";
    case UsageGroup::kEndUser:
      return "end_user";
  }
  return "project";
}

}  // namespace gatehouse::store
