// The API shapes: what clients speak at ingress, what providers speak upstream, what usage and
// errors are read and written in. One enum for all of them; what varies by shape is in one table
// (shape.cpp) or in the one codec per shape (api/, translate/).
#pragma once

#include <string_view>

namespace gatehouse {

enum class ApiShape : unsigned char {
  kOpenAI,      // OpenAI chat completions and embeddings; errors {"error":{"message","type","param","code"}}
  kAnthropic,   // Anthropic Messages; errors {"type":"error","error":{"type","message"}}
  kDatabricks,  // Databricks serving endpoints: OpenAI-shaped bodies; errors {"error_code","message"}
  kMcp,         // the MCP endpoints: JSON-RPC errors {"jsonrpc":"2.0","id":null,"error":{"code","message","data"}}
  kResponses,   // OpenAI's Responses API (/v1/responses): its own bodies and stream events; errors OpenAI's
};

// What varies by shape beside its codec.
struct ShapeTraits {
  std::string_view name;  // "openai", "anthropic", "databricks": logs, metrics labels, spans
  ApiShape body;          // the shape its request and answer bodies are in (Databricks: OpenAI's)
  bool request_id_header; // answers also carry `request-id` (the Anthropic SDK's _request_id)
};

const ShapeTraits& traits(ApiShape shape);

// The shape of a request's and an answer's body: two shapes with the same body shape pass each
// other's bodies through untranslated.
inline ApiShape body_shape(ApiShape shape) { return traits(shape).body; }

}  // namespace gatehouse
