// A Responses client (OpenAI's Responses API: the OpenAI SDKs' `responses.create`, Codex CLI)
// reaching an OpenAI-shaped provider: a Responses request becomes a chat request (the hub's
// shape; hub.cpp takes it on to an Anthropic provider). The answers come back in
// responses_answer.cpp.
#include <algorithm>
#include <optional>

#include "translate/json_util.h"
#include "translate/translate.h"

namespace gatehouse::translate {

using namespace detail;

namespace {

Error unsupported(std::string message, std::string param) {
  return Error::bad_request(std::move(message), std::move(param));
}

// OpenAI refuses a `user` longer than this (as anthropic_to_openai.cpp knows too).
constexpr std::size_t kMaxUserLength = 64;

// Responses' reasoning.effort as chat's reasoning_effort: the same word where chat has it (none,
// minimal, low, medium, high); xhigh as high, the most every OpenAI reasoning model takes (as
// anthropic_to_openai.cpp does). Empty for a value OpenAI may add later: the provider's default
// is better than a guess.
std::string_view reasoning_effort_of(std::string_view effort) {
  if (effort == "none" || effort == "minimal" || effort == "low" || effort == "medium" ||
      effort == "high")
    return effort;
  if (effort == "xhigh") return "high";
  return {};
}

// The chat messages as they are built from `instructions` and `input`.
class ChatMessages {
 public:
  void append(json::object message) { messages_.push_back(std::move(message)); }

  // System text joins a system message right before it: `instructions` and Codex's developer
  // messages open a conversation together, and many chat templates take one system message at
  // its start and refuse a second.
  void append_system(std::string text) {
    if (!messages_.empty()) {
      auto& last = messages_.back().as_object();
      if (str(last, "role") == "system") {
        std::string joined(str(last, "content"));
        joined += "\n\n";
        joined += text;
        last["content"] = std::move(joined);
        return;
      }
    }
    messages_.push_back(json::object{{"role", "system"}, {"content", std::move(text)}});
  }

