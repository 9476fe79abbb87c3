// A Responses client reaching an OpenAI-shaped provider (or, through the hub, an Anthropic one):
// chat completions become Responses objects, chat chunks the Responses stream events. The
// requests go the other way in responses_request.cpp.
//
// Output items are numbered by their place in `output` and named after the response's id, so the
// same answer always gets the same ids: a response "resp_<x>" has items "rs_<x>_<i>" (reasoning),
// "msg_<x>_<i>" (the assistant's message) and "fc_<x>_<i>" (function calls; a call the provider
// gave no id gets call_id "call_<x>_<i>").
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "http/sse.h"
#include "translate/json_util.h"
#include "translate/translate.h"

namespace gatehouse::translate {

using namespace detail;

namespace {

// The text of a chat message's (or delta's) content: a string, or (Databricks) a list of parts
// whose text parts are the answer.
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

// The model's reasoning some chat servers send beside the content (vLLM, DeepSeek, OpenRouter),
// under either name.
std::string_view reasoning_text(const json::object& message) {
  std::string_view r = str(message, "reasoning_content");
  return r.empty() ? str(message, "reasoning") : r;
}

// Why an answer stopped short, as Responses' incomplete_details.reason; nullopt: it did not.
std::optional<std::string_view> incomplete_reason(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_output_tokens";
  if (finish_reason == "content_filter") return "content_filter";
  return std::nullopt;
}

// Chat usage as Responses usage; null when the provider sent none.
json::value usage_of(const json::object* u) {
  if (!u) return nullptr;
  std::int64_t input = integer(*u, "prompt_tokens");
  std::int64_t output = integer(*u, "completion_tokens");
  std::int64_t cached = 0, reasoning = 0;
  if (const auto* d = obj(*u, "prompt_tokens_details")) cached = integer(*d, "cached_tokens");
  if (const auto* d = obj(*u, "completion_tokens_details"))
    reasoning = integer(*d, "reasoning_tokens");
  return json::object{{"input_tokens", input},
                      {"input_tokens_details", json::object{{"cached_tokens", cached}}},
                      {"output_tokens", output},
                      {"output_tokens_details", json::object{{"reasoning_tokens", reasoning}}},
                      {"total_tokens", input + output}};
}

// One item of a response's `output`, as it is built.
struct OutputItem {
  enum class Kind { kReasoning, kMessage, kFunctionCall };
  struct Part {
    std::string type;  // output_text or refusal (a message), reasoning_text (reasoning)
    std::string text;
  };
  Kind kind = Kind::kMessage;
  std::string id;
  std::vector<Part> parts;
  std::string call_id, name, arguments;  // a function call
  std::string status = "in_progress";    // a message or a function call
  bool open = true;                      // a stream has not sent its output_item.done yet
};

json::object part_json(const OutputItem::Part& p) {
  if (p.type == "output_text") {
    return {{"type", "output_text"},
            {"text", p.text},
            {"annotations", json::array{}},
            {"logprobs", json::array{}}};
  }
  if (p.type == "refusal") return {{"type", "refusal"}, {"refusal", p.text}};
  return {{"type", p.type}, {"text", p.text}};
}

json::object item_json(const OutputItem& item) {
  switch (item.kind) {
    case OutputItem::Kind::kReasoning: {
      json::array content;
      for (const auto& p : item.parts) content.push_back(part_json(p));
      return {{"id", item.id},
              {"type", "reasoning"},
              {"summary", json::array{}},
              {"content", std::move(content)}};
    }
    case OutputItem::Kind::kMessage: {
      json::array content;
      for (const auto& p : item.parts) content.push_back(part_json(p));
      return {{"id", item.id},
              {"type", "message"},
              {"status", item.status},
              {"role", "assistant"},
              {"content", std::move(content)}};
    }
    case OutputItem::Kind::kFunctionCall:
      break;
  }
  return {{"id", item.id},           {"type", "function_call"}, {"status", item.status},
          {"call_id", item.call_id}, {"name", item.name},       {"arguments", item.arguments}};
}

json::array output_json(const std::vector<OutputItem>& items) {
  json::array out;
  for (const auto& item : items) out.push_back(item_json(item));
  return out;
}

// What every Responses object of one answer says besides its output: its id, model and time,
// and the settings of the client's request, echoed as OpenAI echoes them (its defaults where the
// request named none).
class ResponseFrame {
 public:
  explicit ResponseFrame(const ResponsesAnswer& answer) {
    std::string id = answer.id.empty() ? generated_id() : answer.id;
    suffix_ = id.starts_with("resp_") ? id.substr(5) : id;
    json::value parsed;
    static const json::object kNone;
    const json::object& req = !answer.request.empty() && parse_object(answer.request, parsed)
                                  ? parsed.get_object()
                                  : kNone;
    auto echo = [&](std::string_view key, json::value dflt,
                    bool (json::value::*fits)() const noexcept) {
      const json::value* v = req.if_contains(key);
      return v && (v->*fits)() ? *v : dflt;
    };
    json::object reasoning{{"effort", nullptr}, {"summary", nullptr}};
    if (const auto* r = obj(req, "reasoning")) {
      for (std::string_view k : {"effort", "summary"}) {
        if (const json::value* v = r->if_contains(k); v && v->is_string()) reasoning[k] = *v;
      }
    }
    base_ = {
        {"id", id},
        {"object", "response"},
        {"created_at",
         answer.created_at > 0 ? answer.created_at : std::int64_t(std::time(nullptr))},
        {"status", "in_progress"},
        {"background", false},
        {"error", nullptr},
        {"incomplete_details", nullptr},
        {"instructions", echo("instructions", nullptr, &json::value::is_string)},
        {"max_output_tokens", echo("max_output_tokens", nullptr, &json::value::is_number)},
        {"model", answer.model},
        {"output", json::array{}},
        {"parallel_tool_calls", echo("parallel_tool_calls", true, &json::value::is_bool)},
        {"previous_response_id", echo("previous_response_id", nullptr, &json::value::is_string)},
        {"reasoning", std::move(reasoning)},
        {"store", echo("store", true, &json::value::is_bool)},
        {"temperature", echo("temperature", 1, &json::value::is_number)},  // 1, not 1.0: Boost.JSON writes 1E0
        {"text", echo("text", json::object{{"format", json::object{{"type", "text"}}}},
                      &json::value::is_object)},
        {"tool_choice", echo("tool_choice", "auto", &json::value::is_string)},
        {"tools", echo("tools", json::array{}, &json::value::is_array)},
        {"top_p", echo("top_p", 1, &json::value::is_number)},
        {"truncation", echo("truncation", "disabled", &json::value::is_string)},
        {"usage", nullptr},
        {"user", echo("user", nullptr, &json::value::is_string)},
        {"metadata", echo("metadata", json::object{}, &json::value::is_object)}};
    if (const json::value* tc = req.if_contains("tool_choice"); tc && tc->is_object())
      base_["tool_choice"] = *tc;
    if (!answer.previous_response_id.empty()) base_["previous_response_id"] = answer.previous_response_id;
  }

