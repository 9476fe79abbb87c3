// The OpenAI ingress codec: reads the few fields the gateway needs from a request body without
// building a tree (simdjson On Demand), remembers where `model` sits so the body can be forwarded
// with only that span replaced, and encodes errors in OpenAI's shape.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace gatehouse::api {

enum class Operation {
  kChatCompletions,  // OpenAI chat (also a Databricks invocation with `messages`)
  kEmbeddings,       // OpenAI embeddings (also a Databricks invocation with `input`)
  kMessages,         // Anthropic Messages
  kCountTokens,      // Anthropic Messages token counting (/v1/messages/count_tokens)
  kInvocations,      // a Databricks invocation: decode_request finds chat or embeddings
};

// What the gateway knows about a request after decoding it. Everything else in the body is
// opaque and is forwarded byte for byte.
struct CanonicalRequest {
  Operation op = Operation::kChatCompletions;
  std::string model;
  // Byte span of the JSON string token `"model-name"` (with quotes); model_length is 0 when the
  // body has no model (a Databricks invocation names it in the path).
  std::size_t model_offset = 0;
  std::size_t model_length = 0;
  // The whole `"model": "..."` member, key to value, for removing it.
  std::size_t member_offset = 0;
  std::size_t member_end = 0;
  std::size_t object_start = 0;  // just after the body's opening brace
  bool stream = false;
  bool include_usage = false;    // stream_options.include_usage
  long long max_tokens = -1;     // max_tokens / max_completion_tokens when given
  // A `data_class` member (Gatehouse's own field: removed before forwarding) and its span.
  bool has_data_class = false;
  std::string data_class;
  std::size_t data_class_member_offset = 0;
  std::size_t data_class_member_end = 0;
  // The whole `"stream_options": {...}` member, when there is one (length 0: none).
  std::size_t stream_options_offset = 0;
  std::size_t stream_options_length = 0;
  // usage_context (Databricks' attribution map), string values only.
  std::vector<std::pair<std::string, std::string>> usage_context;
};

// Decodes a chat completions, embeddings, Anthropic Messages or Databricks invocations body. `body` must have at least 64 bytes of spare
// capacity (simdjson reads past the end); the function reserves it if not. Errors are 400s that
// name the field at fault.
std::variant<CanonicalRequest, Error> decode_request(Operation op, std::string& body);

// The body with the `model` token replaced by `upstream_model` (JSON-escaped), or a model
// member added when the body had none.
std::string rewrite_model(std::string_view body, const CanonicalRequest& req,
                          std::string_view upstream_model);

// The body without its `model` member (for providers that name the model in the path).
std::string remove_model(std::string_view body, const CanonicalRequest& req);

// The body without its `data_class` member; `req`'s spans are moved to match the new body.
std::string remove_data_class(std::string_view body, CanonicalRequest& req);

// {"error":{"message","type","param","code"}} for any gateway error.
std::string encode_error(const Error& error);

// OpenAI's error `type` for a status (invalid_request_error, authentication_error, ...).
std::string_view error_type(const Error& error);

// True when `body` already is an OpenAI-shaped error object ({"error":{"message":...}}), so an
// upstream's own error can be relayed as it is.
bool is_openai_error_body(std::string_view body);

// JSON string literal for `s`, with quotes.
std::string json_quote(std::string_view s);

}  // namespace gatehouse::api
