// An Anthropic client (the Anthropic SDK, Claude Code) reaching an OpenAI-shaped provider
// (OpenAI-compatible or Databricks): Messages requests become chat requests; chat completions,
// chunks and errors come back as messages and Messages stream events.
#include <optional>
#include <random>
#include <vector>

#include "http/sse.h"
#include "translate/json_util.h"
#include "translate/translate.h"

namespace gatehouse::translate {

using namespace detail;

namespace {

Error unsupported(std::string message, std::string param) {
  return Error::bad_request(std::move(message), std::move(param));
}

// Text of a `system` value or a tool_result's content: a string or text blocks.
std::string block_text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  std::string out;
  if (!v.is_array()) return out;
  for (const auto& b : v.get_array()) {
    if (!b.is_object() || str(b.get_object(), "type") != "text") continue;
    if (!out.empty()) out += "\n";
    out += str(b.get_object(), "text");
  }
  return out;
}

std::variant<json::object, Error> image_part(const json::object& block, const std::string& where) {
  const auto* source = obj(block, "source");
  if (!source) return unsupported(where + ".source is required", "messages");
  std::string_view type = str(*source, "type");
  if (type == "base64") {
    return json::object{{"type", "image_url"},
                        {"image_url", json::object{{"url", "data:" + std::string(str(*source, "media_type")) +
                                                               ";base64," + std::string(str(*source, "data"))}}}};
  }
  if (type == "url") {
    return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", str(*source, "url")}}}};
  }
  return unsupported(where + ": image sources of type '" + std::string(type) +
                         "' cannot be sent to this provider (base64 and url can)",
                     "messages");
}

// An answer's content: a string, or (Databricks reasoning models) a list of parts whose text
// parts are the answer; reasoning parts are left out.
std::string content_text(const json::value* content) {
  if (!content) return {};
  if (content->is_string()) return std::string(content->get_string());
  std::string out;
  if (!content->is_array()) return out;
  for (const auto& p : content->get_array()) {
    if (p.is_object() && str(p.get_object(), "type") == "text") out += str(p.get_object(), "text");
  }
  return out;
}

// Anthropic's output_config.effort as OpenAI's reasoning_effort: the same word where both have
// it; xhigh and max as high, the most every OpenAI reasoning model takes. Empty for a value
// Anthropic may add later: the provider's default is better than a guess.
std::string_view reasoning_effort_of(std::string_view effort) {
  if (effort == "low" || effort == "medium" || effort == "high") return effort;
  if (effort == "xhigh" || effort == "max") return "high";
  return {};
}

// OpenAI refuses a `user` longer than this; Claude Code's metadata.user_id (a JSON object as
// text, ~160 characters) is longer.
constexpr std::size_t kMaxUserLength = 64;

std::string_view stop_reason_of(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

// OpenAI usage as Anthropic's: input_tokens excludes the cached part, which is reported apart.
json::object usage_of(const json::object* u) {
  std::int64_t prompt = u ? integer(*u, "prompt_tokens") : 0;
  std::int64_t cached = 0;
  if (u) {
    if (const auto* d = obj(*u, "prompt_tokens_details")) cached = integer(*d, "cached_tokens");
  }
  return {{"input_tokens", prompt - cached},
          {"output_tokens", u ? integer(*u, "completion_tokens") : 0},
          {"cache_creation_input_tokens", u ? integer(*u, "cache_creation_input_tokens") : 0},
          {"cache_read_input_tokens", cached}};
}

std::string message_id(std::string_view upstream_id) {
  if (upstream_id.starts_with("msg_")) return std::string(upstream_id);
  if (!upstream_id.empty()) return "msg_" + std::string(upstream_id);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string("msg_gh") + buf;
}

// The arguments text of a tool call as the `input` object; {} when it is not a JSON object.
json::value tool_input(std::string_view arguments) {
  json::error_code ec;
  json::value v = json::parse(arguments, ec);
  if (ec || !v.is_object()) return json::object{};
  return v;
}

class OpenAIToAnthropic final : public ResponseTranslator {
 public:
  std::variant<std::string, Error> body(std::string_view upstream) override {
    json::value v;
    if (!parse_object(upstream, v)) return Error::upstream_protocol("the provider's answer is not a JSON object");
    const auto& r = v.get_object();
    const auto* choices = arr(r, "choices");
    if (!choices || choices->empty() || !(*choices)[0].is_object()) {
      return Error::upstream_protocol("the provider's answer has no choices");
    }
    const auto& choice = (*choices)[0].get_object();
    json::array content;
    if (const auto* m = obj(choice, "message")) {
      if (std::string text = content_text(m->if_contains("content")); !text.empty()) {
        content.push_back(json::object{{"type", "text"}, {"text", text}});
      }
      if (const auto* calls = arr(*m, "tool_calls")) {
        for (const auto& cv : *calls) {
          if (!cv.is_object()) continue;
          const auto* fn = obj(cv.get_object(), "function");
          content.push_back(json::object{{"type", "tool_use"},
                                         {"id", str(cv.get_object(), "id")},
                                         {"name", fn ? str(*fn, "name") : ""},
                                         {"input", tool_input(fn ? str(*fn, "arguments") : "")}});
        }
      }
    }
    json::object out{{"id", message_id(str(r, "id"))},
                     {"type", "message"},
                     {"role", "assistant"},
                     {"model", str(r, "model")},
                     {"content", std::move(content)},
                     {"stop_reason", stop_reason_of(str(choice, "finish_reason"))},
                     {"stop_sequence", nullptr},
                     {"usage", usage_of(obj(r, "usage"))}};
    return json::serialize(out);
  }

  void event(std::string_view event, std::string& out) override {
    if (done_) return;
    std::string data = http::event_data(event);
    if (data == "[DONE]") {
      end_message(out);
      return;
    }
    json::value v;
    if (!parse_object(data, v)) return;
    const auto& c = v.get_object();
    if (const auto* err = obj(c, "error")) {
      std::string message(str(*err, "message"));
      if (message.empty()) message = "the provider reported an error mid-stream";
      append_named_event(out, "error",
                         json::object{{"type", "error"},
                                      {"error", json::object{{"type", "api_error"}, {"message", message}}}});
      done_ = true;
      return;
    }
    if (!started_) {
      started_ = true;
      json::object usage = usage_of(obj(c, "usage"));
      usage["output_tokens"] = 0;
      append_named_event(out, "message_start",
                         json::object{{"type", "message_start"},
                                      {"message", json::object{{"id", message_id(str(c, "id"))},
                                                               {"type", "message"},
                                                               {"role", "assistant"},
                                                               {"model", str(c, "model")},
                                                               {"content", json::array{}},
                                                               {"stop_reason", nullptr},
                                                               {"stop_sequence", nullptr},
                                                               {"usage", std::move(usage)}}}});
    }
    // Databricks puts a running usage on every chunk, OpenAI one at the end: keep the last.
    if (const auto* u = obj(c, "usage")) usage_ = *u;
    const auto* choices = arr(c, "choices");
    if (!choices || choices->empty() || !(*choices)[0].is_object()) return;
    const auto& choice = (*choices)[0].get_object();
    if (const auto* delta = obj(choice, "delta")) {
      if (std::string text = content_text(delta->if_contains("content")); !text.empty()) {
        if (open_ != Open::kText) {
          close_block(out);
          open_block(out, json::object{{"type", "text"}, {"text", ""}}, Open::kText);
        }
        delta_event(out, json::object{{"type", "text_delta"}, {"text", text}});
      }
      if (const auto* calls = arr(*delta, "tool_calls")) {
        for (const auto& cv : *calls) {
          if (!cv.is_object()) continue;
          const auto& call = cv.get_object();
          std::int64_t index = integer(call, "index");
          const auto* fn = obj(call, "function");
          // A new tool call has a new index, or (some servers) a new id; many servers repeat the
          // same id on every chunk of one call.
          std::string_view call_id = str(call, "id");
          if (open_ != Open::kTool || index != tool_index_ || (!call_id.empty() && call_id != tool_id_)) {
            close_block(out);
            tool_index_ = index;
            std::string id(call_id);
            if (id.empty()) id = "toolu_gh" + std::to_string(block_ + 1);
            tool_id_ = id;
            open_block(out,
                       json::object{{"type", "tool_use"},
                                    {"id", id},
                                    {"name", fn ? str(*fn, "name") : ""},
                                    {"input", json::object{}}},
                       Open::kTool);
          }
          if (fn && !str(*fn, "arguments").empty()) {
            delta_event(out, json::object{{"type", "input_json_delta"}, {"partial_json", str(*fn, "arguments")}});
          }
        }
      }
    }
    if (std::string_view f = str(choice, "finish_reason"); !f.empty()) finish_reason_ = f;
  }

  void finish(std::string& out) override {
    if (done_) return;
    if (!finish_reason_.empty()) {  // ended without [DONE]: the answer itself was complete
      end_message(out);
      return;
    }
    append_named_event(out, "error",
                       json::object{{"type", "error"},
                                    {"error", json::object{{"type", "api_error"},
                                                           {"message", "the provider's stream ended before its end"}}}});
    done_ = true;
  }

 private:
  enum class Open { kNone, kText, kTool };

  void open_block(std::string& out, json::object block, Open kind) {
    ++block_;
    append_named_event(out, "content_block_start",
                       json::object{{"type", "content_block_start"}, {"index", block_}, {"content_block", std::move(block)}});
    open_ = kind;
  }
  void close_block(std::string& out) {
    if (open_ == Open::kNone) return;
    append_named_event(out, "content_block_stop", json::object{{"type", "content_block_stop"}, {"index", block_}});
    open_ = Open::kNone;
  }
  void delta_event(std::string& out, json::object delta) {
    append_named_event(out, "content_block_delta",
                       json::object{{"type", "content_block_delta"}, {"index", block_}, {"delta", std::move(delta)}});
  }
  void end_message(std::string& out) {
    if (!started_) {
      finish_reason_.clear();
      done_ = false;
      append_named_event(out, "error",
                         json::object{{"type", "error"},
                                      {"error", json::object{{"type", "api_error"},
                                                             {"message", "the provider's stream ended without an answer"}}}});
      done_ = true;
      return;
    }
    close_block(out);
    json::object usage = usage_of(&usage_);
    append_named_event(out, "message_delta",
                       json::object{{"type", "message_delta"},
                                    {"delta", json::object{{"stop_reason", stop_reason_of(finish_reason_)},
                                                           {"stop_sequence", nullptr}}},
                                    {"usage", std::move(usage)}});
    append_named_event(out, "message_stop", json::object{{"type", "message_stop"}});
    done_ = true;
  }

  bool started_ = false;
  bool done_ = false;
  Open open_ = Open::kNone;
  std::int64_t block_ = -1;       // index of the last content block opened
  std::int64_t tool_index_ = -1;  // the OpenAI tool call index the open tool_use block is for
  std::string tool_id_;           // and its id
  std::string finish_reason_;
  json::object usage_;
};

// The chat `messages` as they are built from an Anthropic request. A system message inside
// `messages` (Anthropic takes them after the first user turn; Claude Code sends them) stays where
// it is, except between an assistant's tool calls and their results: the chat shape wants the
// tool messages right after the calls, so it waits in `held` for them.
struct ChatMessages {
  json::array messages;
  std::vector<json::object> held;
  bool calls_pending = false;

  void release_held() {
    for (auto& h : held) messages.push_back(std::move(h));
    held.clear();
  }
};

// What the content blocks of one message become: a user's parts, an assistant's text and tool
// calls. (A user's tool results are messages of their own, appended as they are met.)
struct ConvertedBlocks {
  json::array parts;
  json::array tool_calls;
  std::string assistant_text;
};

std::optional<Error> convert_blocks(const json::array& blocks, std::string_view role, const std::string& where,
                                    ConvertedBlocks& converted, json::array& messages) {
  std::size_t j = 0;
  for (const auto& bv : blocks) {
    std::string at = where + ".content[" + std::to_string(j++) + "]";
    if (!bv.is_object()) return unsupported(at + " must be a content block object", "messages");
    const auto& block = bv.get_object();
    std::string_view type = str(block, "type");
    if (type == "text") {
      if (role == "assistant") {
        converted.assistant_text += str(block, "text");
      } else {
        converted.parts.push_back(json::object{{"type", "text"}, {"text", str(block, "text")}});
      }
    } else if (type == "image" && role == "user") {
      auto p = image_part(block, at);
      if (auto* e = std::get_if<Error>(&p)) return std::move(*e);
      converted.parts.push_back(std::move(std::get<json::object>(p)));
    } else if (type == "tool_use" && role == "assistant") {
      const json::value* input = block.if_contains("input");
      converted.tool_calls.push_back(json::object{
          {"id", str(block, "id")},
          {"type", "function"},
          {"function", json::object{{"name", str(block, "name")},
                                    {"arguments", input ? json::serialize(*input) : "{}"}}}});
    } else if (type == "tool_result" && role == "user") {
      // Tool results are messages of their own in the chat shape, before the user's text.
      const json::value* rc = block.if_contains("content");
      std::string text = rc ? block_text(*rc) : std::string();
      if (const json::value* err = block.if_contains("is_error"); err && err->is_bool() && err->get_bool()) {
        text = "Error: " + text;
      }
      messages.push_back(json::object{{"role", "tool"}, {"tool_call_id", str(block, "tool_use_id")}, {"content", text}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      continue;  // the chat shape has no place for them; the provider did not write them
    } else {
      return unsupported(at + ": content blocks of type '" + std::string(type) + "' in a " +
                             std::string(role) + " message cannot be sent to this provider",
                         "messages");
    }
  }
  return std::nullopt;
}

// A user turn's parts as one message: plain text when it is a single text part.
void append_user_parts(json::array& messages, json::array parts) {
  if (parts.empty()) return;
  bool all_text = true;
  for (const auto& p : parts) all_text = all_text && str(p.get_object(), "type") == "text";
  if (all_text && parts.size() == 1) {
    messages.push_back(json::object{{"role", "user"}, {"content", parts[0].get_object().at("text")}});
  } else {
    messages.push_back(json::object{{"role", "user"}, {"content", std::move(parts)}});
  }
}

std::optional<Error> append_message(const json::value& mv, const std::string& where, ChatMessages& chat) {
  const auto& m = mv.get_object();
  std::string_view role = str(m, "role");
  if (role != "user" && role != "assistant" && role != "system") {
    return unsupported(where + ".role must be \"user\", \"assistant\" or \"system\"", "messages");
  }
  const json::value* content = m.if_contains("content");
  if (!content || (!content->is_string() && !content->is_array())) {
    return unsupported(where + ".content must be a string or an array of content blocks", "messages");
  }
  if (role == "system") {
    std::string text = block_text(*content);
    if (text.empty()) return std::nullopt;
    json::object msg{{"role", "system"}, {"content", std::move(text)}};
    if (chat.calls_pending) {
      chat.held.push_back(std::move(msg));
    } else {
      chat.messages.push_back(std::move(msg));
    }
    return std::nullopt;
  }
  if (role == "assistant") chat.release_held();
  if (content->is_string()) {
    chat.calls_pending = false;
    chat.release_held();
    chat.messages.push_back(json::object{{"role", role}, {"content", *content}});
    return std::nullopt;
  }
  ConvertedBlocks converted;
  if (auto e = convert_blocks(content->get_array(), role, where, converted, chat.messages)) return e;
  if (role == "assistant") {
    json::object msg{{"role", "assistant"}};
    msg["content"] = converted.assistant_text.empty() && !converted.tool_calls.empty()
                         ? json::value(nullptr)
                         : json::value(converted.assistant_text);
    chat.calls_pending = !converted.tool_calls.empty();
    if (chat.calls_pending) msg["tool_calls"] = std::move(converted.tool_calls);
    chat.messages.push_back(std::move(msg));
    return std::nullopt;
  }
  chat.calls_pending = false;  // this user turn's tool_result blocks are out as tool messages
  chat.release_held();
  append_user_parts(chat.messages, std::move(converted.parts));
  return std::nullopt;
}

// `system`, then `messages`, as chat messages.
std::variant<json::array, Error> chat_messages(const json::object& req) {
  ChatMessages chat;
  if (const json::value* system = req.if_contains("system")) {
    if (!system->is_string() && !system->is_array()) {
      return unsupported("'system' must be a string or an array of text blocks", "system");
    }
    std::string text = block_text(*system);
    if (!text.empty()) chat.messages.push_back(json::object{{"role", "system"}, {"content", text}});
  }
  const auto* msgs = arr(req, "messages");
  std::size_t i = 0;
  for (const auto& mv : msgs ? *msgs : json::array{}) {
    std::string where = "messages[" + std::to_string(i++) + "]";
    if (auto e = append_message(mv, where, chat)) return std::move(*e);
  }
  chat.release_held();
  return std::move(chat.messages);
}

// max_tokens, sampling, stop sequences, streaming and the end user: the settings both shapes have.
void copy_settings(const json::object& req, json::object& out) {
  if (const json::value* v = req.if_contains("max_tokens")) out["max_tokens"] = *v;
  for (std::string_view k : {"temperature", "top_p"}) {
    if (const json::value* v = req.if_contains(k); v && v->is_number()) out[k] = *v;
  }
  if (const auto* stop = arr(req, "stop_sequences"); stop && !stop->empty()) out["stop"] = *stop;
  if (const json::value* s = req.if_contains("stream"); s && s->is_bool() && s->get_bool()) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};
  }
  if (const auto* md = obj(req, "metadata")) {
    std::string_view user = str(*md, "user_id");
    if (!user.empty() && user.size() <= kMaxUserLength) out["user"] = user;
  }
}

// output_config: the effort (for a model that takes reasoning_effort) and a JSON schema format.
std::optional<Error> convert_output_config(const json::object& oc, const ChatTarget& target, json::object& out) {
  if (target.reasoning_effort) {
    if (std::string_view effort = reasoning_effort_of(str(oc, "effort")); !effort.empty()) {
      out["reasoning_effort"] = effort;
    }
  }
  if (const auto* format = obj(oc, "format")) {
    const json::value* schema = format->if_contains("schema");
    if (str(*format, "type") != "json_schema" || !schema || !schema->is_object()) {
      return unsupported("output_config.format must be {\"type\": \"json_schema\", \"schema\": {...}}", "output_config");
    }
    // Not strict: OpenAI's strict mode also wants every property required, which Anthropic
    // schemas need not say.
    out["response_format"] = json::object{
        {"type", "json_schema"}, {"json_schema", json::object{{"name", "output"}, {"schema", *schema}}}};
  }
  return std::nullopt;
}

void convert_tool_choice(const json::object& tc, json::object& out) {
  std::string_view type = str(tc, "type");
  if (type == "any") out["tool_choice"] = "required";
  if (type == "none") out["tool_choice"] = "none";
  if (type == "auto") out["tool_choice"] = "auto";
  if (type == "tool") {
    out["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", str(tc, "name")}}}};
  }
  if (const json::value* d = tc.if_contains("disable_parallel_tool_use"); d && d->is_bool() && d->get_bool()) {
    out["parallel_tool_calls"] = false;
  }
}

