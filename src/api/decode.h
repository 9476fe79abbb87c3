// The walk every shape's decoder shares (decode.cpp): one pass of simdjson On Demand over the
// body's top-level members that validates every value, reads the members the gateway needs
// (model, stream, max_tokens, stream_options, data_class, usage_context) and the payload member
// the shape names, and records where the members it may edit sit. Internal to gh_api.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <simdjson.h>

#include "api/request.h"

namespace gatehouse::api {

// The member that carries a request's content, and what it must be.
enum class Payload {
  kMessages,   // `messages`: a non-empty array of objects (chat)
  kInput,      // `input`: a string or an array (embeddings)
  kEither,     // a Databricks invocation: `messages` makes it chat, `input` embeddings (or, when
               // it is an array of objects, a Responses request: an agent's invocation)
  kResponses,  // `input`: a string or an array of items (OpenAI's Responses API)
};

struct Walked {
  CanonicalRequest request;
  bool have_model = false;
  bool have_payload = false;
  bool invocation = false;  // a Databricks invocation (the walk began with Payload::kEither)
};

std::variant<Walked, Error> walk_request(std::string& body, Payload payload);

// Touches every value under `v` (to a depth of 128) so malformed JSON anywhere is an error.
simdjson::error_code validate(simdjson::ondemand::value v, std::size_t depth);

}  // namespace gatehouse::api
