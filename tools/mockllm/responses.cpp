#include "responses.h"

#include <ctime>
#include <string>
#include <vector>

#include "json_text.h"
#include "openai.h"
#include "responses_request.h"
#include "shape_common.h"

namespace mockllm::responses {
namespace json = boost::json;
namespace {

// What the API says when a model fails after the stream has started.
constexpr std::string_view kServerError =
    "An error occurred while processing your request. You can retry your request, or contact "
    "us through our help center at help.openai.com if the error persists.";

enum class State { kInProgress, kCompleted, kIncomplete, kFailed };

std::string_view status_of(State s) {
  switch (s) {
    case State::kInProgress:
      return "in_progress";
    case State::kCompleted:
      return "completed";
    case State::kIncomplete:
      return "incomplete";
    default:
      return "failed";
  }
}

// One answer's identity, the same in every event of its stream.
struct Ids {
  std::string response = shape::random_id("resp_", 48);
  std::string item;  // msg_... or fc_...
  std::string call = shape::random_id("call_");
  std::int64_t created_at = std::time(nullptr);
};

void append_part(std::string& out, std::string_view text) {
  out += R"({"type":"output_text","annotations":[],"logprobs":[],"text":)";
  append_json_string(out, text);
  out += '}';
}

// The output item: the message (with its text part once one was added) or the function call.
void append_item(std::string& out, const Plan& plan, const Ids& ids, std::string_view status,
                 bool with_content) {
  out += "{\"id\":";
  append_json_string(out, ids.item);
  if (plan.tool_call) {
    out += R"(,"type":"function_call","status":")";
    out += status;
    out += "\",\"arguments\":";
    append_json_string(out, with_content ? std::string_view(plan.arguments) : "");
    out += ",\"call_id\":";
    append_json_string(out, ids.call);
    out += ",\"name\":";
    append_json_string(out, plan.tool_name);
    out += '}';
    return;
  }
  out += R"(,"type":"message","status":")";
  out += status;
  out += R"(","content":[)";
  if (with_content) append_part(out, plan.text.text);
  out += R"(],"role":"assistant"})";
}

// A setting the answer echoes: the request's value, or the API's default when it sent none.
void echo(std::string& out, const json::object& req, std::string_view key,
          std::string_view fallback) {
  out += ",\"";
  out += key;
  out += "\":";
  const auto* v = req.if_contains(key);
  if (v && !v->is_null()) {
    append_json_value(out, *v);
  } else {
    out += fallback;
  }
}

void append_usage(std::string& out, const Plan& plan) {
  out += "{\"input_tokens\":";
  append_int(out, plan.input_tokens);
  out += R"(,"input_tokens_details":{"cached_tokens":)";
  append_int(out, plan.cached_tokens);
  out += "},\"output_tokens\":";
  append_int(out, plan.output_tokens);
  out += R"(,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":)";
  append_int(out, plan.input_tokens + plan.output_tokens);
  out += '}';
}

