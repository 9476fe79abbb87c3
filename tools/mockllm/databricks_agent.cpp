#include "databricks_agent.h"

#include <optional>
#include <string>

#include <boost/json/array.hpp>

#include "databricks.h"
#include "json_text.h"
#include "responses_request.h"
#include "shape_common.h"

namespace mockllm::databricks {
namespace json = boost::json;
namespace {

// A trace preview holds the start of the request and the answer, as MLflow's does.
constexpr std::size_t kPreviewCodePoints = 1000;

Reply bad(const std::string& message) { return error(400, "BAD_REQUEST", message); }

const json::value* present(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

// The checks MLflow's ResponsesAgentRequest model makes (pydantic): every item a message
// (`role`, `content` a string or a list) or an output item with a `type`; the optional fields
// of their types. Unknown fields are ignored, as the model ignores them.
std::optional<Reply> check(const json::object& req) {
  const json::array& input = req.at("input").get_array();
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::string at = "input[" + std::to_string(i) + "]";
    if (!input[i].is_object()) return bad("'" + at + "' must be a message or an output item");
    const json::object& item = input[i].get_object();
    const auto* type = item.if_contains("type");
    if (type && !type->is_string()) return bad("'" + at + ".type' must be a string");
    const std::string_view kind = type ? std::string_view(type->get_string()) : "message";
    if (kind == "message") {
      if (!item.contains("role") || !item.at("role").is_string()) {
        return bad("'" + at + ".role' is required and must be a string");
      }
      const auto* content = item.if_contains("content");
      if (!content || !(content->is_string() || content->is_array())) {
        return bad("'" + at + ".content' is required and must be a string or a list");
      }
    } else if (kind == "function_call") {
      for (std::string_view key : {"call_id", "name", "arguments"}) {
        if (!item.contains(key) || !item.at(key).is_string()) {
          return bad("'" + at + "." + std::string(key) + "' is required and must be a string");
        }
      }
    } else if (kind == "function_call_output") {
      for (std::string_view key : {"call_id", "output"}) {
        if (!item.contains(key) || !item.at(key).is_string()) {
          return bad("'" + at + "." + std::string(key) + "' is required and must be a string");
        }
      }
    }
  }
  if (const auto* v = present(req, "custom_inputs"); v && !v->is_object()) {
    return bad("'custom_inputs' must be an object");
  }
  if (const auto* context = present(req, "context")) {
    if (!context->is_object()) return bad("'context' must be an object");
    for (std::string_view key : {"conversation_id", "user_id"}) {
      if (const auto* v = present(context->get_object(), key); v && !v->is_string()) {
        return bad("'context." + std::string(key) + "' must be a string");
      }
    }
  }
  if (const auto* options = present(req, "databricks_options")) {
    if (!options->is_object()) return bad("'databricks_options' must be an object");
    if (const auto* v = present(options->get_object(), "return_trace"); v && !v->is_bool()) {
      return bad("'databricks_options.return_trace' must be a boolean");
    }
  }
  if (const auto* v = present(req, "stream"); v && !v->is_bool()) {
    return bad("'stream' must be a boolean");
  }
  return std::nullopt;
}

// Everything the agent's answer is made from.
struct AgentPlan {
  std::string response_id = shape::random_uuid();  // also the serving layer's request id
  std::string item_id = shape::random_uuid();
  shape::AnswerText text;
  std::string last_user_text;
  int input_tokens = 1;
  int cached_tokens = 0;
  const json::value* custom_inputs = nullptr;
  bool return_trace = false;
  int stream_error_after = -1;
};

void append_item(std::string& out, const AgentPlan& plan) {
  out += R"({"type":"message","id":)";
  append_json_string(out, plan.item_id);
  out += R"(,"role":"assistant","content":[{"type":"output_text","text":)";
  append_json_string(out, plan.text.text);
  out += "}]}";
}

// Optional in MLflow's ResponsesAgentResponse, and left out by most agents; the mock agent
// reports it so a gateway can meter agent calls.
void append_usage(std::string& out, const AgentPlan& plan) {
  const int output = plan.text.tokens();
  out += "{\"input_tokens\":";
  append_int(out, plan.input_tokens);
  out += R"(,"input_tokens_details":{"cached_tokens":)";
  append_int(out, plan.cached_tokens);
  out += "},\"output_tokens\":";
  append_int(out, output);
  out += R"(,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":)";
  append_int(out, plan.input_tokens + output);
  out += '}';
}

// What the serving layer adds: its request id and, with databricks_options.return_trace, the
// agent's MLflow trace. The trace is a stub: its info (ids, state, previews) and no spans.
void append_databricks_output(std::string& out, const AgentPlan& plan) {
  out += R"(,"databricks_output":{"databricks_request_id":)";
  append_json_string(out, plan.response_id);
  if (plan.return_trace) {
    std::string trace_id = "tr-";  // MLflow's form: tr- and 32 hex digits
    for (char c : shape::random_uuid()) {
      if (c != '-') trace_id += c;
    }
    out += R"(,"trace":{"info":{"trace_id":)";
    append_json_string(out, trace_id);
    out += ",\"request_id\":";
    append_json_string(out, trace_id);
    out += R"(,"state":"OK","request_preview":)";
    append_json_string(out, prefix_code_points(plan.last_user_text, kPreviewCodePoints));
    out += ",\"response_preview\":";
    append_json_string(out, prefix_code_points(plan.text.text, kPreviewCodePoints));
    out += R"(},"data":{"spans":[]}})";
  }
  out += '}';
}

// The ResponsesAgentResponse members after `output`.
void append_outcome(std::string& out, const AgentPlan& plan) {
  out += ",\"usage\":";
  append_usage(out, plan);
  if (plan.custom_inputs) {
    // The canonical agent returns custom_outputs=request.custom_inputs.
    out += ",\"custom_outputs\":";
    append_json_value(out, *plan.custom_inputs);
  }
}

Reply whole(const AgentPlan& plan) {
  Reply reply;
  std::string& out = reply.body;
  out += R"({"object":"response","id":)";
  append_json_string(out, plan.response_id);
  out += ",\"output\":[";
  append_item(out, plan);
  out += ']';
  append_outcome(out, plan);
  append_databricks_output(out, plan);
  out += '}';
  return reply;
}

// MLflow's ResponsesAgentStreamEvents as Databricks serving sends them: `data:` lines only, no
// sequence numbers, and `data: [DONE]` at the end.
Reply stream(const AgentPlan& plan) {
  Reply reply;
  reply.stream = true;
  reply.content_type = "text/event-stream";
  reply.headers.emplace_back("Cache-Control", "no-cache");
  for (int step = 0; step < plan.text.tokens(); ++step) {
    if (step == plan.stream_error_after) break;
    std::string e = R"(data: {"type":"response.output_text.delta","item_id":)";
    append_json_string(e, plan.item_id);
    e += ",\"delta\":";
    append_json_string(e, plan.text.delta(step));
    e += "}\n\n";
    reply.events.push_back({std::move(e), true});
  }
  if (plan.stream_error_after >= 0) {
    // MLflow's error event (ResponseErrorEvent), as an agent whose model failed yields it; the
    // stream then ends without [DONE].
    reply.events.push_back(
        {"data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The agent's "
         "model failed while answering.\",\"param\":null}\n\n",
         false});
    return reply;
  }
  std::string e = R"(data: {"type":"response.output_item.done","item":)";
  append_item(e, plan);
  e += "}\n\n";
  reply.events.push_back({std::move(e), false});
  // The closing summary an agent may yield (MLflow validates `response.completed` as a
  // Response): the usage, custom_outputs and the serving layer's databricks_output.
  e = R"(data: {"type":"response.completed","response":{"object":"response","id":)";
  append_json_string(e, plan.response_id);
  e += R"(,"status":"completed","output":[)";
  append_item(e, plan);
  e += ']';
  append_outcome(e, plan);
  e += '}';
  append_databricks_output(e, plan);
  e += "}\n\n";
  reply.events.push_back({std::move(e), false});
  reply.events.push_back({"data: [DONE]\n\n", false});
  return reply;
}

}  // namespace

