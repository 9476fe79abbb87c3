// Pieces every wire shape (openai, anthropic, databricks) builds its answers from: ids, the
// deterministic generated text, prompt token counting and request field readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::shape {

// `prefix` followed by `length` random base-62 characters. Ids only need to be unique enough
// for a test to tell answers apart; a per-thread generator keeps them off any lock.
std::string random_id(std::string_view prefix, int length = 24);

// A random version 4 UUID (8-4-4-4-12 lower-case hex), the ids Databricks agents and their
// serving layer use.
std::string random_uuid();

// The word that token `i` of every generated text is made of (without its trailing space).
std::string_view token_word(int i);

// What a text answer says and the stream deltas it is sent in: the generated words, the
// control's `reply` (in `reply_chunks`, `reply_chunk`-byte pieces or words), or the
// classifier stand-in's verdict. Every delta counts as one completion token.
struct AnswerText {
  std::string text;               // the concatenation of the deltas
  std::vector<std::size_t> ends;  // where each delta ends in `text`
  bool cut = false;               // max_tokens cut it short

  int tokens() const { return static_cast<int>(ends.size()); }
  std::string_view delta(int i) const;
};

// Whether a model name asks for the classifier stand-in: it contains "guard" (any case), as
// `llama-guard-3` or `Meta-Llama-Guard-3-8B` do.
bool is_guard_model(std::string_view model);

// Llama Guard's convention: "unsafe\nS1" when `last_user_text` holds `UNSAFE-CONTENT`, else "safe".
std::string_view guard_verdict(std::string_view last_user_text);

// The answer's text. `guard_input` is the last user message's text when the model is a
// classifier stand-in (else nullptr): its verdict is the reply unless the control sets `reply`.
// `limit` (max_tokens), when below the delta count, keeps the first `limit` deltas (`cut`).
AnswerText answer_text(const Control& control, const std::string* guard_input,
                       std::optional<std::int64_t> limit);

// Appends the text of a message content: a plain string, or the "text" blocks/parts of an
// array (OpenAI content parts and Anthropic content blocks share that form). Anthropic
// `tool_result` blocks contribute the text of their own content. Anything else has none.
void append_text(const boost::json::value& content, std::string& out);

// Code points of the text append_text() finds.
std::size_t text_code_points(const boost::json::value& content);

// The mock's tokenizer: a token per 4 code points, at least 1.
int prompt_tokens_for(std::size_t code_points);

// Reads an optional integer field; false when present with another type or out of range.
bool optional_int(const boost::json::object& obj, std::string_view key, std::int64_t lo,
                  std::int64_t hi, std::optional<std::int64_t>& out);

// Reads an optional boolean field; false when present with another type.
bool optional_bool(const boost::json::object& obj, std::string_view key, bool& out);

// Splits JSON text into up to three pieces on code point boundaries, as a model streams tool
// arguments in a few deltas.
std::vector<std::string_view> argument_pieces(std::string_view args);

// `{"echo":"<first 16 code points of text>"}`: the arguments of every mock tool call.
std::string echo_arguments(std::string_view text);

// The common part of every shape's injected error: `shaped` (the shape's error for
// control.status) unless control.error_body asks for a raw body, plus Retry-After.
Reply injected(const Control& control, Reply shaped);

}  // namespace mockllm::shape