  // The model as the provider named it, when the gateway did not say (no ResponsesAnswer).
  void adopt_model(std::string_view model) {
    if (base_["model"].as_string().empty()) base_["model"] = model;
  }

  std::string item_id(std::string_view prefix, std::size_t index) const {
    return std::string(prefix) + "_" + suffix_ + "_" + std::to_string(index);
  }

  json::object object(std::string_view status, json::array output,
                      json::value usage = nullptr) const {
    json::object o = base_;
    o["status"] = status;
    o["output"] = std::move(output);
    o["usage"] = std::move(usage);
    return o;
  }

 private:
  static std::string generated_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof buf, "resp_%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    return buf;
  }

  json::object base_;
  std::string suffix_;  // the response id without "resp_": item ids are made from it
};

// A whole answer's output items: reasoning, the message, then its function calls. `end_status`
// is the status of the items the answer ends with (a stream closes the message before a function
// call starts: it is complete even when the calls are not).
std::vector<OutputItem> output_items(const json::object* m, const ResponseFrame& frame,
                                     std::string_view end_status) {
  std::vector<OutputItem> items;
  if (!m) return items;
  auto add = [&](OutputItem::Kind kind, std::string_view prefix) -> OutputItem& {
    OutputItem& item = items.emplace_back();
    item.kind = kind;
    item.id = frame.item_id(prefix, items.size() - 1);
    item.status = end_status;
    item.open = false;
    return item;
  };
  if (std::string_view r = reasoning_text(*m); !r.empty()) {
    add(OutputItem::Kind::kReasoning, "rs").parts.push_back({"reasoning_text", std::string(r)});
  }
  const auto* calls = arr(*m, "tool_calls");
  const bool has_calls = calls && !calls->empty();
  std::string text = content_text(m->if_contains("content"));
  std::string_view refusal = str(*m, "refusal");
  if (!text.empty() || !refusal.empty()) {
    OutputItem& message = add(OutputItem::Kind::kMessage, "msg");
    if (has_calls) message.status = "completed";
    if (!text.empty()) message.parts.push_back({"output_text", std::move(text)});
    if (!refusal.empty()) message.parts.push_back({"refusal", std::string(refusal)});
  }
  for (const auto& cv : has_calls ? *calls : json::array{}) {
    if (!cv.is_object()) continue;
    const auto* fn = obj(cv.get_object(), "function");
    OutputItem& call = add(OutputItem::Kind::kFunctionCall, "fc");
    call.call_id = str(cv.get_object(), "id");
    if (call.call_id.empty()) call.call_id = frame.item_id("call", items.size() - 1);
    call.name = fn ? str(*fn, "name") : "";
    call.arguments = fn ? str(*fn, "arguments") : "";
    if (call.arguments.empty()) call.arguments = "{}";
  }
  return items;
}

class ChatToResponses final : public ResponseTranslator {
 public:
  explicit ChatToResponses(const ResponsesAnswer& answer) : frame_(answer) {}

