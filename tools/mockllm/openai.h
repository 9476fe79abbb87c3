// The OpenAI wire shape: chat completions (plain and streamed, text and tool calls),
// embeddings, models and errors, exactly as the official SDKs expect them.
//
// Every function here is pure: a parsed request and its Control in, a Reply out. Generated text
// is deterministic (token i is word i of a fixed list), so tests can assert on it; only ids and
// `created` vary.
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/object.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::openai {

// `{"error":{"message","type","param","code"}}`; an empty optional writes null.
Reply error(unsigned status, std::string_view message, std::string_view type,
            std::optional<std::string_view> param = std::nullopt,
            std::optional<std::string_view> code = std::nullopt);

// The answer for a request whose Control asks for an error status (`status`, `error_body`,
// `error_content_type`, `retry_after`).
Reply injected_error(const Control& control);

// How a provider that speaks the OpenAI shape answers differently (Databricks serving).
struct Flavor {
  // Answer with this model name, whatever the request's `model` (which is then optional).
  std::optional<std::string_view> model;
  // Every stream chunk carries the usage so far (prompt, completion tokens sent yet, total),
  // whether or not stream_options asked for usage; no separate usage chunk.
  bool usage_in_every_chunk = false;
};

// POST /v1/chat/completions. A 400 error Reply when the request is not a chat request.
// Honours the control's tokens, cache_read_tokens (reported as
// usage.prompt_tokens_details.cached_tokens, included in prompt_tokens) and
// stream_error_after (the stream ends with a `data: {"error":...}` event after N deltas).
Reply chat_completions(const boost::json::object& request, const Control& control,
                       const Flavor& flavor = {});

// POST /v1/embeddings.
Reply embeddings(const boost::json::object& request, const Flavor& flavor = {});

// GET /v1/models and GET /v1/models/{id} (every id exists).
Reply models();
Reply model(std::string_view id);

// The word that token `i` of every generated text is made of (without its trailing space).
std::string_view token_word(int i);

}  // namespace mockllm::openai
