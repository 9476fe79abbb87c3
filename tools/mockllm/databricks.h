// The Databricks Model Serving wire shape: POST /serving-endpoints/{name}/invocations with an
// OpenAI-shaped body (chat when it has `messages`, embeddings when it has `input`), answered
// as OpenAI would but with `model` = the endpoint name, a `served-model-name` header and, in
// streams, a running `usage` on every chunk. An `input` of items (objects) is an agent's
// ResponsesAgent request instead (databricks_agent.h). Errors take Databricks' shape:
// `{"error_code":"...","message":"..."}`.
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/object.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::databricks {

// The error_code Databricks uses for an HTTP status: 400 BAD_REQUEST, 401 UNAUTHENTICATED,
// 403 PERMISSION_DENIED, 404 ENDPOINT_NOT_FOUND, 409 RESOURCE_CONFLICT,
// 429 REQUEST_LIMIT_EXCEEDED, 500 INTERNAL_ERROR, 501 NOT_IMPLEMENTED,
// 503 TEMPORARILY_UNAVAILABLE, 504 DEADLINE_EXCEEDED; other 4xx BAD_REQUEST, other 5xx
// INTERNAL_ERROR.
std::string_view error_code(unsigned status);

// `{"error_code":...,"message":...}`.
Reply error(unsigned status, std::string_view code, std::string_view message);

// The answer for a request whose Control asks for an error status.
Reply injected_error(const Control& control);

// The endpoint name in `/serving-endpoints/{name}/invocations`, or nullopt for another path.
std::optional<std::string_view> invocations_endpoint(std::string_view path);

// POST /serving-endpoints/{endpoint}/invocations: chat, embeddings or an agent's answer. The
// request's `model`, if any, is ignored.
Reply invocations(std::string_view endpoint, const boost::json::object& request,
                  const Control& control);

}  // namespace mockllm::databricks
