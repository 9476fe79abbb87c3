#include "anthropic.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "json_text.h"
#include "shape_common.h"

namespace mockllm::anthropic {
namespace json = boost::json;
namespace {

std::string request_id() { return shape::random_id("req_011C", 20); }

Reply bad_request(std::string_view message) { return error(400, "invalid_request_error", message); }

bool is_string_of(const json::value* v, std::string_view s) {
  return v && v->is_string() && v->get_string() == s;
}

// Everything an answer is made from, read from the request once.
struct Plan {
  std::string model_json;  // the request's model, already a JSON string
  bool stream = false;
  int tokens = 8;          // output tokens: the text's deltas, or the tool call's
  shape::AnswerText text;  // a text answer (not a tool use)
  std::string_view stop_reason = "end_turn";
  std::string stop_sequence_json = "null";
  bool tool_use = false;
  std::string tool_name;
  std::string input;  // the tool_use input: JSON text
  int input_tokens = 1;
  int cache_read = 0;
  int cache_creation = 0;
  int stream_error_after = -1;
};

// Checks a content field: a string or an array of blocks (objects with a string `type`).
std::optional<std::string> bad_content(const json::value* content, std::string_view where) {
  if (!content) return std::string(where) + ": Field required";
  if (content->is_string()) return std::nullopt;
  if (!content->is_array()) return std::string(where) + ": Input should be a valid list";
  std::size_t i = 0;
  for (const auto& block : content->get_array()) {
    const auto* obj = block.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
      return std::string(where) + "." + std::to_string(i) + ".type: Field required";
    }
    ++i;
  }
  return std::nullopt;
}

// A system message's blocks must all be text.
std::optional<std::string> non_text_block(const json::value& content, std::string_view where) {
  const auto* blocks = content.if_array();
  if (!blocks) return std::nullopt;
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    if (!is_string_of((*blocks)[i].get_object().if_contains("type"), "text")) {
      return std::string(where) + "." + std::to_string(i) +
             ": system messages take text blocks only";
    }
  }
  return std::nullopt;
}

// thinking, output_config, context_management and metadata as the API checks them (Claude Code
// sends all four). `max_tokens` bounds an enabled thinking budget.
std::optional<std::string> bad_options(const json::object& req,
                                       std::optional<std::int64_t> max_tokens) {
  if (const auto* t = req.if_contains("thinking"); t && !t->is_null()) {
    const auto* thinking = t->if_object();
    const auto* type = thinking ? thinking->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return "thinking.type: Field required";
    const std::string_view kind = type->get_string();
    const bool budgeted = kind == "enabled";
    if (!budgeted && kind != "disabled" && kind != "adaptive" && kind != "between_tools") {
      return "thinking: Input tag '" + std::string(kind) +
             "' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', "
             "'adaptive', 'between_tools'";
    }
    std::optional<std::int64_t> budget;
    if (!shape::optional_int(*thinking, "budget_tokens", 1024, INT32_MAX, budget)) {
      return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
    }
    if (budgeted && !budget) return "thinking.enabled.budget_tokens: Field required";
    if (!budgeted && budget)
      return "thinking." + std::string(kind) + ".budget_tokens: Extra inputs are not permitted";
    if (budget && max_tokens && *budget >= *max_tokens) {
      return "`max_tokens` must be greater than `thinking.budget_tokens`";
    }
  }
  if (const auto* o = req.if_contains("output_config"); o && !o->is_null()) {
    const auto* config = o->if_object();
    if (!config) return "output_config: Input should be a valid dictionary";
    if (const auto* e = config->if_contains("effort"); e && !e->is_null()) {
      const std::string_view effort = e->is_string() ? std::string_view(e->get_string()) : "";
      if (effort != "low" && effort != "medium" && effort != "high" && effort != "xhigh" &&
          effort != "max") {
        return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";
      }
    }
    if (const auto* f = config->if_contains("format"); f && !f->is_null()) {
      const auto* format = f->if_object();
      const auto* schema = format ? format->if_contains("schema") : nullptr;
      if (!format || !is_string_of(format->if_contains("type"), "json_schema") || !schema ||
          !schema->is_object()) {
        return "output_config.format: Input should be {\"type\": \"json_schema\", \"schema\": "
               "{...}}";
      }
    }
  }
  if (const auto* c = req.if_contains("context_management"); c && !c->is_null()) {
    const auto* cm = c->if_object();
    if (!cm) return "context_management: Input should be a valid dictionary";
    if (const auto* e = cm->if_contains("edits"); e && !e->is_null()) {
      if (!e->is_array()) return "context_management.edits: Input should be a valid list";
      for (std::size_t i = 0; i < e->get_array().size(); ++i) {
        const auto* edit = e->get_array()[i].if_object();
        const auto* type = edit ? edit->if_contains("type") : nullptr;
        if (!type || !type->is_string()) {
          return "context_management.edits." + std::to_string(i) + ".type: Field required";
        }
      }
    }
  }
  if (const auto* m = req.if_contains("metadata"); m && !m->is_null()) {
    const auto* metadata = m->if_object();
    if (!metadata) return "metadata: Input should be a valid dictionary";
    if (const auto* u = metadata->if_contains("user_id"); u && !u->is_null()) {
      if (!u->is_string()) return "metadata.user_id: Input should be a valid string";
      if (u->get_string().size() > 256)
        return "metadata.user_id: String should have at most 256 characters";
    }
  }
  return std::nullopt;
}

