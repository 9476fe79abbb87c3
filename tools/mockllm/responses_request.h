// Reading an OpenAI Responses API request (POST /v1/responses): checking it as the real API
// does, and planning the answer.
//
// The checks, their order and their wording follow what the API answers (observed refusals
// are quoted in the README): a gateway that forwards a request the API would refuse, or
// mangles one on the way, gets the same 400 the real API would give, with the same `param`.
// The mock keeps no state, so a request that points at stored objects (previous_response_id,
// conversation, prompt) is refused the way the API refuses an id it does not know.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "control.h"
#include "reply.h"
#include "shape_common.h"

namespace mockllm::responses {

// What the answer needs from a request's `input` (and from a ResponsesAgent's, which has the
// same items).
struct InputSummary {
  std::size_t code_points = 0;  // of every text the model reads: messages, tool calls, results
  std::string last_user_text;   // of the last `user` message
  bool has_user_message = false;
  // A function_call_output comes after the last user message: the caller is answering a tool
  // call, so the model answers in text.
  bool tool_result_last = false;
};

// Summarises a string input (one user message) or an array of items. Items are not checked.
InputSummary summarize_input(const boost::json::value& input);

// Everything an answer is made from, read from a valid request once. Points into the request,
// which must outlive the Plan (the answer is written before the request is dropped).
struct Plan {
  const boost::json::object* request = nullptr;  // for the settings the answer echoes
  std::string_view model;
  bool databricks = false;  // set by the caller: Databricks' extra fields are accepted
  bool stream = false;
  bool obfuscation = true;  // stream_options.include_obfuscation (default on, as the API has it)
  int input_tokens = 1;     // cached tokens included, as the API counts them
  int cached_tokens = 0;
  int output_tokens = 0;   // the text's deltas, or the tool call's tokens
  shape::AnswerText text;  // a text answer (not a tool call)
  bool tool_call = false;
  std::string tool_name;
  std::string arguments;  // JSON text
  int stream_error_after = -1;
};

// Checks `request` and fills `plan` (whose `databricks` the caller sets first). Returns the
// error Reply (OpenAI shape, with `param` and
// `code`) for a request the real API refuses, else nullopt.
std::optional<Reply> read_request(const boost::json::object& request, const Control& control,
                                  Plan& plan);

}  // namespace mockllm::responses