  std::variant<std::string, Error> body(std::string_view upstream) override {
    json::value v;
    if (!parse_object(upstream, v))
      return Error::upstream_protocol("the provider's answer is not a JSON object");
    const auto& r = v.get_object();
    const auto* choices = arr(r, "choices");
    if (!choices || choices->empty() || !(*choices)[0].is_object()) {
      return Error::upstream_protocol("the provider's answer has no choices");
    }
    frame_.adopt_model(str(r, "model"));
    const auto& choice = (*choices)[0].get_object();
    auto reason = incomplete_reason(str(choice, "finish_reason"));
    auto items = output_items(obj(choice, "message"), frame_, reason ? "incomplete" : "completed");
    json::object out = frame_.object(reason ? "incomplete" : "completed", output_json(items),
                                     usage_of(obj(r, "usage")));
    if (reason) out["incomplete_details"] = json::object{{"reason", *reason}};
    return json::serialize(out);
  }

  void event(std::string_view event, std::string& out) override {
    if (done_) return;
    std::string data = http::event_data(event);
    if (data == "[DONE]") {
      end(out);
      return;
    }
    json::value v;
    if (!parse_object(data, v)) return;  // comments, keep-alives
    const auto& c = v.get_object();
    if (const auto* err = obj(c, "error")) {
      std::string code(str(*err, "code"));
      if (code.empty()) code = str(*err, "type");
      std::string message(str(*err, "message"));
      fail(out, code.empty() ? "server_error" : code,
           message.empty() ? "the provider reported an error mid-stream" : message,
           str(*err, "param").empty() ? json::value(nullptr) : json::value(str(*err, "param")));
      return;
    }
    frame_.adopt_model(str(c, "model"));
    start(out);
    // Databricks puts a running usage on every chunk, OpenAI one at the end: keep the last.
    if (const auto* u = obj(c, "usage")) usage_ = *u;
    const auto* choices = arr(c, "choices");
    if (!choices || choices->empty() || !(*choices)[0].is_object()) return;
    const auto& choice = (*choices)[0].get_object();
    if (const auto* delta = obj(choice, "delta")) {
      if (std::string_view r = reasoning_text(*delta); !r.empty()) {
        text_delta(out, OutputItem::Kind::kReasoning, "reasoning_text", r);
      }
      if (std::string text = content_text(delta->if_contains("content")); !text.empty()) {
        text_delta(out, OutputItem::Kind::kMessage, "output_text", text);
      }
      if (std::string_view refusal = str(*delta, "refusal"); !refusal.empty()) {
        text_delta(out, OutputItem::Kind::kMessage, "refusal", refusal);
      }
      if (const auto* calls = arr(*delta, "tool_calls")) {
        for (const auto& cv : *calls) {
          if (cv.is_object()) tool_call_delta(out, cv.get_object());
        }
      }
    }
    if (std::string_view f = str(choice, "finish_reason"); !f.empty()) finish_reason_ = f;
  }

  void finish(std::string& out) override {
    if (done_) return;
    if (!finish_reason_.empty()) {  // ended without [DONE]: the answer itself was complete
      end(out);
      return;
    }
    fail(out, "server_error",
         started_ ? "the provider's stream ended before its end"
                  : "the provider's stream ended without an answer",
         nullptr);
  }

