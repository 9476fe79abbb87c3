// Protocol translation between the OpenAI chat shape and Anthropic's Messages shape, both ways,
// and from OpenAI's Responses shape to chat (answers back), for whole answers and for streams.
// Used when a client's shape differs from its provider's: an OpenAI (or Databricks) client
// reaching an Anthropic provider, an Anthropic client (the Anthropic SDK, Claude Code) reaching
// an OpenAI-compatible or Databricks provider, a Responses client (Codex CLI, the OpenAI SDKs'
// responses.create) reaching either (hub.h composes the steps). A client speaking its provider's
// shape is never translated: its bytes pass through.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <string_view>
#include <variant>

#include "core/error.h"

namespace gatehouse::translate {

// Turns a provider's answer into the client's shape. One per request; streams keep state.
class ResponseTranslator {
 public:
  virtual ~ResponseTranslator() = default;
  // A whole (non-streamed) answer.
  virtual std::variant<std::string, Error> body(std::string_view upstream) = 0;
  // One server-sent event of a streamed answer, with its terminating blank line; appends the
  // events the client gets for it (often one, sometimes none or several) to `out`.
  virtual void event(std::string_view event, std::string& out) = 0;
  // The provider's stream ended: appends what the client's stream still needs (its closing
  // events, or an error event when the provider stopped before its end).
  virtual void finish(std::string& out) = 0;
  // The stream broke (or a stage ended it) after it started: the error event the client's stream
  // ends with, when this translator writes its own (the Responses stream numbers its events);
  // empty: the client's shape's usual one (api::stream_error_event).
  virtual std::string error_event(const Error& error) { return {}; }
};

// --- an OpenAI-shaped client, an Anthropic provider (openai_to_anthropic.cpp) ---

// An OpenAI chat request (validated JSON) as a Messages request, without a "model" member.
// `default_max_tokens` is used when the client named none (Anthropic requires it). A 400 names
// anything the Messages API cannot express (n > 1, audio parts, JSON response formats).
std::variant<std::string, Error> openai_request_to_anthropic(std::string_view body,
                                                             int default_max_tokens);
// Anthropic answers as chat.completion / chat.completion.chunk; `include_usage` asks for the
// final usage chunk of a stream.
std::unique_ptr<ResponseTranslator> anthropic_response_to_openai(bool include_usage);

// --- an Anthropic client, an OpenAI-shaped provider (anthropic_to_openai.cpp) ---

// What the model a translated Messages (or Responses) request goes to takes beyond the chat API
// every OpenAI-shaped server takes (from the model's config).
struct ChatTarget {
  // The model takes OpenAI's `reasoning_effort` (models.<name>.reasoning_effort): the client's
  // output_config.effort is sent as it (low, medium, high; xhigh and max as high), and so is a
  // Responses request's reasoning.effort (none, minimal, low, medium, high; xhigh as high).
  // Otherwise the effort is dropped: models that do not reason refuse the field.
  bool reasoning_effort = false;
};

// A Messages request (validated JSON) as an OpenAI chat request, without a "model" member. A
// stream asks for usage (stream_options.include_usage) so the client's message_delta has it.
// System messages inside `messages` stay where they are; `thinking` and `context_management`
// have no chat counterpart and are dropped (docs/providers/anthropic.md lists every field).
std::variant<std::string, Error> anthropic_request_to_openai(std::string_view body, const ChatTarget& target);
// OpenAI (and Databricks) answers as Anthropic messages / Messages stream events.
std::unique_ptr<ResponseTranslator> openai_response_to_anthropic();

// --- a Responses client (OpenAI's Responses API), an OpenAI-shaped provider ---
// --- (responses_request.cpp, responses_answer.cpp) ---

// A Responses request (validated JSON; the gateway has already replaced a previous_response_id
// with the conversation it names, so one still present is a 400) as an OpenAI chat request,
// without a "model" member. Built-in tools (web_search, file_search, computer_use, code_interpreter,
// local_shell, image_generation, mcp, ...) a chat provider cannot run are dropped and their types
// appended to `dropped` (when not null; each type once) for the client's warning header; an input item the chat
// API cannot express (a built-in tool's call, an item_reference, a file) is a 400 naming it. A
// stream asks for usage (stream_options.include_usage), which response.completed needs.
std::variant<std::string, Error> responses_request_to_openai(std::string_view body, const ChatTarget& target,
                                                             std::vector<std::string>* dropped);

// What a Responses answer made by translation says that the chat answer does not: the response's
// id (the gateway names it, as it stores it under that id), the model as the client named it, when
// it was created, and the client's request, whose settings a Responses object echoes
// (instructions, tools, tool_choice, temperature, top_p, max_output_tokens, parallel_tool_calls,
// previous_response_id, metadata, store, text, reasoning, user, truncation).
struct ResponsesAnswer {
  std::string id;             // "resp_" + 32 hex digits
  std::string model;
  std::int64_t created_at = 0;  // unix seconds
  std::string_view request;   // the request body as it went on (JSON object, guardrails' masks applied;
                              // outlives the translator); empty: echo nothing
  std::string_view previous_response_id;  // the response it continues ("" none): the body no longer says

};

// OpenAI chat answers (whole: a chat.completion; streamed: chat.completion.chunk events ending
// with a usage chunk and [DONE]) as a Responses object / the Responses stream events, each with
// its `event:` line and a strictly increasing sequence_number. Output item ids are made from the
// response's id ("msg_<id without resp_>_<output index>", ...), so one answer always gets the same.
// A stream that fails (a provider's error chunk, an end before finish_reason, error_event) ends
// with response.failed and then an error event.
std::unique_ptr<ResponseTranslator> openai_response_to_responses(const ResponsesAnswer& answer);

}  // namespace gatehouse::translate
