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

// The word that token `i` of every generated text is made of (without its trailing space).
std::string_view token_word(int i);

// Tokens 0..tokens-1 joined by single spaces.
std::string generated_text(int tokens);

// Token `i` of a streamed text: its word, with a space after it unless it is the last, so the
// deltas concatenate to generated_text().
std::string stream_token(int i, int tokens);

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