bool has_tool_result(const json::value& content) {
  const auto* blocks = content.if_array();
  if (!blocks) return false;
  for (const auto& block : *blocks) {
    const auto* obj = block.if_object();
    if (obj && is_string_of(obj->if_contains("type"), "tool_result")) return true;
  }
  return false;
}

// What the input counts as: `model`, `system` and `messages` checked, `input_tokens` counted
// (system and all message text, tool results included). Shared by messages and count_tokens.
std::optional<Reply> read_prompt(const json::object& req, Plan& plan,
                                 const json::value*& last_user_content) {
  const auto* model = req.if_contains("model");
  if (!model) return bad_request("model: Field required");
  if (!model->is_string()) return bad_request("model: Input should be a valid string");
  append_json_string(plan.model_json, model->get_string());

  const auto* messages_value = req.if_contains("messages");
  if (!messages_value) return bad_request("messages: Field required");
  if (!messages_value->is_array()) return bad_request("messages: Input should be a valid list");
  const json::array& messages = messages_value->get_array();
  if (messages.empty()) return bad_request("messages: at least one message is required");

  std::size_t chars = 0;
  if (const auto* system = req.if_contains("system"); system && !system->is_null()) {
    if (auto bad = bad_content(system, "system")) return bad_request(*bad);
    chars += shape::text_code_points(*system);
  }
  last_user_content = nullptr;
  bool after_user = false;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string where = "messages." + std::to_string(i);
    const auto* msg = messages[i].if_object();
    if (!msg) return bad_request(where + ": Input should be a valid dictionary");
    const auto* role = msg->if_contains("role");
    const bool user = is_string_of(role, "user");
    const bool system = is_string_of(role, "system");
    if (!user && !system && !is_string_of(role, "assistant")) {
      return bad_request(where + ".role: Input should be 'user', 'assistant' or 'system'");
    }
    const auto* content = msg->if_contains("content");
    if (auto bad = bad_content(content, where + ".content")) return bad_request(*bad);
    if (system) {
      // Mid-conversation system messages come after a user turn; leading instructions belong in
      // the top-level `system` (a gateway that puts them here fails, as against the real API).
      if (!after_user) {
        return bad_request(where +
                           ": a system message must come after a user turn; put leading "
                           "instructions in the top-level `system`");
      }
      if (auto bad = non_text_block(*content, where + ".content")) return bad_request(*bad);
    }
    chars += shape::text_code_points(*content);
    if (user) {
      last_user_content = content;
      after_user = true;
    }
  }
  plan.input_tokens = shape::prompt_tokens_for(chars);
  return std::nullopt;
}