// Custom tools as function tools; server tools are Anthropic's alone.
std::optional<Error> convert_tools(const json::array& tools, const json::object& req, json::object& out) {
  json::array converted;
  std::size_t j = 0;
  for (const auto& tv : tools) {
    std::string at = "tools[" + std::to_string(j++) + "]";
    if (!tv.is_object()) return unsupported(at + " must be an object", "tools");
    const auto& tool = tv.get_object();
    std::string_view type = str(tool, "type");
    if (!type.empty() && type != "custom") {
      return unsupported(at + ": the server tool '" + std::string(type) +
                             "' is only available from Anthropic; this model's provider runs function tools only",
                         "tools");
    }
    json::object fn{{"name", str(tool, "name")}};
    if (!str(tool, "description").empty()) fn["description"] = str(tool, "description");
    const json::value* schema = tool.if_contains("input_schema");
    fn["parameters"] = schema && schema->is_object() ? *schema : json::value(json::object{{"type", "object"}});
    converted.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  out["tools"] = std::move(converted);
  if (const auto* tc = obj(req, "tool_choice")) convert_tool_choice(*tc, out);
  return std::nullopt;
}

}  // namespace

std::variant<std::string, Error> anthropic_request_to_openai(std::string_view body, const ChatTarget& target) {
  json::value parsed;
  if (!parse_object(body, parsed)) return Error::bad_request("the request body must be a JSON object");
  const auto& req = parsed.get_object();

  auto messages = chat_messages(req);
  if (auto* e = std::get_if<Error>(&messages)) return std::move(*e);
  json::object out{{"messages", std::move(std::get<json::array>(messages))}};
  copy_settings(req, out);
  if (const auto* oc = obj(req, "output_config")) {
    if (auto e = convert_output_config(*oc, target, out)) return std::move(*e);
  }
  // `thinking` (enabled, adaptive, disabled) has no chat switch: a reasoning model reasons as its
  // provider or reasoning_effort says. `context_management` edits are Anthropic's server-side
  // pruning of this very request; without them the provider reads the whole conversation.

  if (const auto* tools = arr(req, "tools"); tools && !tools->empty()) {
    if (auto e = convert_tools(*tools, req, out)) return std::move(*e);
  }
  return json::serialize(out);
}

std::unique_ptr<ResponseTranslator> openai_response_to_anthropic() {
  return std::make_unique<OpenAIToAnthropic>();
}

}  // namespace gatehouse::translate
