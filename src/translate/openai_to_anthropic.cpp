// An OpenAI-shaped client (OpenAI SDK, Databricks clients) reaching an Anthropic provider: chat
// requests become Messages requests; messages, stream events and errors come back as chat
// completions and chunks.
#include <ctime>
#include <map>
#include <optional>

#include "http/sse.h"
#include "translate/json_util.h"
#include "translate/translate.h"

namespace gatehouse::translate {

using namespace detail;

namespace {

Error unsupported(std::string message, std::string param) {
  return Error::bad_request(std::move(message), std::move(param));
}

// The text of a system/developer/tool message's content: a string, or text parts joined.
std::variant<std::string, Error> content_text(const json::value& content, const std::string& where) {
  if (content.is_string()) return std::string(content.get_string());
  if (content.is_null()) return std::string();
  if (!content.is_array()) return unsupported(where + " must be a string or an array of parts", "messages");
  std::string out;
  for (const auto& part : content.get_array()) {
    if (!part.is_object() || str(part.get_object(), "type") != "text") {
      return unsupported(where + " may only hold text parts here", "messages");
    }
    if (!out.empty()) out += "\n";
    out += str(part.get_object(), "text");
  }
  return out;
}

// An image_url part as an Anthropic image block: data URLs become base64 sources.
std::variant<json::object, Error> image_block(const json::object& part, const std::string& where) {
  std::string_view url;
  if (const auto* iu = obj(part, "image_url")) url = str(*iu, "url");
  if (url.empty()) url = str(part, "image_url");
  if (url.empty()) return unsupported(where + ".image_url.url is required", "messages");
  if (url.starts_with("data:")) {
    std::size_t semi = url.find(';');
    std::size_t comma = url.find(',');
    if (semi == std::string_view::npos || comma == std::string_view::npos || semi > comma ||
        url.substr(semi, comma - semi) != ";base64") {
      return unsupported(where + ".image_url.url: a data URL must be data:<media type>;base64,<data>",
                         "messages");
    }
    return json::object{{"type", "image"},
                        {"source", json::object{{"type", "base64"},
                                                {"media_type", url.substr(5, semi - 5)},
                                                {"data", url.substr(comma + 1)}}}};
  }
  return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
}

// A user message's content as Messages content blocks.
std::variant<json::array, Error> user_blocks(const json::value& content, const std::string& where) {
  json::array blocks;
  if (content.is_string()) {
    if (!content.get_string().empty()) blocks.push_back(json::object{{"type", "text"}, {"text", content}});
    return blocks;
  }
  if (!content.is_array()) return unsupported(where + ".content must be a string or an array of parts", "messages");
  std::size_t i = 0;
  for (const auto& p : content.get_array()) {
    std::string at = where + ".content[" + std::to_string(i++) + "]";
    if (!p.is_object()) return unsupported(at + " must be an object", "messages");
    const auto& part = p.get_object();
    std::string_view type = str(part, "type");
    if (type == "text") {
      if (!str(part, "text").empty()) blocks.push_back(json::object{{"type", "text"}, {"text", str(part, "text")}});
    } else if (type == "image_url") {
      auto b = image_block(part, at);
      if (auto* e = std::get_if<Error>(&b)) return std::move(*e);
      blocks.push_back(std::move(std::get<json::object>(b)));
    } else {
      return unsupported(at + ": parts of type '" + std::string(type) +
                             "' cannot be sent to an Anthropic provider (text and image_url can)",
                         "messages");
    }
  }
  return blocks;
}

// Appends blocks as a turn of `role`, merged into the previous turn when it has the same role
// (the Messages API alternates user and assistant turns).
void append_turn(json::array& messages, std::string_view role, json::array blocks) {
  if (blocks.empty()) return;
  if (!messages.empty()) {
    auto& last = messages.back().as_object();
    if (str(last, "role") == role) {
      auto& content = last["content"].as_array();
      for (auto& b : blocks) content.push_back(std::move(b));
      return;
    }
  }
  messages.push_back(json::object{{"role", role}, {"content", std::move(blocks)}});
}

std::string_view finish_reason_of(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

json::object usage_of(const json::object& u) {
  std::int64_t input = integer(u, "input_tokens");
  std::int64_t cache_read = integer(u, "cache_read_input_tokens");
  std::int64_t cache_write = integer(u, "cache_creation_input_tokens");
  std::int64_t output = integer(u, "output_tokens");
  std::int64_t prompt = input + cache_read + cache_write;
  return {{"prompt_tokens", prompt},
          {"completion_tokens", output},
          {"total_tokens", prompt + output},
          {"prompt_tokens_details", json::object{{"cached_tokens", cache_read}}},
          {"cache_creation_input_tokens", cache_write}};
}

class AnthropicToOpenAI final : public ResponseTranslator {
 public:
  explicit AnthropicToOpenAI(bool include_usage)
      : include_usage_(include_usage), created_(std::int64_t(std::time(nullptr))) {}

  std::variant<std::string, Error> body(std::string_view upstream) override {
    json::value v;
    if (!parse_object(upstream, v)) {
      return Error::upstream_protocol("the Anthropic provider's answer is not a JSON object");
    }
    const auto& m = v.get_object();
    std::string text;
    json::array tool_calls;
    if (const auto* content = arr(m, "content")) {
      for (const auto& b : *content) {
        if (!b.is_object()) continue;
        const auto& block = b.get_object();
        std::string_view type = str(block, "type");
        if (type == "text") {
          text += str(block, "text");
        } else if (type == "tool_use") {
          const json::value* input = block.if_contains("input");
          tool_calls.push_back(json::object{
              {"id", str(block, "id")},
              {"type", "function"},
              {"function", json::object{{"name", str(block, "name")},
                                        {"arguments", input ? json::serialize(*input) : "{}"}}}});
        }
      }
    }
    json::object message{{"role", "assistant"}};
    if (tool_calls.empty()) {
      message["content"] = text;
    } else {
      message["content"] = text.empty() ? json::value(nullptr) : json::value(text);
      message["tool_calls"] = std::move(tool_calls);
    }
    json::object out{
        {"id", str(m, "id")},
        {"object", "chat.completion"},
        {"created", created_},
        {"model", str(m, "model")},
        {"choices", json::array{json::object{{"index", 0},
                                             {"message", std::move(message)},
                                             {"logprobs", nullptr},
                                             {"finish_reason", finish_reason_of(str(m, "stop_reason"))}}}}};
    if (const auto* u = obj(m, "usage")) out["usage"] = usage_of(*u);
    return json::serialize(out);
  }

  void event(std::string_view event, std::string& out) override {
    if (done_) return;
    json::value v;
    if (!parse_object(http::event_data(event), v)) return;  // comments, keep-alives
    const auto& e = v.get_object();
    std::string_view type = str(e, "type");
    if (type == "message_start") {
      on_message_start(e, out);
    } else if (type == "content_block_start") {
      on_content_block_start(e, out);
    } else if (type == "content_block_delta") {
      on_content_block_delta(e, out);
    } else if (type == "content_block_stop") {
      on_content_block_stop(e, out);
    } else if (type == "message_delta") {
      on_message_delta(e, out);
    } else if (type == "message_stop") {
      on_message_stop(out);
    } else if (type == "error") {
      on_error(e, out);
    }
  }

  void finish(std::string& out) override {
    if (done_) return;
    append_data_event(out, json::object{{"error", json::object{
                                                      {"message", "the provider's stream ended before its end"},
                                                      {"type", "upstream_error"},
                                                      {"param", nullptr},
                                                      {"code", "upstream_disconnected"}}}});
    done_ = true;
  }

 private:
  void on_message_start(const json::object& e, std::string& out) {
    if (const auto* m = obj(e, "message")) {
      id_ = str(*m, "id");
      model_ = str(*m, "model");
      if (const auto* u = obj(*m, "usage")) usage_ = *u;
    }
    chunk(out, json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
  }
  void on_content_block_start(const json::object& e, std::string& out) {
    const auto* block = obj(e, "content_block");
    if (!block) return;
    if (str(*block, "type") == "tool_use") {
      std::int64_t k = tool_count_++;
      tool_index_[integer(e, "index")] = ToolBlock{k, false};
      chunk(out,
            json::object{{"tool_calls",
                          json::array{json::object{
                              {"index", k},
                              {"id", str(*block, "id")},
                              {"type", "function"},
                              {"function", json::object{{"name", str(*block, "name")}, {"arguments", ""}}}}}}},
            nullptr);
    } else if (str(*block, "type") == "text" && !str(*block, "text").empty()) {
      chunk(out, json::object{{"content", str(*block, "text")}}, nullptr);
    }
  }
  void on_content_block_delta(const json::object& e, std::string& out) {
    const auto* d = obj(e, "delta");
    if (!d) return;
    std::string_view dt = str(*d, "type");
    if (dt == "text_delta") {
      chunk(out, json::object{{"content", str(*d, "text")}}, nullptr);
    } else if (dt == "input_json_delta" && !str(*d, "partial_json").empty()) {
      auto it = tool_index_.find(integer(e, "index"));
      if (it == tool_index_.end()) return;
      it->second.sent_arguments = true;
      chunk(out,
            json::object{{"tool_calls", json::array{json::object{
                                            {"index", it->second.call},
                                            {"function", json::object{{"arguments", str(*d, "partial_json")}}}}}}},
            nullptr);
    }
  }
  void on_content_block_stop(const json::object& e, std::string& out) {
    // A tool called without arguments streams no argument text; OpenAI clients need "{}".
    auto it = tool_index_.find(integer(e, "index"));
    if (it != tool_index_.end() && !it->second.sent_arguments) {
      it->second.sent_arguments = true;
      chunk(out,
            json::object{{"tool_calls", json::array{json::object{
                                            {"index", it->second.call},
                                            {"function", json::object{{"arguments", "{}"}}}}}}},
            nullptr);
    }
  }
  void on_message_delta(const json::object& e, std::string& out) {
    if (const auto* u = obj(e, "usage")) {
      // output_tokens, and maybe input and cache counts; a null does not erase a count.
      for (const auto& [k, val] : *u) {
        if (!val.is_null()) usage_[k] = val;
      }
    }
    const auto* d = obj(e, "delta");
    if (d && !str(*d, "stop_reason").empty() && !finished_) {
      finished_ = true;
      json::value finish(finish_reason_of(str(*d, "stop_reason")));
      chunk(out, json::object{}, &finish);
    }
  }
  void on_message_stop(std::string& out) {
    if (!finished_) {
      json::value finish("stop");
      chunk(out, json::object{}, &finish);
    }
    if (include_usage_) {
      json::object c = base();
      c["choices"] = json::array{};
      c["usage"] = usage_of(usage_);
      append_data_event(out, c);
    }
    out += "data: [DONE]\n\n";
    done_ = true;
  }
  void on_error(const json::object& e, std::string& out) {
    std::string message = "the provider reported an error mid-stream";
    std::string etype = "upstream_error";
    if (const auto* err = obj(e, "error")) {
      if (!str(*err, "message").empty()) message = str(*err, "message");
      if (!str(*err, "type").empty()) etype = str(*err, "type");
    }
    append_data_event(out, json::object{{"error", json::object{{"message", message},
                                                                {"type", etype},
                                                                {"param", nullptr},
                                                                {"code", etype}}}});
    done_ = true;
  }

  json::object base() const {
    return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model_}};
  }
  void chunk(std::string& out, json::object delta, const json::value* finish_reason) {
    json::object c = base();
    c["choices"] = json::array{json::object{{"index", 0},
                                            {"delta", std::move(delta)},
                                            {"logprobs", nullptr},
                                            {"finish_reason", finish_reason ? *finish_reason : nullptr}}};
    append_data_event(out, c);
  }

  bool include_usage_;
  std::int64_t created_;
  std::string id_;
  std::string model_;
  json::object usage_;
  struct ToolBlock {
    std::int64_t call;    // the OpenAI tool call index
    bool sent_arguments;  // some argument text went to the client
  };
  std::map<std::int64_t, ToolBlock> tool_index_;  // content block index -> its tool call
  std::int64_t tool_count_ = 0;
  bool finished_ = false;  // the finish_reason chunk was sent
  bool done_ = false;
};

// An assistant message's tool calls as tool_use blocks, after its text.
std::optional<Error> append_tool_uses(const json::array& calls, const std::string& where, json::array& blocks) {
  std::size_t j = 0;
  for (const auto& cv : calls) {
    std::string at = where + ".tool_calls[" + std::to_string(j++) + "]";
    if (!cv.is_object()) return unsupported(at + " must be an object", "messages");
    const auto& call = cv.get_object();
    const auto* fn = obj(call, "function");
    if (!fn) return unsupported(at + ".function is required", "messages");
    json::value input = json::object{};
    std::string_view args = str(*fn, "arguments");
    if (!args.empty()) {
      json::error_code ec;
      input = json::parse(args, ec);
      if (ec || !input.is_object()) {
        return unsupported(at + ".function.arguments must be a JSON object (as text)", "messages");
      }
    }
    blocks.push_back(json::object{{"type", "tool_use"},
                                  {"id", str(call, "id")},
                                  {"name", str(*fn, "name")},
                                  {"input", std::move(input)}});
  }
  return std::nullopt;
}

// A chat message into the Messages request: system and developer text joins `system`; user,
// assistant and tool messages become turns.
std::optional<Error> append_message(const json::value& mv, const std::string& where, std::string& system,
                                    json::array& messages) {
  const auto& m = mv.get_object();
  std::string_view role = str(m, "role");
  const json::value* content = m.if_contains("content");
  static const json::value kNull;
  const json::value& c = content ? *content : kNull;
  if (role == "system" || role == "developer") {
    auto text = content_text(c, where + ".content");
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    if (!system.empty()) system += "\n\n";
    system += std::get<std::string>(text);
  } else if (role == "user") {
    auto blocks = user_blocks(c, where);
    if (auto* e = std::get_if<Error>(&blocks)) return std::move(*e);
    append_turn(messages, "user", std::move(std::get<json::array>(blocks)));
  } else if (role == "assistant") {
    json::array blocks;
    auto text = content_text(c, where + ".content");
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    if (!std::get<std::string>(text).empty()) {
      blocks.push_back(json::object{{"type", "text"}, {"text", std::get<std::string>(text)}});
    }
    if (const auto* calls = arr(m, "tool_calls")) {
      if (auto e = append_tool_uses(*calls, where, blocks)) return e;
    }
    append_turn(messages, "assistant", std::move(blocks));
  } else if (role == "tool") {
    auto text = content_text(c, where + ".content");
    if (auto* e = std::get_if<Error>(&text)) return std::move(*e);
    append_turn(messages, "user",
                json::array{json::object{{"type", "tool_result"},
                                         {"tool_use_id", str(m, "tool_call_id")},
                                         {"content", std::get<std::string>(text)}}});
  } else {
    return unsupported(where + ".role '" + std::string(role) +
                           "' is not supported (system, developer, user, assistant, tool)",
                       "messages");
  }
  return std::nullopt;
}

// Anthropic refuses stop sequences without a visible character ("\n" is a common OpenAI one);
// they are dropped rather than failing the request.
void copy_stop_sequences(const json::value& stop, json::object& out) {
  json::array sequences;
  auto add = [&](const json::value& v) {
    if (!v.is_string()) return;
    std::string_view seq = v.get_string();
    if (seq.find_first_not_of(" \t\r\n\f\v") != std::string_view::npos) sequences.push_back(v);
  };
  if (stop.is_array()) {
    for (const auto& v : stop.get_array()) add(v);
  } else {
    add(stop);
  }
  if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
}

json::object tool_choice_of(const json::object& req) {
  json::object choice{{"type", "auto"}};
  if (const json::value* tc = req.if_contains("tool_choice")) {
    if (tc->is_string()) {
      std::string_view s = tc->get_string();
      if (s == "required") choice["type"] = "any";
      if (s == "none") choice["type"] = "none";
    } else if (tc->is_object()) {
      if (const auto* f = obj(tc->get_object(), "function")) {
        choice = json::object{{"type", "tool"}, {"name", str(*f, "name")}};
      }
    }
  }
  if (const json::value* p = req.if_contains("parallel_tool_calls");
      p && p->is_bool() && !p->get_bool() && str(choice, "type") != "none") {
    choice["disable_parallel_tool_use"] = true;
  }
  return choice;
}

// Function tools as Anthropic tools, and the tool choice with them.
std::optional<Error> convert_tools(const json::array& tools, const json::object& req, json::object& out) {
  json::array converted;
  std::size_t j = 0;
  for (const auto& tv : tools) {
    std::string at = "tools[" + std::to_string(j++) + "]";
    const auto* fn = tv.is_object() ? obj(tv.get_object(), "function") : nullptr;
    if (!fn || str(tv.get_object(), "type") != "function") {
      return unsupported(at + ": only function tools can be sent to an Anthropic provider", "tools");
    }
    json::object tool{{"name", str(*fn, "name")}};
    if (!str(*fn, "description").empty()) tool["description"] = str(*fn, "description");
    const json::value* params = fn->if_contains("parameters");
    tool["input_schema"] =
        params && params->is_object() ? *params : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
    converted.push_back(std::move(tool));
  }
  out["tools"] = std::move(converted);
  out["tool_choice"] = tool_choice_of(req);
  return std::nullopt;
}

}  // namespace

std::variant<std::string, Error> openai_request_to_anthropic(std::string_view body,
                                                             int default_max_tokens) {
  json::value parsed;
  if (!parse_object(body, parsed)) return Error::bad_request("the request body must be a JSON object");
  const auto& req = parsed.get_object();
  json::object out;
  std::string system;
  json::array messages;

  const auto* msgs = arr(req, "messages");
  std::size_t i = 0;
  for (const auto& mv : msgs ? *msgs : json::array{}) {
    std::string where = "messages[" + std::to_string(i++) + "]";
    if (auto e = append_message(mv, where, system, messages)) return std::move(*e);
  }
  if (messages.empty()) {
    return unsupported("the request has no user or assistant message with content", "messages");
  }
  out["messages"] = std::move(messages);
  if (!system.empty()) out["system"] = system;

  std::int64_t max_tokens = integer(req, "max_completion_tokens", -1);
  if (max_tokens < 0) max_tokens = integer(req, "max_tokens", -1);
  out["max_tokens"] = max_tokens > 0 ? max_tokens : std::int64_t(default_max_tokens);

  if (integer(req, "n", 1) != 1) {
    return unsupported("'n' must be 1: an Anthropic provider answers one choice", "n");
  }
  if (const auto* rf = obj(req, "response_format"); rf && str(*rf, "type") != "text") {
    return unsupported("'response_format' " + std::string(str(*rf, "type")) +
                           " is not available from an Anthropic provider",
                       "response_format");
  }
  if (const json::value* stop = req.if_contains("stop")) copy_stop_sequences(*stop, out);
  for (std::string_view k : {"temperature", "top_p"}) {
    if (const json::value* v = req.if_contains(k); v && v->is_number()) out[k] = *v;
  }
  if (const json::value* s = req.if_contains("stream"); s && s->is_bool()) out["stream"] = *s;
  if (!str(req, "user").empty()) out["metadata"] = json::object{{"user_id", str(req, "user")}};

  if (const auto* tools = arr(req, "tools"); tools && !tools->empty()) {
    if (auto e = convert_tools(*tools, req, out)) return std::move(*e);
  }
  return json::serialize(out);
}

std::unique_ptr<ResponseTranslator> anthropic_response_to_openai(bool include_usage) {
  return std::make_unique<AnthropicToOpenAI>(include_usage);
}

}  // namespace gatehouse::translate
