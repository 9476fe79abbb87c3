// The Anthropic Messages wire shape (POST /v1/messages): answers (text and tool_use, plain and
// streamed as Anthropic's named SSE events) and errors, as the official SDKs expect them.
//
// Pure functions like openai.h: a parsed request and its Control in, a Reply out. Every Reply
// carries a `request-id: req_...` header, as every Anthropic answer does; error bodies repeat it
// as `request_id`.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::anthropic {

// The `error.type` Anthropic uses for an HTTP status: 400 invalid_request_error,
// 401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
// 409 conflict_error, 413 request_too_large, 429 rate_limit_error, 504 timeout_error,
// 529 overloaded_error, other 5xx api_error, other 4xx invalid_request_error.
std::string_view error_type(unsigned status);

// `{"type":"error","error":{"type","message"},"request_id":"req_..."}`.
Reply error(unsigned status, std::string_view type, std::string_view message);

// The answer for a request whose Control asks for an error status (`status`, `error_body`,
// `error_content_type`, `retry_after`).
Reply injected_error(const Control& control);

// POST /v1/messages. A 400 invalid_request_error Reply when the request is not a valid
// Messages request. Honours the control's tokens, cache_read_tokens, cache_creation_tokens,
// stop_sequence_hit and stream_error_after.
Reply messages(const boost::json::object& request, const Control& control);

// POST /v1/messages/count_tokens: `{"input_tokens":N}`, N counted as messages() counts its
// usage.input_tokens (max_tokens is not needed). A 400 invalid_request_error Reply when
// `model`, `system` or `messages` is invalid.
Reply count_tokens(const boost::json::object& request);

}  // namespace mockllm::anthropic