  std::string error_event(const Error& error) override {
    std::string out;
    std::string code = error.code.empty() ? std::string(to_string(error.kind)) : error.code;
    json::value param = error.param.empty() ? json::value(nullptr) : json::value(error.param);
    if (done_) {
      // The response already ended (a stage refused its last event): the error alone, numbered.
      emit(out, {{"type", "error"}, {"code", code}, {"message", error.message}, {"param", param}});
    } else {
      fail(out, code, error.message, param);
    }
    return out;
  }

 private:
  // response.created and response.in_progress, once, before anything else.
  void start(std::string& out) {
    if (started_) return;
    started_ = true;
    json::object snapshot = frame_.object("in_progress", json::array{});
    emit(out, {{"type", "response.created"}, {"response", snapshot}});
    emit(out, {{"type", "response.in_progress"}, {"response", std::move(snapshot)}});
  }

  // Each event gets the next sequence_number.
  void emit(std::string& out, json::object event) {
    event["sequence_number"] = sequence_++;
    std::string type(str(event, "type"));
    append_named_event(out, type, event);
  }

  // An event of `type` about the content part being written in item `index`.
  json::object part_event(std::string_view type, std::size_t index) const {
    return {{"type", type},
            {"item_id", items_[index].id},
            {"output_index", index},
            {"content_index", items_[index].parts.size() - 1}};
  }

  std::size_t open_item(std::string& out, OutputItem::Kind kind, std::string_view prefix) {
    std::size_t index = items_.size();
    OutputItem& item = items_.emplace_back();
    item.kind = kind;
    item.id = frame_.item_id(prefix, index);
    emit(out, {{"type", "response.output_item.added"},
               {"output_index", index},
               {"item", item_json(item)}});
    return index;
  }

  // A piece of the message's text or refusal, or of the reasoning: in the open item of its kind
  // (opened when there is none), in a part of its type (opened when the last one is another).
  void text_delta(std::string& out, OutputItem::Kind kind, std::string_view part_type,
                  std::string_view delta) {
    if (open_text_ && items_[*open_text_].kind != kind) close_text(out, "completed");
    if (!open_text_)
      open_text_ = open_item(out, kind, kind == OutputItem::Kind::kReasoning ? "rs" : "msg");
    const std::size_t index = *open_text_;
    if (items_[index].parts.empty() || items_[index].parts.back().type != part_type) {
      if (!items_[index].parts.empty()) close_part(out, index);
      items_[index].parts.push_back({std::string(part_type), {}});
      json::object e = part_event("response.content_part.added", index);
      e["part"] = part_json(items_[index].parts.back());
      emit(out, std::move(e));
    }
    items_[index].parts.back().text += delta;
    json::object e = part_event(part_type == "output_text" ? "response.output_text.delta"
                                : part_type == "refusal"   ? "response.refusal.delta"
                                                           : "response.reasoning_text.delta",
                                index);
    e["delta"] = delta;
    if (part_type == "output_text") e["logprobs"] = json::array{};
    emit(out, std::move(e));
  }

  void close_part(std::string& out, std::size_t index) {
    const auto& part = items_[index].parts.back();
    if (part.type == "output_text") {
      json::object e = part_event("response.output_text.done", index);
      e["text"] = part.text;
      e["logprobs"] = json::array{};
      emit(out, std::move(e));
    } else if (part.type == "refusal") {
      json::object e = part_event("response.refusal.done", index);
      e["refusal"] = part.text;
      emit(out, std::move(e));
    } else {
      json::object e = part_event("response.reasoning_text.done", index);
      e["text"] = part.text;
      emit(out, std::move(e));
    }
    json::object done = part_event("response.content_part.done", index);
    done["part"] = part_json(part);
    emit(out, std::move(done));
  }

  void close_item(std::string& out, std::size_t index, std::string_view status) {
    items_[index].status = status;
    items_[index].open = false;
    emit(out, {{"type", "response.output_item.done"},
               {"output_index", index},
               {"item", item_json(items_[index])}});
  }

  // Closes the open message or reasoning item, if any.
  void close_text(std::string& out, std::string_view status) {
    if (!open_text_) return;
    if (!items_[*open_text_].parts.empty()) close_part(out, *open_text_);
    close_item(out, *open_text_, status);
    open_text_.reset();
  }

