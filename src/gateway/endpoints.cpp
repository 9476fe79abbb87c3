#include "gateway/endpoints.h"

#include <array>

namespace gatehouse::gateway {

namespace {

using api::Operation;

constexpr std::string_view kServing = "/serving-endpoints/";
constexpr std::string_view kInvocations = "/invocations";
constexpr std::string_view kPost = "POST";
constexpr std::string_view kGet = "GET, HEAD";

struct Row {
  std::string_view path;  // after the optional /v1 prefix
  Endpoint endpoint;
};

// Model requests and operational endpoints with a fixed path.
constexpr std::array kRows{
    Row{"/chat/completions", {Backend::kLlm, ApiShape::kOpenAI, Operation::kChat, Ops::kNone, kPost}},
    Row{"/embeddings", {Backend::kLlm, ApiShape::kOpenAI, Operation::kEmbeddings, Ops::kNone, kPost}},
    Row{"/responses", {Backend::kLlm, ApiShape::kResponses, Operation::kResponses, Ops::kNone, kPost}},
    Row{"/messages", {Backend::kLlm, ApiShape::kAnthropic, Operation::kChat, Ops::kNone, kPost}},
    Row{"/messages/count_tokens", {Backend::kLlm, ApiShape::kAnthropic, Operation::kCountTokens, Ops::kNone, kPost}},
    Row{"/models", {Backend::kOps, ApiShape::kOpenAI, Operation::kChat, Ops::kModels, kGet}},
    Row{"/healthz", {Backend::kOps, ApiShape::kOpenAI, Operation::kChat, Ops::kHealth, kGet}},
    Row{"/readyz", {Backend::kOps, ApiShape::kOpenAI, Operation::kChat, Ops::kReady, kGet}},
    Row{"/metrics", {Backend::kOps, ApiShape::kOpenAI, Operation::kChat, Ops::kMetrics, kGet}},
};

// A stored response: GET/DELETE /responses/{id}, GET /responses/{id}/input_items (methods
// checked by gateway/responses_api.cpp).
constexpr Endpoint kStoredResponse{Backend::kResponses, ApiShape::kResponses, Operation::kResponses, Ops::kNone, {}};

// Under {host}/serving-endpoints/: the OpenAI SDK pointed at a workspace, and invocations.
Endpoint serving_endpoint(std::string_view rest) {
  if (rest == "chat/completions") return kRows[0].endpoint;
  if (rest == "embeddings") return kRows[1].endpoint;
  if (rest == "responses") return kRows[2].endpoint;
  if (rest.ends_with(kInvocations) && rest.size() > kInvocations.size() &&
      rest.find('/') == rest.size() - kInvocations.size()) {
    return {Backend::kLlm, ApiShape::kDatabricks, Operation::kInvocations, Ops::kNone, kPost};
  }
  if (rest.starts_with("responses/") && rest.size() > 10) return kStoredResponse;
  return {};
}

}  // namespace

Endpoint endpoint_of(std::string_view path) {
  if (path.starts_with(kServing)) return serving_endpoint(path.substr(kServing.size()));
  if (path.starts_with("/admin/v1/")) return {Backend::kAdmin, ApiShape::kOpenAI, Operation::kChat, Ops::kNone, {}};
  if (path == "/ui" || path.starts_with("/ui/")) return {Backend::kConsole, ApiShape::kOpenAI, Operation::kChat, Ops::kNone, kGet};
  // MCP: /mcp/{name} (POST, GET, DELETE: checked by mcp/endpoint.cpp) and the RFC 9728 metadata.
  if (path.starts_with("/mcp/")) return {Backend::kMcp, ApiShape::kMcp, Operation::kChat, Ops::kNone, {}};
  if (path == "/.well-known/oauth-protected-resource" || path.starts_with("/.well-known/oauth-protected-resource/mcp/")) {
    return {Backend::kOps, ApiShape::kMcp, Operation::kChat, Ops::kMcpMetadata, kGet};
  }
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  for (const auto& row : kRows) {
    if (row.path == path) return row.endpoint;
  }
  if (path.starts_with("/responses/") && path.size() > 11) return kStoredResponse;
  if (path.starts_with("/models/") && path.size() > 8) {
    return {Backend::kOps, ApiShape::kOpenAI, Operation::kChat, Ops::kModel, kGet};
  }
  return {};
}

std::string_view invocation_model(std::string_view path) {
  std::string_view rest = path.substr(kServing.size());
  return rest.substr(0, rest.size() - kInvocations.size());
}

Error method_not_allowed(std::string_view allowed) {
  Error e = Error::bad_request("this endpoint accepts " + std::string(allowed == kGet ? "GET" : allowed) + " only");
  e.kind = ErrorKind::kMethodNotAllowed;
  e.status = 405;
  e.code = "method_not_allowed";
  return e;
}

}  // namespace gatehouse::gateway
