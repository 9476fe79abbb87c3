// Translation between API shapes goes through one hub: the OpenAI chat shape (the canonical
// request/answer/stream-event model, as JSON). Each other shape has one codec pair — its requests
// to and from the hub, its answers to and from the hub — registered in one table (hub.cpp); a
// request or an answer between two shapes that are both not the hub takes two steps. Adding a
// shape is adding its codec pair. Shapes whose bodies are alike (Databricks' and OpenAI's) are
// never translated: their bytes pass through.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"
#include "translate/translate.h"

namespace gatehouse::translate {

// Whether a body in the client's shape must be translated to reach a provider of `provider`'s.
bool needs_translation(ApiShape client, ApiShape provider);

// What the target of a translated request takes (from its provider's and model's config).
struct RequestOptions {
  int default_max_tokens = 4096;  // for shapes that require max_tokens when the client named none
  ChatTarget chat;                // what an OpenAI-shaped model takes beyond the chat API (translate.h)
  // Filled by the translation: what the client asked for that the target cannot do and that was
  // left out rather than refused (a Responses request's built-in tools); null: not wanted.
  std::vector<std::string>* dropped = nullptr;
};

// The request `body` (valid JSON in shape `from`) in shape `to`, without a "model" member (as it
// is when the two need no translation). A 400 names anything `to` cannot express.
std::variant<std::string, Error> translate_request(ApiShape from, ApiShape to, std::string_view body,
                                                   const RequestOptions& options);

// A translator of answers in `from` (the provider's shape) into `to` (the client's);
// `include_usage`: the client asked for a stream's usage chunk; `responses`: what a Responses
// answer needs (required when `to` is kResponses). Null when the two need none.
std::unique_ptr<ResponseTranslator> translate_response(ApiShape from, ApiShape to, bool include_usage,
                                                       const ResponsesAnswer* responses = nullptr);

}  // namespace gatehouse::translate