  // A function call joins the assistant message right before it (its text, or the calls before
  // it): the chat shape has one assistant message per turn, whose tool_calls the tool messages
  // that follow answer.
  void append_tool_call(json::object call) {
    if (!messages_.empty()) {
      auto& last = messages_.back().as_object();
      if (str(last, "role") == "assistant") {
        json::value& calls = last["tool_calls"];
        if (!calls.is_array()) calls = json::array{};
        calls.as_array().push_back(std::move(call));
        if (const json::value* c = last.if_contains("content");
            c && c->is_string() && c->get_string().empty()) {
          last["content"] = nullptr;
        }
        return;
      }
    }
    messages_.push_back(json::object{
        {"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array{std::move(call)}}});
  }

  json::array take() { return std::move(messages_); }

 private:
  json::array messages_;
};

// The input parts of a user message as chat parts (input_text, input_image); `where` names the
// item for a 400.
std::variant<json::array, Error> user_parts(const json::array& parts, const std::string& where) {
  json::array out;
  std::size_t j = 0;
  for (const auto& pv : parts) {
    std::string at = where + ".content[" + std::to_string(j++) + "]";
    if (!pv.is_object()) return unsupported(at + " must be a content part object", "input");
    const auto& part = pv.get_object();
    std::string_view type = str(part, "type");
    if (type == "input_text" || type == "output_text") {
      out.push_back(json::object{{"type", "text"}, {"text", str(part, "text")}});
    } else if (type == "input_image") {
      std::string_view url = str(part, "image_url");
      if (url.empty()) {
        return unsupported(at + ": an image given by file_id (or without image_url) cannot be sent "
                                "to a chat-completions "
                                "provider; send its URL or a data URL in image_url",
                           "input");
      }
      json::object image{{"url", url}};
      if (std::string_view detail = str(part, "detail"); !detail.empty()) image["detail"] = detail;
      out.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(image)}});
    } else {
      return unsupported(
          at + ": content parts of type '" + std::string(type) +
              "' cannot be sent to a chat-completions provider (input_text and input_image can)",
          "input");
    }
  }
  return out;
}

// The text of a system, developer or assistant message: a string, or its text parts joined
// (refusals count as text: an assistant said them). `separator` joins the parts.
std::variant<std::string, Error> message_text(const json::value& content, const std::string& where,
                                              std::string_view separator) {
  if (content.is_string()) return std::string(content.get_string());
  std::string text;
  std::size_t j = 0;
  bool first = true;
  for (const auto& pv : content.get_array()) {
    std::string at = where + ".content[" + std::to_string(j++) + "]";
    if (!pv.is_object()) return unsupported(at + " must be a content part object", "input");
    const auto& part = pv.get_object();
    std::string_view type = str(part, "type");
    std::string_view piece;
    if (type == "input_text" || type == "output_text") {
      piece = str(part, "text");
    } else if (type == "refusal") {
      piece = str(part, "refusal");
    } else {
      return unsupported(
          at + ": content parts of type '" + std::string(type) +
              "' cannot be sent to a chat-completions provider in this message (text parts can)",
          "input");
    }
    if (!first) text += separator;
    first = false;
    text += piece;
  }
  return text;
}

std::optional<Error> append_message_item(const json::object& item, const std::string& where,
                                         ChatMessages& chat) {
  std::string_view role = str(item, "role");
  const json::value* content = item.if_contains("content");
  if (!content || (!content->is_string() && !content->is_array())) {
    return unsupported(where + ".content must be a string or an array of content parts", "input");
  }
  if (role == "system" || role == "developer") {
    // Many chat servers have no developer role; system says the same to them.
    auto text = message_text(*content, where, "\n");
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    chat.append_system(std::move(std::get<std::string>(text)));
  } else if (role == "assistant") {
    auto text = message_text(*content, where, "");
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    chat.append(
        json::object{{"role", "assistant"}, {"content", std::move(std::get<std::string>(text))}});
  } else if (role == "user") {
    if (content->is_string()) {
      chat.append(json::object{{"role", "user"}, {"content", *content}});
      return std::nullopt;
    }
    auto parts = user_parts(content->get_array(), where);
    if (auto* e = std::get_if<Error>(&parts)) return std::move(*e);
    auto& p = std::get<json::array>(parts);
    // One text part is plain text, as most chat servers expect; none is an empty message.
    if (p.empty()) {
      chat.append(json::object{{"role", "user"}, {"content", ""}});
    } else if (p.size() == 1 && str(p[0].get_object(), "type") == "text") {
      chat.append(json::object{{"role", "user"}, {"content", p[0].get_object().at("text")}});
    } else {
      chat.append(json::object{{"role", "user"}, {"content", std::move(p)}});
    }
  } else {
    return unsupported(where + ".role must be \"user\", \"assistant\", \"system\" or \"developer\"",
                       "input");
  }
  return std::nullopt;
}

// A function_call_output's output: a string, or parts whose text parts are joined.
std::variant<std::string, Error> tool_output(const json::value* output, const std::string& where) {
  if (!output) return unsupported(where + ".output is required", "input");
  if (output->is_string()) return std::string(output->get_string());
  if (!output->is_array())
    return unsupported(where + ".output must be a string or an array of content parts", "input");
  std::string text;
  std::size_t j = 0;
  for (const auto& pv : output->get_array()) {
    std::string at = where + ".output[" + std::to_string(j++) + "]";
    std::string_view type = pv.is_object() ? str(pv.get_object(), "type") : std::string_view();
    if (type != "input_text" && type != "output_text") {
      return unsupported(at + ": a tool's output of type '" + std::string(type) +
                             "' cannot be sent to a chat-completions provider (text can)",
                         "input");
    }
    text += str(pv.get_object(), "text");
  }
  return text;
}

std::optional<Error> append_item(const json::value& iv, std::size_t i, ChatMessages& chat) {
  std::string where = "input[" + std::to_string(i) + "]";
  if (!iv.is_object()) return unsupported(where + " must be an input item object", "input");
  const auto& item = iv.get_object();
  std::string_view type = str(item, "type");
  if (type.empty() || type == "message") return append_message_item(item, where, chat);
  if ((type == "function_call" || type == "function_call_output") && str(item, "call_id").empty()) {
    return unsupported(where + ".call_id is required", "input");
  }
  if (type == "function_call") {
    if (str(item, "name").empty()) return unsupported(where + ".name is required", "input");
    std::string_view arguments = str(item, "arguments");
    chat.append_tool_call(json::object{
        {"id", str(item, "call_id")},
        {"type", "function"},
        {"function", json::object{{"name", str(item, "name")},
                                  {"arguments", arguments.empty() ? "{}" : arguments}}}});
    return std::nullopt;
  }
  if (type == "function_call_output") {
    auto text = tool_output(item.if_contains("output"), where);
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    chat.append(json::object{{"role", "tool"},
                             {"tool_call_id", str(item, "call_id")},
                             {"content", std::move(std::get<std::string>(text))}});
    return std::nullopt;
  }
  // The model's reasoning from an earlier turn (often only encrypted): chat has no place for it,
  // and the provider did not write it.
  if (type == "reasoning") return std::nullopt;
  // item_reference, built-in tools' calls and outputs (web_search_call, computer_call, mcp_*,
  // local_shell_call, custom_tool_call, ...): only OpenAI can read or run them.
  return unsupported(where + ": item type '" + std::string(type) +
                         "' cannot be sent to a chat-completions provider",
                     "input");
}

// `instructions`, then `input`, as chat messages.
std::variant<json::array, Error> chat_messages(const json::object& req) {
  ChatMessages chat;
  if (const json::value* instructions = req.if_contains("instructions");
      instructions && !instructions->is_null()) {
    if (!instructions->is_string())
      return unsupported("'instructions' must be a string", "instructions");
    if (!instructions->get_string().empty())
      chat.append_system(std::string(instructions->get_string()));
  }
  const json::value* input = req.if_contains("input");
  if (input && input->is_string()) {
    chat.append(json::object{{"role", "user"}, {"content", *input}});
  } else if (input && input->is_array()) {
    std::size_t i = 0;
    for (const auto& iv : input->get_array()) {
      if (auto e = append_item(iv, i++, chat)) return std::move(*e);
    }
  } else {
    return unsupported("'input' must be a string or an array of input items", "input");
  }
  json::array messages = chat.take();
  if (messages.empty())
    return unsupported("the request has no input a chat-completions provider can read", "input");
  return messages;
}

// The Responses members a chat request has no counterpart for that only OpenAI can honour: a 400
// rather than an answer that ignored them.
std::optional<Error> refuse_server_state(const json::object& req) {
  auto present = [&](std::string_view k) {
    const json::value* v = req.if_contains(k);
    return v && !v->is_null() && !(v->is_string() && v->get_string().empty());
  };
  if (present("previous_response_id")) {
    // The gateway replaces a previous_response_id it stored with that conversation's items
    // before it translates; one still here is one it does not have.
    return unsupported(
        "previous_response_id '" + std::string(str(req, "previous_response_id")) +
            "' could not be resolved: the gateway has no stored response with that id",
        "previous_response_id");
  }
  if (present("conversation")) {
    return unsupported(
        "'conversation' cannot be used with a chat-completions provider: send the conversation's "
        "items in 'input'",
        "conversation");
  }
  if (present("prompt")) {
    return unsupported(
        "'prompt' (a stored prompt template) cannot be used with a chat-completions provider",
        "prompt");
  }
  if (const json::value* b = req.if_contains("background"); b && b->is_bool() && b->get_bool()) {
    return unsupported("'background' responses cannot be made by a chat-completions provider",
                       "background");
  }
  return std::nullopt;
}

// Function tools as chat function tools; every other tool type (web_search, file_search,
// computer_use_preview, code_interpreter, local_shell, image_generation, mcp, custom, ...) is run
// by OpenAI itself and is left out, its type reported in `dropped`. Then tool_choice and
// parallel_tool_calls, which only mean something with tools.
std::optional<Error> convert_tools(const json::array& tools, const json::object& req,
                                   json::object& out, std::vector<std::string>* dropped) {
  json::array converted;
  std::size_t j = 0;
  for (const auto& tv : tools) {
    std::string at = "tools[" + std::to_string(j++) + "]";
    if (!tv.is_object()) return unsupported(at + " must be an object", "tools");
    const auto& tool = tv.get_object();
    std::string_view type = str(tool, "type");
    if (type != "function") {
      // The name goes into a response header: a tool type is a short identifier, anything else
      // is reported as "(other)" (never the client's bytes: no header injection).
      bool plain = !type.empty() && type.size() <= 64;
      for (char c : type) {
        plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-' || c == '.');
      }
      std::string name = type.empty() ? std::string("(untyped)") : plain ? std::string(type) : std::string("(other)");
      if (dropped && dropped->size() < 32 && std::find(dropped->begin(), dropped->end(), name) == dropped->end())
        dropped->push_back(name);
      continue;
    }
    if (str(tool, "name").empty()) return unsupported(at + ".name is required", "tools");
    json::object fn{{"name", str(tool, "name")}};
    if (!str(tool, "description").empty()) fn["description"] = str(tool, "description");
    if (const auto* params = obj(tool, "parameters")) fn["parameters"] = *params;
    if (const json::value* strict = tool.if_contains("strict"); strict && strict->is_bool())
      fn["strict"] = *strict;
    converted.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  if (converted.empty()) return std::nullopt;
  out["tools"] = std::move(converted);

  if (const json::value* tc = req.if_contains("tool_choice")) {
    if (tc->is_string()) {
      std::string_view s = tc->get_string();
      if (s == "auto" || s == "none" || s == "required") out["tool_choice"] = s;
    } else if (tc->is_object()) {
      const auto& choice = tc->get_object();
      std::string_view type = str(choice, "type");
      if (type == "function" && !str(choice, "name").empty()) {
        out["tool_choice"] = json::object{
            {"type", "function"}, {"function", json::object{{"name", str(choice, "name")}}}};
      } else if (type == "allowed_tools") {
        // Not every chat server takes allowed_tools: its mode alone keeps its intent loosely.
        std::string_view mode = str(choice, "mode");
        if (mode == "auto" || mode == "required") out["tool_choice"] = mode;
      }
      // A built-in tool's choice (web_search_preview, file_search, mcp, custom, ...): that tool
      // was left out, so the provider chooses among the rest.
    }
  }
  if (const json::value* p = req.if_contains("parallel_tool_calls"); p && p->is_bool())
    out["parallel_tool_calls"] = *p;
  return std::nullopt;
}

// text.format: a JSON schema or JSON object format as chat's response_format; plain text is the
// default. text.verbosity has no chat counterpart every server takes.
std::optional<Error> convert_text(const json::object& text, json::object& out) {
  const auto* format = obj(text, "format");
  if (!format) return std::nullopt;
  std::string_view type = str(*format, "type");
  if (type == "json_schema") {
    const auto* schema = obj(*format, "schema");
    if (!schema) return unsupported("text.format.schema must be an object", "text");
    json::object js{
        {"name", str(*format, "name").empty() ? std::string_view("output") : str(*format, "name")},
        {"schema", *schema}};
    if (const json::value* strict = format->if_contains("strict"); strict && strict->is_bool())
      js["strict"] = *strict;
    if (!str(*format, "description").empty()) js["description"] = str(*format, "description");
    out["response_format"] = json::object{{"type", "json_schema"}, {"json_schema", std::move(js)}};
  } else if (type == "json_object") {
    out["response_format"] = json::object{{"type", "json_object"}};
  } else if (type != "text") {
    return unsupported("text.format of type '" + std::string(type) +
                           "' cannot be sent to a chat-completions provider",
                       "text");
  }
  return std::nullopt;
}

// Sampling, the token limit, streaming and the end user: the settings both shapes have.
void copy_settings(const json::object& req, const ChatTarget& target, json::object& out) {
  if (const json::value* v = req.if_contains("max_output_tokens"); v && v->is_number())
    out["max_tokens"] = *v;
  for (std::string_view k : {"temperature", "top_p"}) {
    if (const json::value* v = req.if_contains(k); v && v->is_number()) out[k] = *v;
  }
  if (const json::value* s = req.if_contains("stream"); s && s->is_bool() && s->get_bool()) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};
  }
  std::string_view user = str(req, "user");
  if (user.empty()) user = str(req, "safety_identifier");
  if (!user.empty() && user.size() <= kMaxUserLength) out["user"] = user;
  if (target.reasoning_effort) {
    if (const auto* reasoning = obj(req, "reasoning")) {
      if (std::string_view effort = reasoning_effort_of(str(*reasoning, "effort"));
          !effort.empty()) {
        out["reasoning_effort"] = effort;
      }
    }
  }
  // Databricks' attribution map: a Databricks provider reads it as it would from a chat client.
  if (const auto* uc = obj(req, "usage_context")) out["usage_context"] = *uc;
}

}  // namespace

