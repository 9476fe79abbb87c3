// Reading what a provider says a request used — from a whole answer or from its stream's events,
// in the provider's own wire shape (before any translation) — and asking an OpenAI-shaped
// provider to report usage in a stream whose client did not ask for it.
#pragma once

#include <string>
#include <string_view>

#include "api/openai.h"
#include "core/usage.h"

namespace gatehouse::api {

// The wire shape a provider answers in.
enum class UsageWire { kOpenAI, kAnthropic };

// The usage of a whole answer (chat completion, embeddings, Anthropic message); known = false
// when the body has none.
Usage read_usage(UsageWire wire, std::string_view body);

// Follows a stream's events and keeps the latest usage: OpenAI's final usage chunk (or the
// running usage Databricks puts on every chunk), Anthropic's message_start and message_delta.
class StreamUsage {
 public:
  explicit StreamUsage(UsageWire wire) : wire_(wire) {}
  // Reads one server-sent event (with its blank line). True when the event is an OpenAI chunk
  // that only carries usage (`"choices": []`): a client that did not ask for usage must not see it.
  bool event(std::string_view event);
  const Usage& usage() const { return usage_; }
  // The provider reported a failure inside the stream: an OpenAI-shape `data: {"error": ...}`
  // event, or Anthropic's `event: error`.
  bool failed() const { return failed_; }

 private:
  UsageWire wire_;
  Usage usage_;
  bool failed_ = false;
  long long anthropic_input_ = 0, anthropic_cache_read_ = 0, anthropic_cache_write_ = 0;
};

// `body` (an OpenAI chat request) with stream_options.include_usage set to true, other
// stream_options members kept; `req`'s spans are moved to match the new body.
std::string with_stream_usage(std::string_view body, CanonicalRequest& req);

}  // namespace gatehouse::api
