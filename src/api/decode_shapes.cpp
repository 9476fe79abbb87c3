// One decoder per ingress shape, over the shared walk (decode.cpp): what each shape requires.
#include "api/decode.h"

namespace gatehouse::api {

namespace {

Error missing_payload(Payload payload) {
  return payload == Payload::kInput
             ? Error::bad_request("'input' is required: a string or an array of strings", "input")
             : Error::bad_request("'messages' is required: an array of message objects", "messages");
}

}  // namespace

// OpenAI: chat completions (`messages`) and embeddings (`input`); `model` required.
std::variant<CanonicalRequest, Error> decode_openai(Operation op, std::string& body) {
  const Payload payload = op == Operation::kEmbeddings ? Payload::kInput : Payload::kMessages;
  auto walked = walk_request(body, payload);
  if (auto* e = std::get_if<Error>(&walked)) return std::move(*e);
  auto& w = std::get<Walked>(walked);
  if (!w.have_model) {
    return Error::bad_request("'model' is required: name one of the models from GET /v1/models", "model");
  }
  if (!w.have_payload) return missing_payload(payload);
  return std::move(w.request);
}

// Anthropic: Messages and token counting; `model` and `messages` required, and `max_tokens` for
// Messages (the API refuses a request without it).
std::variant<CanonicalRequest, Error> decode_anthropic(Operation op, std::string& body) {
  auto walked = walk_request(body, Payload::kMessages);
  if (auto* e = std::get_if<Error>(&walked)) return std::move(*e);
  auto& w = std::get<Walked>(walked);
  w.request.op = op;
  if (!w.have_model) {
    return Error::bad_request("'model' is required: name one of the models the gateway serves", "model");
  }
  if (!w.have_payload) return missing_payload(Payload::kMessages);
  if (op == Operation::kChat && w.request.max_tokens < 0) {
    return Error::bad_request("'max_tokens' is required: the most tokens the answer may have", "max_tokens");
  }
  return std::move(w.request);
}

// Databricks invocations: chat or embeddings by the payload member; the model is the path's (a
// `model` member is ignored).
std::variant<CanonicalRequest, Error> decode_databricks(std::string& body) {
  auto walked = walk_request(body, Payload::kEither);
  if (auto* e = std::get_if<Error>(&walked)) return std::move(*e);
  auto& w = std::get<Walked>(walked);
  if (w.request.op == Operation::kInvocations) {
    return Error::bad_request("the invocation needs 'messages' (chat), 'input' (embeddings) or 'input' items (an agent)",
                              "messages");
  }
  if (!w.have_payload) return missing_payload(w.request.op == Operation::kEmbeddings ? Payload::kInput : Payload::kMessages);
  if (!w.have_model) w.request.model_offset = w.request.object_start;
  return std::move(w.request);
}

// Responses: `model` and `input` required.
std::variant<CanonicalRequest, Error> decode_responses(std::string& body) {
  auto walked = walk_request(body, Payload::kResponses);
  if (auto* e = std::get_if<Error>(&walked)) return std::move(*e);
  auto& w = std::get<Walked>(walked);
  if (!w.have_model) {
    return Error::bad_request("'model' is required: name one of the models from GET /v1/models", "model");
  }
  if (!w.have_payload) {
    return Error::bad_request("'input' is required: a string, or an array of input items (messages, function_call_output...)",
                              "input");
  }
  return std::move(w.request);
}

std::variant<CanonicalRequest, Error> decode_request(ApiShape shape, Operation op, std::string& body) {
  if (op == Operation::kResponses) return decode_responses(body);
  switch (shape) {
    case ApiShape::kResponses: return decode_responses(body);
    case ApiShape::kAnthropic: return decode_anthropic(op, body);
    case ApiShape::kDatabricks:
      // The Databricks shape's OpenAI-compatible paths (/serving-endpoints/chat/completions)
      // decode as OpenAI's; only invocations name the model in the path.
      if (op == Operation::kInvocations) return decode_databricks(body);
      return decode_openai(op, body);
    case ApiShape::kOpenAI:
    case ApiShape::kMcp:  // not a model shape: the MCP endpoints decode their own bodies (mcp/)
      if (op == Operation::kInvocations) return decode_databricks(body);
      return decode_openai(op, body);
  }
  return decode_openai(op, body);
}

}  // namespace gatehouse::api
