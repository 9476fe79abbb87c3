// Databricks agent endpoints: POST /serving-endpoints/{name}/invocations with the body of an
// MLflow ResponsesAgent (mlflow.types.responses.ResponsesAgentRequest: Responses `input` items,
// `custom_inputs`, `context`, `databricks_options`, `stream`), answered as a deployed agent
// answers: a ResponsesAgentResponse, or its stream events as `data:` lines ending in
// `data: [DONE]`. Errors take Databricks' shape, like the endpoint's other invocations.
//
// A deployed agent runs its own tools, so the mock agent always answers in text, whatever
// tools the request lists.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "control.h"
#include "reply.h"

namespace mockllm::databricks {

// Whether an invocation is a ResponsesAgent request: its `input` is an array of items (its first
// element an object), where an embeddings request has a string, strings or token ids.
bool is_agent_request(const boost::json::object& request);

// The agent's answer. `endpoint` names the agent (and makes it a classifier stand-in when it
// contains "guard"). The body is checked as the agent's input schema would check it.
Reply agent_invocation(std::string_view endpoint, const boost::json::object& request,
                       const Control& control);

}  // namespace mockllm::databricks
