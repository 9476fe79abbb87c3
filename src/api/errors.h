// Errors in each API shape a client may speak, and the reading of a provider's error body
// whatever shape it came in. A client always gets errors in its own shape, whichever provider
// answered (OpenAI's, Anthropic's or Databricks').
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace gatehouse::api {

// The whole error body for `error` in `shape`. An upstream's own body is relayed as it is when
// it already is in `shape`.
std::string encode_error(ApiShape shape, const Error& error);

// The same error as one server-sent event, for a stream that has already started.
std::string stream_error_event(ApiShape shape, const Error& error);

// Anthropic's error.type for an error (invalid_request_error, rate_limit_error, ...).
std::string_view anthropic_error_type(const Error& error);

// Databricks' error_code for an error (BAD_REQUEST, REQUEST_LIMIT_EXCEEDED, ...).
std::string_view databricks_error_code(const Error& error);

// Reads a provider's error body in any of the three shapes: sets error.upstream_shape,
// error.upstream_body, and `message`/`code` from it (the provider's own words). Returns false,
// leaving `error` alone, when the body is none of them.
bool read_upstream_error(std::string_view body, Error& error);

// Maps an upstream error answer (status >= 400) to the error the client gets, with the
// upstream's status: the provider's own message and code (an error body in OpenAI's, Anthropic's
// or Databricks' shape is read, and relayed as it is to a client of the same shape); anything
// else is wrapped. A 401/403 means the gateway's provider credential was refused, which is not
// the client's fault: 502 — and retryable (another target's credential may work), as are 429s
// and 5xx.
Error upstream_status_error(unsigned status, std::string_view body, std::string_view retry_after,
                            std::string_view provider);

}  // namespace gatehouse::api
