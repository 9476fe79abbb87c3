// The canonical request: what the gateway knows about a model request after decoding it, in any
// shape. Everything else in the body is opaque and is forwarded byte for byte (or translated
// when the provider speaks another shape: translate/). One decoder per shape (decode_*.cpp) over
// one shared walk of the body (decode.cpp): simdjson On Demand, no tree, every value validated.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace gatehouse::api {

enum class Operation {
  kChat,         // OpenAI chat completions, Anthropic Messages, a Databricks chat invocation
  kEmbeddings,   // OpenAI embeddings, a Databricks embeddings invocation
  kCountTokens,  // Anthropic Messages token counting (/v1/messages/count_tokens)
  kInvocations,  // a Databricks invocation before decoding: the decoder finds chat, embeddings or responses
  kResponses,    // OpenAI's Responses API (/v1/responses), or a Databricks agent invocation whose
                 // `input` is an array of Responses items: the body is in the Responses shape
};

// The shape a request's body is in: a Responses request is in the Responses shape whatever
// endpoint it came to (a Databricks agent invocation's errors are still Databricks').
inline ApiShape request_shape(ApiShape ingress, Operation op) {
  return op == Operation::kResponses ? ApiShape::kResponses : ingress;
}

// Where the members the gateway edits sit in a body (byte offsets). A body that another stage
// or a translation rewrote is located again with find_spans().
struct Spans {
  // The JSON string token `"model-name"` (with quotes); model_length is 0 when the body has no
  // model (a Databricks invocation names it in the path; a translation leaves it out).
  std::size_t model_offset = 0;
  std::size_t model_length = 0;
  // The whole `"model": "..."` member, key to value, for removing it.
  std::size_t member_offset = 0;
  std::size_t member_end = 0;
  std::size_t object_start = 0;  // just after the body's opening brace
  // The whole `"stream_options": {...}` member, when there is one (length 0: none).
  std::size_t stream_options_offset = 0;
  std::size_t stream_options_length = 0;
  // A `data_class` member (Gatehouse's own field: removed before forwarding).
  bool has_data_class = false;
  std::size_t data_class_member_offset = 0;
  std::size_t data_class_member_end = 0;
};

struct CanonicalRequest : Spans {
  Operation op = Operation::kChat;
  std::string model;
  bool stream = false;
  bool include_usage = false;    // stream_options.include_usage
  long long max_tokens = -1;     // max_tokens / max_completion_tokens when given
  std::string data_class;        // the `data_class` member's value (has_data_class)
  // usage_context (Databricks' attribution map), string values only.
  std::vector<std::pair<std::string, std::string>> usage_context;
  // Responses (op kResponses): max_tokens is `max_output_tokens`; `stream` as in chat (a Responses
  // stream always ends with its usage: include_usage stays false).
  bool store = true;                 // `store` (false: the gateway keeps nothing of the response)
  bool input_is_string = false;      // `input` is a string, not items
  std::string previous_response_id;  // `previous_response_id` (empty: none)
};

// Decodes a request body of `op` in `shape` (`op` kInvocations for Databricks' invocations
// path). `body` must have at least 64 bytes of spare capacity (simdjson reads past the end); the
// function reserves it if not. Errors are 400s that name the field at fault.
std::variant<CanonicalRequest, Error> decode_request(ApiShape shape, Operation op, std::string& body);
// The decoders of each shape (decode_request picks one).
std::variant<CanonicalRequest, Error> decode_openai(Operation op, std::string& body);
std::variant<CanonicalRequest, Error> decode_anthropic(Operation op, std::string& body);
std::variant<CanonicalRequest, Error> decode_databricks(std::string& body);
// Responses: `model` and `input` (a string or an array of items) required; reads stream,
// max_output_tokens, store, previous_response_id (a string), data_class, usage_context.
std::variant<CanonicalRequest, Error> decode_responses(std::string& body);

// The spans of a body that is known to be a valid JSON object (a stage's replacement or a
// translation); nullopt when it is not one.
std::optional<Spans> find_spans(std::string_view body);

// The body with the `model` token replaced by `upstream_model` (JSON-escaped), or a model
// member added when the body had none.
std::string rewrite_model(std::string_view body, const Spans& spans, std::string_view upstream_model);

// The body without its `model` member (for providers that name the model in the path).
std::string remove_model(std::string_view body, const Spans& spans);

// The body without its `data_class` member; `spans` are moved to match the new body.
std::string remove_data_class(std::string_view body, Spans& spans);

// JSON string literal for `s`, with quotes.
std::string json_quote(std::string_view s);

}  // namespace gatehouse::api
