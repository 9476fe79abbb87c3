// OpenAI's error shape: the error body and type of any gateway error, and recognising an
// upstream's own OpenAI-shaped error. (Requests of every shape: api/request.h.)
#pragma once

#include <string>
#include <string_view>

#include "api/request.h"
#include "core/error.h"

namespace gatehouse::api {

// {"error":{"message","type","param","code"}} for any gateway error.
std::string encode_error(const Error& error);

// OpenAI's error `type` for a status (invalid_request_error, authentication_error, ...).
std::string_view error_type(const Error& error);

// True when `body` already is an OpenAI-shaped error object ({"error":{"message":...}}), so an
// upstream's own error can be relayed as it is.
bool is_openai_error_body(std::string_view body);

}  // namespace gatehouse::api