// Left out without a word, as a chat request has no counterpart for them: store (the gateway
// decides what it keeps), metadata, include, prompt_cache_key, prompt_cache_retention,
// client_metadata, context_management, truncation, service_tier, top_logprobs, stream_options,
// moderation, reasoning.summary, text.verbosity, and members the Responses API may add later (a
// chat provider would refuse a member it does not know).
std::variant<std::string, Error> responses_request_to_openai(std::string_view body,
                                                             const ChatTarget& target,
                                                             std::vector<std::string>* dropped) {
  json::value parsed;
  if (!parse_object(body, parsed))
    return Error::bad_request("the request body must be a JSON object");
  const auto& req = parsed.get_object();
  if (auto e = refuse_server_state(req)) return std::move(*e);

  auto messages = chat_messages(req);
  if (auto* e = std::get_if<Error>(&messages)) return std::move(*e);
  json::object out{{"messages", std::move(std::get<json::array>(messages))}};
  copy_settings(req, target, out);
  if (const auto* text = obj(req, "text")) {
    if (auto e = convert_text(*text, out)) return std::move(*e);
  }
  if (const auto* tools = arr(req, "tools"); tools && !tools->empty()) {
    if (auto e = convert_tools(*tools, req, out, dropped)) return std::move(*e);
  }
  return json::serialize(out);
}

}  // namespace gatehouse::translate