  // A piece of a tool call. Chat streams calls by index, possibly interleaved; a new index (or,
  // from some servers, a new id at the same index) is a new call. Many servers repeat the id on
  // every chunk of one call.
  void tool_call_delta(std::string& out, const json::object& call) {
    const std::int64_t chat_index = integer(call, "index");
    const auto* fn = obj(call, "function");
    std::string_view call_id = str(call, "id");
    auto it = calls_.find(chat_index);
    if (it == calls_.end() || (!call_id.empty() && call_id != items_[it->second].call_id)) {
      close_text(out, "completed");
      const std::size_t index = items_.size();
      OutputItem& item = items_.emplace_back();
      item.kind = OutputItem::Kind::kFunctionCall;
      item.id = frame_.item_id("fc", index);
      item.call_id = call_id.empty() ? frame_.item_id("call", index) : std::string(call_id);
      item.name = fn ? str(*fn, "name") : "";
      emit(out, {{"type", "response.output_item.added"},
                 {"output_index", index},
                 {"item", item_json(item)}});
      it = calls_.insert_or_assign(chat_index, index).first;
    }
    OutputItem& item = items_[it->second];
    if (item.name.empty() && fn) item.name = str(*fn, "name");
    if (std::string_view args = fn ? str(*fn, "arguments") : ""; !args.empty()) {
      item.arguments += args;
      arguments_delta(out, it->second, args);
    }
  }

  void arguments_delta(std::string& out, std::size_t index, std::string_view delta) {
    emit(out, {{"type", "response.function_call_arguments.delta"},
               {"item_id", items_[index].id},
               {"output_index", index},
               {"delta", delta}});
  }

  // The answer is complete: every open item is closed, then response.completed (or
  // response.incomplete) carries the whole response.
  void end(std::string& out) {
    if (!started_) {
      fail(out, "server_error", "the provider's stream ended without an answer", nullptr);
      return;
    }
    auto reason = incomplete_reason(finish_reason_);
    const std::string_view status = reason ? "incomplete" : "completed";
    close_text(out, status);
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (!items_[i].open) continue;
      // A call made without arguments streamed none; clients parse the arguments as JSON.
      if (items_[i].arguments.empty()) {
        items_[i].arguments = "{}";
        arguments_delta(out, i, "{}");
      }
      emit(out, {{"type", "response.function_call_arguments.done"},
                 {"item_id", items_[i].id},
                 {"output_index", i},
                 {"name", items_[i].name},
                 {"arguments", items_[i].arguments}});
      close_item(out, i, status);
    }
    json::object response =
        frame_.object(status, output_json(items_), usage_of(usage_.empty() ? nullptr : &usage_));
    if (reason) response["incomplete_details"] = json::object{{"reason", *reason}};
    emit(out, {{"type", reason ? "response.incomplete" : "response.completed"},
               {"response", std::move(response)}});
    done_ = true;
  }

  // The answer failed: response.failed (the output so far, its open items incomplete, and the
  // error), then the error event. The order serves both kinds of client: Codex and the Python
  // SDK read response.failed (the Python SDK does not raise on the error event), the Node SDK
  // raises on the error event, having delivered response.failed; the stream ends with the error
  // event as api::stream_error_event's streams do.
  void fail(std::string& out, std::string code, std::string message, json::value param) {
    start(out);
    for (auto& item : items_) {
      if (item.open) item.status = "incomplete";
    }
    json::object response =
        frame_.object("failed", output_json(items_), usage_of(usage_.empty() ? nullptr : &usage_));
    response["error"] = json::object{{"code", code}, {"message", message}};
    emit(out, {{"type", "response.failed"}, {"response", std::move(response)}});
    emit(out, {{"type", "error"},
               {"code", std::move(code)},
               {"message", std::move(message)},
               {"param", std::move(param)}});
    done_ = true;
  }

  ResponseFrame frame_;
  std::int64_t sequence_ = 0;
  bool started_ = false;
  bool done_ = false;
  std::vector<OutputItem> items_;
  std::optional<std::size_t> open_text_;       // the open message or reasoning item
  std::map<std::int64_t, std::size_t> calls_;  // chat tool call index -> its item
  std::string finish_reason_;
  json::object usage_;
};

}  // namespace

std::unique_ptr<ResponseTranslator> openai_response_to_responses(const ResponsesAnswer& answer) {
  return std::make_unique<ChatToResponses>(answer);
}

}  // namespace gatehouse::translate
