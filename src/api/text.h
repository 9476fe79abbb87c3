// The text a model reads and writes, found in a body of any shape: message contents (strings and
// text parts), system prompts, tool-call arguments, tool results, embeddings input; in answers,
// the message's text and tool-call arguments; in stream events, the text deltas. Not JSON keys,
// ids, roles or base64 images. Guardrails scan these pieces and may replace some of them: an edit
// re-encodes only the string tokens it changes; the rest of the body stays byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/request.h"
#include "core/shape.h"

namespace gatehouse::api {

// One piece of text and where its JSON string token (quotes included) sits in the body.
struct TextPiece {
  std::string_view text;      // unescaped; valid only during the callback
  std::size_t offset = 0;     // the string token's first byte (its opening quote)
  std::size_t length = 0;     // the token's length, quotes included
  // Streams: which run of text this delta continues — a choice's content, one of its tool
  // calls' arguments (OpenAI-style chunks), a content block (Anthropic), a content part, a
  // summary part or a call's arguments of an output item (Responses: api/responses_channel.h).
  // Pieces of one channel concatenate to the text the model wrote there. 0 for requests, whole
  // answers and whole pieces.
  std::uint32_t channel = 0;
  // Streams: the piece is a whole text the event repeats or carries at once, not a delta of any
  // run — a Responses `.done` event's text, the item of response.output_item.done, the output
  // of response.completed (the deltas' text again, or text that was never streamed: a
  // Databricks agent's item sent only whole). It is scanned on its own, as a whole answer's
  // text is. Only Responses events have them; false everywhere else.
  bool whole = false;
};

using TextFn = std::function<void(const TextPiece&)>;

// The pieces of a request body of `shape` and `op` (the body decode_request accepted; for
// Databricks invocations `op` is the decoded one: chat, embeddings or responses — a Responses
// body whatever `shape` says). False when the body is not the JSON object it should be (nothing
// was reported).
bool request_texts(ApiShape shape, Operation op, std::string_view body, const TextFn& fn);

// The pieces of a provider's whole (non-streamed) answer in `shape` (chat completion, Anthropic
// message, Responses object; embeddings have none).
bool response_texts(ApiShape shape, std::string_view body, const TextFn& fn);

// The pieces of one stream event in `shape` (a whole SSE event: `event:`/`data:` lines and its
// blank line; offsets are into `event`). Events without text (role chunks, usage, [DONE],
// message_start, pings) report nothing and return true. Responses events also report the whole
// texts they repeat (TextPiece::whole).
bool event_texts(ApiShape shape, std::string_view event, const TextFn& fn);

// Replaces string tokens: each edit's [offset, offset + length) (a TextPiece's token) becomes the
// JSON string of `text`. Edits must not overlap; any order.
struct TextEdit {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string text;
};
std::string apply_text_edits(std::string_view body, std::vector<TextEdit> edits);

}  // namespace gatehouse::api
