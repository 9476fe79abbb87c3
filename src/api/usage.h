// Reading what a provider says a request used — from a whole answer or from its stream's events,
// in the provider's own wire shape (before any translation) — and asking an OpenAI-shaped
// provider to report usage in a stream whose client did not ask for it.
#pragma once

#include <string>
#include <string_view>

#include "api/request.h"
#include "core/usage.h"

namespace gatehouse::api {

// The usage of a whole answer (chat completion, embeddings, Anthropic message, Responses object);
// known = false when the body has none (a Databricks agent's answer often has none).
Usage read_usage(ApiShape shape, std::string_view body);

// Follows a stream's events and keeps the latest usage: OpenAI's final usage chunk (or the
// running usage Databricks puts on every chunk), Anthropic's message_start and message_delta, the
// response of the Responses stream's last event (response.completed, .incomplete, .failed).
class StreamUsage {
 public:
  explicit StreamUsage(ApiShape shape) : shape_(body_shape(shape)) {}
  // Reads one server-sent event (with its blank line). True when the event is an OpenAI chunk
  // that only carries usage (`"choices": []`): a client that did not ask for usage must not see
  // it. Never for the Responses stream, whose usage rides on its last event.
  bool event(std::string_view event);
  const Usage& usage() const { return usage_; }
  // The provider reported a failure inside the stream: an OpenAI-shape `data: {"error": ...}`
  // event, Anthropic's `event: error`, the Responses stream's `error` or `response.failed`.
  bool failed() const { return failed_; }
  // The output the events carried so far, in tokens at about four bytes of text each (content,
  // tool arguments, thinking; a Responses stream's deltas): what a stream cut before its usage
  // report had relayed.
  long long relayed_tokens() const { return (text_bytes_ + 3) / 4; }

 private:
  bool responses_event(std::string_view event);

  ApiShape shape_;  // the body shape the provider speaks: OpenAI's, Anthropic's or Responses'
  Usage usage_;
  bool failed_ = false;
  long long text_bytes_ = 0;
  long long anthropic_input_ = 0, anthropic_cache_read_ = 0, anthropic_cache_write_ = 0;
};

// `body` (an OpenAI chat request) with stream_options.include_usage set to true, other
// stream_options members kept; `req`'s spans are moved to match the new body.
std::string with_stream_usage(std::string_view body, Spans& req);
// The same for a decoded request, which then says it asks for usage (include_usage).
std::string with_stream_usage(std::string_view body, CanonicalRequest& req);

}  // namespace gatehouse::api
