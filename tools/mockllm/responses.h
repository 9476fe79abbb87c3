// The OpenAI Responses API (POST /v1/responses): the Response object, whole or as the stream
// of typed events the API sends, exactly as the official SDKs read them
// (`client.responses.create`, `client.responses.stream`).
//
// Pure functions, like the other wire shapes: a parsed request and its Control in, a Reply out.
// The request is checked by responses_request.h first, so a request the API refuses gets the
// API's 400 instead of an answer.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::responses {

// How a provider that serves the Responses API answers differently.
struct Flavor {
  // Databricks (/serving-endpoints/responses) also takes its agents' fields, which its own
  // OpenAI client sends as extra_body: custom_inputs, databricks_options and context. The
  // answer then echoes custom_inputs as custom_outputs, as its agents do.
  bool databricks = false;
};

// POST /v1/responses, /responses and /serving-endpoints/responses. A text answer (generated
// words, `reply`, or the classifier stand-in's verdict), or one function_call when function
// tools are offered and the caller has not just answered a call. Honours tokens,
// inter_token_ms (stream deltas are paced), cache_read_tokens (input_tokens_details) and
// stream_error_after (an `error` event, then `response.failed`).
Reply create(const boost::json::object& request, const Control& control, const Flavor& flavor = {});

// Any request naming a stored response (GET or DELETE /v1/responses/{id}, its input_items or
// cancel): the mock stores none, so the API's 404 for an unknown id.
Reply not_found(std::string_view id);

}  // namespace mockllm::responses