std::optional<Reply> read_request(const json::object& req, const Control& control, Plan& plan) {
  const json::value* last_user_content = nullptr;
  if (auto bad = read_prompt(req, plan, last_user_content)) return bad;

  const auto* max_tokens = req.if_contains("max_tokens");
  if (!max_tokens || max_tokens->is_null()) return bad_request("max_tokens: Field required");
  std::optional<std::int64_t> limit;
  if (!shape::optional_int(req, "max_tokens", 1, INT32_MAX, limit)) {
    return bad_request("max_tokens: Input should be an integer greater than or equal to 1");
  }

  if (auto bad = bad_options(req, limit)) return bad_request(*bad);

  plan.cache_read = control.cache_read_tokens;
  plan.cache_creation = control.cache_creation_tokens;
  plan.stream_error_after = control.stream_error_after;

  if (!shape::optional_bool(req, "stream", plan.stream)) {
    return bad_request("stream: Input should be a valid boolean");
  }

  const json::string* first_stop = nullptr;
  if (const auto* stops = req.if_contains("stop_sequences"); stops && !stops->is_null()) {
    if (!stops->is_array()) return bad_request("stop_sequences: Input should be a valid list");
    for (const auto& s : stops->get_array()) {
      if (!s.is_string()) return bad_request("stop_sequences: Input should be a valid string");
      if (!first_stop) first_stop = &s.get_string();
    }
  }

  const json::array* tools = nullptr;
  if (const auto* t = req.if_contains("tools"); t && !t->is_null()) {
    if (!t->is_array()) return bad_request("tools: Input should be a valid list");
    tools = &t->get_array();
    for (std::size_t i = 0; i < tools->size(); ++i) {
      const auto* tool = (*tools)[i].if_object();
      const auto* name = tool ? tool->if_contains("name") : nullptr;
      if (!name || !name->is_string()) {
        return bad_request("tools." + std::to_string(i) + ".name: Field required");
      }
    }
  }
  const json::object* choice = nullptr;
  if (const auto* c = req.if_contains("tool_choice"); c && !c->is_null()) {
    choice = c->if_object();
    const auto* type = choice ? choice->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return bad_request("tool_choice.type: Field required");
    const std::string_view t = type->get_string();
    if (t != "auto" && t != "any" && t != "tool" && t != "none") {
      return bad_request(
          "tool_choice: Input tag '" + std::string(t) +
          "' found using 'type' does not match any of the expected tags: 'auto', 'any', "
          "'tool', 'none'");
    }
    if (t == "tool" && !choice->if_contains("name")) {
      return bad_request("tool_choice.tool.name: Field required");
    }
  }

  // Tools: call one whenever the caller offers tools and did not just hand back a result.
  const bool choice_none = choice && is_string_of(choice->if_contains("type"), "none");
  if (tools && !tools->empty() && !choice_none &&
      !(last_user_content && has_tool_result(*last_user_content))) {
    plan.tool_use = true;
    plan.stop_reason = "tool_use";
    const json::value* name = nullptr;
    if (choice && is_string_of(choice->if_contains("type"), "tool")) {
      name = choice->if_contains("name");
    }
    if (!name || !name->is_string()) name = tools->front().get_object().if_contains("name");
    plan.tool_name = std::string(name->get_string());
    std::string user_text;
    if (last_user_content) shape::append_text(*last_user_content, user_text);
    plan.input = shape::echo_arguments(user_text);
    plan.tokens = control.tokens;
    if (limit && *limit < plan.tokens) plan.tokens = static_cast<int>(*limit);
    return std::nullopt;
  }
  std::string guard_input;
  const bool guard =
      !control.reply && shape::is_guard_model(req.at("model").get_string());  // checked a string
  if (guard && last_user_content) shape::append_text(*last_user_content, guard_input);
  plan.text = shape::answer_text(control, guard ? &guard_input : nullptr, limit);
  plan.tokens = plan.text.tokens();
  if (first_stop && control.stop_sequence_hit) {  // wins over a cut, as before
    plan.stop_reason = "stop_sequence";
    plan.stop_sequence_json.clear();
    append_json_string(plan.stop_sequence_json, *first_stop);
  } else if (plan.text.cut) {
    plan.stop_reason = "max_tokens";
  }
  return std::nullopt;
}

void append_usage(std::string& out, const Plan& plan, int output_tokens) {
  out += "{\"input_tokens\":";
  append_int(out, plan.input_tokens);
  out += ",\"cache_creation_input_tokens\":";
  append_int(out, plan.cache_creation);
  out += ",\"cache_read_input_tokens\":";
  append_int(out, plan.cache_read);
  out += ",\"output_tokens\":";
  append_int(out, output_tokens);
  out += '}';
}

// The message object up to its content: `"id":...,"model":...,"content":`.
void append_message_head(std::string& out, const Plan& plan, std::string_view id) {
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  out += plan.model_json;
  out += ",\"content\":";
}

void append_tool_use_block(std::string& out, const Plan& plan, std::string_view id,
                           std::string_view input) {
  out += "{\"type\":\"tool_use\",\"id\":";
  append_json_string(out, id);
  out += ",\"name\":";
  append_json_string(out, plan.tool_name);
  out += ",\"input\":";
  out += input;
  out += '}';
}

Reply answer(const Plan& plan) {
  Reply reply;
  std::string& out = reply.body;
  out.reserve(512);
  append_message_head(out, plan, shape::random_id("msg_01", 22));
  out += '[';
  if (plan.tool_use) {
    append_tool_use_block(out, plan, shape::random_id("toolu_01", 22), plan.input);
  } else {
    out += "{\"type\":\"text\",\"text\":";
    append_json_string(out, plan.text.text);
    out += '}';
  }
  out += "],\"stop_reason\":\"";
  out += plan.stop_reason;
  out += "\",\"stop_sequence\":";
  out += plan.stop_sequence_json;
  out += ",\"usage\":";
  append_usage(out, plan, plan.tokens);
  out += '}';
  return reply;
}

