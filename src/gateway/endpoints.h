// The endpoint table: which backend answers a request, by its path (and the methods it takes),
// and for model requests the API shape the client speaks and the operation it asks for. The
// gateway consults it once per request; adding an endpoint is adding a row (endpoints.cpp).
#pragma once

#include <string_view>

#include "api/request.h"
#include "core/error.h"

namespace gatehouse::gateway {

// Who answers: the LLM path (gateway/llm.cpp), the admin API (admin/), the gateway's own
// operational endpoints (gateway/ops.cpp), the MCP gateway (mcp/), stored Responses API answers
// (gateway/responses_api.cpp), or nobody (404).
enum class Backend { kLlm, kAdmin, kConsole, kOps, kMcp, kResponses, kUnknown };

// The operational endpoints.
enum class Ops { kNone, kHealth, kReady, kMetrics, kModels, kModel, kMcpMetadata };

struct Endpoint {
  Backend backend = Backend::kUnknown;
  ApiShape shape = ApiShape::kOpenAI;  // what errors come in (and, for kLlm, what the body is)
  api::Operation op = api::Operation::kChat;  // kLlm only
  Ops ops = Ops::kNone;                // kOps only
  std::string_view allow;              // the methods it takes ("POST", "GET, HEAD"); empty: per route (admin)
};

// The endpoint for `path` (without its query). Clients point their SDK at ".../v1" or at the
// bare host: both prefixes are accepted; so is the OpenAI SDK pointed at a Databricks workspace
// ("{host}/serving-endpoints").
Endpoint endpoint_of(std::string_view path);

// The model a Databricks invocation path names (/serving-endpoints/{model}/invocations).
std::string_view invocation_model(std::string_view path);

// 405 naming the methods an endpoint takes.
Error method_not_allowed(std::string_view allowed);

}  // namespace gatehouse::gateway