bool is_agent_request(const json::object& request) {
  const auto* input = request.if_contains("input");
  const auto* items = input ? input->if_array() : nullptr;
  // The first element decides, as for the gateway; check() refuses a mix.
  return items && !items->empty() && items->front().is_object();
}

Reply agent_invocation(std::string_view endpoint, const json::object& request,
                       const Control& control) {
  if (auto refused = check(request)) return std::move(*refused);
  AgentPlan plan;
  const responses::InputSummary summary = responses::summarize_input(request.at("input"));
  plan.last_user_text = summary.last_user_text;
  plan.cached_tokens = control.cache_read_tokens;
  plan.input_tokens = shape::prompt_tokens_for(summary.code_points) + plan.cached_tokens;
  plan.custom_inputs = present(request, "custom_inputs");
  if (const auto* options = present(request, "databricks_options")) {
    const auto* trace = present(options->get_object(), "return_trace");
    plan.return_trace = trace && trace->get_bool();
  }
  plan.stream_error_after = control.stream_error_after;
  const bool guard = !control.reply && shape::is_guard_model(endpoint);
  plan.text = shape::answer_text(control, guard ? &plan.last_user_text : nullptr, std::nullopt);

  const auto* stream_flag = present(request, "stream");
  Reply reply = stream_flag && stream_flag->get_bool() ? stream(plan) : whole(plan);
  reply.headers.emplace_back("served-model-name", std::string(endpoint));
  return reply;
}

}  // namespace mockllm::databricks