// The Response object in the API's field order. Events before the end carry it in progress,
// with no output and no usage yet.
void append_response(std::string& out, const Plan& plan, const Ids& ids, State state) {
  const json::object& req = *plan.request;
  const bool done = state == State::kCompleted || state == State::kIncomplete;
  out += "{\"id\":";
  append_json_string(out, ids.response);
  out += R"(,"object":"response","created_at":)";
  append_int(out, ids.created_at);
  out += ",\"status\":\"";
  out += status_of(state);
  out += "\",\"background\":false,\"completed_at\":";
  if (done) {
    append_int(out, std::time(nullptr));
  } else {
    out += "null";
  }
  out += ",\"error\":";
  if (state == State::kFailed) {
    out += R"({"code":"server_error","message":)";
    append_json_string(out, kServerError);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"incomplete_details\":";
  out += state == State::kIncomplete ? R"({"reason":"max_output_tokens"})" : "null";
  echo(out, req, "instructions", "null");
  echo(out, req, "max_output_tokens", "null");
  echo(out, req, "max_tool_calls", "null");
  out += ",\"model\":";
  append_json_string(out, plan.model);
  out += ",\"output\":[";
  if (done) append_item(out, plan, ids, status_of(state), true);
  out += ']';
  echo(out, req, "parallel_tool_calls", "true");
  out += ",\"previous_response_id\":null";
  echo(out, req, "prompt_cache_key", "null");
  echo(out, req, "prompt_cache_retention", "null");
  echo(out, req, "reasoning", R"({"effort":null,"summary":null})");
  echo(out, req, "safety_identifier", "null");
  // The tier that served the request: "auto" (or none) is served by "default".
  const auto* tier = req.if_contains("service_tier");
  const bool auto_tier = !tier || !tier->is_string() || tier->get_string() == "auto";
  out += ",\"service_tier\":";
  append_json_string(out, auto_tier ? std::string_view("default") : tier->get_string());
  echo(out, req, "store", "true");
  echo(out, req, "temperature", "1.0");
  echo(out, req, "text", R"({"format":{"type":"text"},"verbosity":"medium"})");
  echo(out, req, "tool_choice", "\"auto\"");
  echo(out, req, "tools", "[]");
  echo(out, req, "top_logprobs", "0");
  echo(out, req, "top_p", "1.0");
  echo(out, req, "truncation", "\"disabled\"");
  out += ",\"usage\":";
  if (done) {
    append_usage(out, plan);
  } else {
    out += "null";
  }
  echo(out, req, "user", "null");
  echo(out, req, "metadata", "{}");
  if (const auto* custom = req.if_contains("custom_inputs"); plan.databricks && custom) {
    out += ",\"custom_outputs\":";
    append_json_value(out, *custom);
  }
  out += '}';
}

State final_state(const Plan& plan) {
  return !plan.tool_call && plan.text.cut ? State::kIncomplete : State::kCompleted;
}

Reply whole(const Plan& plan) {
  Ids ids;
  ids.item = shape::random_id(plan.tool_call ? "fc_" : "msg_", 48);
  Reply reply;
  reply.body.reserve(1024 + plan.text.text.size() + plan.arguments.size());
  append_response(reply.body, plan, ids, final_state(plan));
  return reply;
}

// The stream's events: `event: TYPE` and `data: {"type":TYPE,"sequence_number":N,...}`, numbered
// from 0, no [DONE] at the end.
class EventWriter {
 public:
  explicit EventWriter(Reply& reply) : reply_(reply) {}

  // `fields` are the event's own members after type and sequence_number, as JSON members.
  void add(std::string_view type, std::string_view fields, bool paced = false) {
    std::string e;
    e.reserve(type.size() * 2 + fields.size() + 64);
    e += "event: ";
    e += type;
    e += "\ndata: {\"type\":\"";
    e += type;
    e += "\",\"sequence_number\":";
    append_int(e, sequence_++);
    e += ',';
    e += fields;
    e += "}\n\n";
    reply_.events.push_back({std::move(e), paced});
  }

 private:
  Reply& reply_;
  std::int64_t sequence_ = 0;
};

std::string item_ref(const Ids& ids, bool content) {
  std::string out = "\"item_id\":";
  append_json_string(out, ids.item);
  out += content ? R"(,"output_index":0,"content_index":0)" : R"(,"output_index":0)";
  return out;
}

// Random padding on delta events (stream_options.include_obfuscation, on by default) that
// evens out their sizes against traffic analysis; clients ignore it.
void append_obfuscation(std::string& out, const Plan& plan) {
  if (!plan.obfuscation) return;
  out += ",\"obfuscation\":";
  append_json_string(out, shape::random_id("", 12));
}

Reply stream(const Plan& plan) {
  Ids ids;
  ids.item = shape::random_id(plan.tool_call ? "fc_" : "msg_", 48);
  Reply reply;
  reply.stream = true;
  reply.content_type = "text/event-stream; charset=utf-8";
  reply.headers.emplace_back("Cache-Control", "no-cache");
  EventWriter events(reply);

  std::string fields = "\"response\":";
  append_response(fields, plan, ids, State::kInProgress);
  events.add("response.created", fields);
  events.add("response.in_progress", fields);
  fields = "\"output_index\":0,\"item\":";
  append_item(fields, plan, ids, "in_progress", false);
  events.add("response.output_item.added", fields);

  const std::vector<std::string_view> pieces =
      plan.tool_call ? shape::argument_pieces(plan.arguments) : std::vector<std::string_view>();
  const int steps = plan.tool_call ? static_cast<int>(pieces.size()) : plan.text.tokens();
  if (!plan.tool_call) {
    fields = item_ref(ids, true) + ",\"part\":";
    append_part(fields, "");
    events.add("response.content_part.added", fields);
  }
  for (int step = 0; step < steps; ++step) {
    if (step == plan.stream_error_after) break;
    fields = item_ref(ids, !plan.tool_call);
    fields += ",\"delta\":";
    if (plan.tool_call) {
      append_json_string(fields, pieces[static_cast<std::size_t>(step)]);
    } else {
      append_json_string(fields, plan.text.delta(step));
      fields += ",\"logprobs\":[]";
    }
    append_obfuscation(fields, plan);
    events.add(
        plan.tool_call ? "response.function_call_arguments.delta" : "response.output_text.delta",
        fields, true);
  }
  if (plan.stream_error_after >= 0) {
    // What the API sends when the model fails mid-answer: an `error` event whose details are
    // nested under "error" (the SDKs raise it), then the response as failed.
    fields = R"("error":{"type":"server_error","code":"server_error","message":)";
    append_json_string(fields, kServerError);
    fields += ",\"param\":null}";
    events.add("error", fields);
    fields = "\"response\":";
    append_response(fields, plan, ids, State::kFailed);
    events.add("response.failed", fields);
    return reply;
  }

  const State state = final_state(plan);
  if (plan.tool_call) {
    fields = item_ref(ids, false) + ",\"name\":";
    append_json_string(fields, plan.tool_name);
    fields += ",\"arguments\":";
    append_json_string(fields, plan.arguments);
    events.add("response.function_call_arguments.done", fields);
  } else {
    fields = item_ref(ids, true) + ",\"text\":";
    append_json_string(fields, plan.text.text);
    fields += ",\"logprobs\":[]";
    events.add("response.output_text.done", fields);
    fields = item_ref(ids, true) + ",\"part\":";
    append_part(fields, plan.text.text);
    events.add("response.content_part.done", fields);
  }
  fields = "\"output_index\":0,\"item\":";
  append_item(fields, plan, ids, status_of(state), true);
  events.add("response.output_item.done", fields);
  fields = "\"response\":";
  append_response(fields, plan, ids, state);
  events.add(state == State::kIncomplete ? "response.incomplete" : "response.completed", fields);
  return reply;
}

}  // namespace

Reply create(const json::object& request, const Control& control, const Flavor& flavor) {
  Plan plan;
  plan.databricks = flavor.databricks;
  if (auto refused = read_request(request, control, plan)) return std::move(*refused);
  return plan.stream ? stream(plan) : whole(plan);
}

Reply not_found(std::string_view id) {
  return openai::error(404, "Response with id '" + std::string(id) + "' not found.",
                       "invalid_request_error");
}

}  // namespace mockllm::responses