void add_event(Reply& reply, std::string_view name, std::string_view data, bool paced = false) {
  std::string e;
  e.reserve(name.size() + data.size() + 16);
  e += "event: ";
  e += name;
  e += "\ndata: ";
  e += data;
  e += "\n\n";
  reply.events.push_back({std::move(e), paced});
}

void add_delta(Reply& reply, std::string_view delta_type, std::string_view field,
               std::string_view text) {
  std::string data = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"";
  data += delta_type;
  data += "\",\"";
  data += field;
  data += "\":";
  append_json_string(data, text);
  data += "}}";
  add_event(reply, "content_block_delta", data, true);
}

// message_start, one content block (text or tool_use) with its deltas, message_delta,
// message_stop — the order Anthropic sends them in.
Reply stream(const Plan& plan) {
  Reply reply;
  reply.stream = true;
  reply.content_type = "text/event-stream";
  reply.headers.emplace_back("Cache-Control", "no-cache");

  std::string data = "{\"type\":\"message_start\",\"message\":";
  append_message_head(data, plan, shape::random_id("msg_01", 22));
  data += "[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
  append_usage(data, plan, 1);
  data += "}}";
  add_event(reply, "message_start", data);

  data = "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":";
  if (plan.tool_use) {
    append_tool_use_block(data, plan, shape::random_id("toolu_01", 22), "{}");
  } else {
    data += "{\"type\":\"text\",\"text\":\"\"}";
  }
  data += '}';
  add_event(reply, "content_block_start", data);
  add_event(reply, "ping", "{\"type\":\"ping\"}");

  const std::vector<std::string_view> pieces =
      plan.tool_use ? shape::argument_pieces(plan.input) : std::vector<std::string_view>();
  const int steps = plan.tool_use ? static_cast<int>(pieces.size()) : plan.tokens;
  for (int step = 0; step < steps; ++step) {
    if (step == plan.stream_error_after) break;
    if (plan.tool_use) {
      add_delta(reply, "input_json_delta", "partial_json", pieces[static_cast<std::size_t>(step)]);
    } else {
      add_delta(reply, "text_delta", "text", plan.text.delta(step));
    }
  }
  if (plan.stream_error_after >= 0) {
    // What Anthropic sends when it runs out of capacity mid-answer; the SDKs raise it.
    add_event(reply, "error",
              "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
              "\"Overloaded\"}}");
    return reply;
  }

  add_event(reply, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
  data = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
  data += plan.stop_reason;
  data += "\",\"stop_sequence\":";
  data += plan.stop_sequence_json;
  data += "},\"usage\":{\"output_tokens\":";
  append_int(data, plan.tokens);
  data += "}}";
  add_event(reply, "message_delta", data);
  add_event(reply, "message_stop", "{\"type\":\"message_stop\"}");
  return reply;
}

}  // namespace

std::string_view error_type(unsigned status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 409:
      return "conflict_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

Reply error(unsigned status, std::string_view type, std::string_view message) {
  const std::string id = request_id();
  Reply reply;
  reply.status = status;
  std::string& out = reply.body;
  out += "{\"type\":\"error\",\"error\":{\"type\":";
  append_json_string(out, type);
  out += ",\"message\":";
  append_json_string(out, message);
  out += "},\"request_id\":";
  append_json_string(out, id);
  out += '}';
  reply.headers.emplace_back("request-id", id);
  return reply;
}

Reply injected_error(const Control& control) {
  const auto status = static_cast<unsigned>(control.status);
  const std::string_view type = error_type(status);
  return shape::injected(control,
                         error(status, type,
                               type == "overloaded_error"
                                   ? std::string("Overloaded")
                                   : "mockllm injected status " + std::to_string(control.status)));
}

Reply count_tokens(const json::object& request) {
  Plan plan;
  const json::value* last_user_content = nullptr;
  if (auto bad = read_prompt(request, plan, last_user_content)) return std::move(*bad);
  Reply reply;
  reply.body = "{\"input_tokens\":";
  append_int(reply.body, plan.input_tokens);
  reply.body += '}';
  reply.headers.emplace_back("request-id", request_id());
  return reply;
}

Reply messages(const json::object& request, const Control& control) {
  Plan plan;
  if (auto bad = read_request(request, control, plan)) return std::move(*bad);
  Reply reply = plan.stream ? stream(plan) : answer(plan);
  reply.headers.emplace_back("request-id", request_id());
  return reply;
}

}  // namespace mockllm::anthropic
