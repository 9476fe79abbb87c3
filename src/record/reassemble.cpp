// Streams reassembled for the inference log, on the writer's thread (never on the request path).
#include <boost/json.hpp>
#include <map>
#include <string_view>

#include "record/writer.h"

namespace gatehouse::record {

namespace json = boost::json;

namespace {

// Each event's data as JSON (events that are not JSON, like "[DONE]", are skipped).
template <class Fn>
std::size_t for_each_event(const std::string& raw, Fn fn) {
  // SSE lines may end in CRLF, LF or CR (a pass-through capture keeps the provider's bytes).
  std::string text;
  text.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      text += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      text += raw[i];
    }
  }
  std::size_t parsed = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find("\n\n", at);
    if (end == std::string::npos) end = text.size();
    std::string_view block(text.data() + at, end - at);
    at = end + 2;
    std::string data;
    std::string_view event_name;
    std::size_t line_start = 0;
    while (line_start < block.size()) {
      std::size_t line_end = block.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = block.size();
      std::string_view line = block.substr(line_start, line_end - line_start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.starts_with("data:")) {
        std::string_view d = line.substr(5);
        if (!d.empty() && d.front() == ' ') d.remove_prefix(1);
        if (!data.empty()) data += '\n';
        data += d;
      } else if (line.starts_with("event:")) {
        event_name = line.substr(6);
      }
      line_start = line_end + 1;
    }
    if (data.empty() || data.front() != '{') continue;
    json::error_code ec;
    json::value v = json::parse(data, ec);
    if (!ec && v.is_object()) {
      ++parsed;
      fn(v.as_object());
    }
  }
  return parsed;
}

std::string openai(const std::string& events) {
  struct Choice {
    std::string content;
    std::string role = "assistant";
    json::value finish_reason = nullptr;
    std::map<std::int64_t, json::object> tool_calls;  // by index
  };
  std::map<std::int64_t, Choice> choices;
  json::object out{{"object", "chat.completion"}};
  json::value error;
  const std::size_t parsed = for_each_event(events, [&](const json::object& chunk) {
    for (const char* k : {"id", "created", "model", "system_fingerprint"}) {
      if (auto* v = chunk.if_contains(k)) out[k] = *v;
    }
    if (auto* u = chunk.if_contains("usage"); u && u->is_object()) out["usage"] = *u;
    if (auto* e = chunk.if_contains("error")) error = *e;
    auto* cs = chunk.if_contains("choices");
    if (!cs || !cs->is_array()) return;
    for (const auto& c : cs->get_array()) {
      if (!c.is_object()) continue;
      const auto& co = c.get_object();
      std::int64_t index = 0;
      if (auto* i = co.if_contains("index"); i && i->is_int64()) index = i->get_int64();
      Choice& ch = choices[index];
      if (auto* f = co.if_contains("finish_reason"); f && !f->is_null()) ch.finish_reason = *f;
      auto* d = co.if_contains("delta");
      if (!d || !d->is_object()) continue;
      const auto& delta = d->get_object();
      if (auto* r = delta.if_contains("role"); r && r->is_string()) ch.role = std::string(r->get_string());
      if (auto* t = delta.if_contains("content"); t && t->is_string()) ch.content += t->get_string();
      if (auto* tcs = delta.if_contains("tool_calls"); tcs && tcs->is_array()) {
        for (const auto& tc : tcs->get_array()) {
          if (!tc.is_object()) continue;
          const auto& tco = tc.get_object();
          std::int64_t ti = 0;
          if (auto* i = tco.if_contains("index"); i && i->is_int64()) ti = i->get_int64();
          json::object& call = ch.tool_calls[ti];
          if (auto* id = tco.if_contains("id")) call["id"] = *id;
          if (auto* ty = tco.if_contains("type")) call["type"] = *ty;
          if (auto* fn = tco.if_contains("function"); fn && fn->is_object()) {
            json::object& f = call["function"].is_object() ? call["function"].get_object()
                                                            : (call["function"] = json::object()).get_object();
            if (auto* n = fn->get_object().if_contains("name"); n && n->is_string()) f["name"] = *n;
            if (auto* a = fn->get_object().if_contains("arguments"); a && a->is_string()) {
              std::string args = f.contains("arguments") ? std::string(f["arguments"].get_string()) : "";
              args += a->get_string();
              f["arguments"] = args;
            }
          }
        }
      }
    }
  });
  if (parsed == 0) return events;  // not a stream this can read: kept as it came
  json::array arr;
  for (auto& [index, ch] : choices) {
    json::object message{{"role", ch.role}, {"content", ch.content}};
    if (!ch.tool_calls.empty()) {
      json::array calls;
      for (auto& [i, c] : ch.tool_calls) calls.push_back(std::move(c));
      message["tool_calls"] = std::move(calls);
    }
    arr.push_back(json::object{{"index", index}, {"message", std::move(message)}, {"finish_reason", ch.finish_reason}});
  }
  out["choices"] = std::move(arr);
  if (!error.is_null()) out["error"] = error;
  return json::serialize(out);
}

std::string anthropic(const std::string& events) {
  json::object message;
  std::map<std::int64_t, json::object> blocks;
  std::map<std::int64_t, std::string> partial_json;
  json::value error;
  const std::size_t parsed = for_each_event(events, [&](const json::object& e) {
    auto* t = e.if_contains("type");
    if (!t || !t->is_string()) return;
    const std::string_view type = t->get_string();
    auto index = [&]() -> std::int64_t {
      auto* i = e.if_contains("index");
      return i && i->is_int64() ? i->get_int64() : 0;
    };
    if (type == "message_start") {
      if (auto* m = e.if_contains("message"); m && m->is_object()) message = m->get_object();
    } else if (type == "content_block_start") {
      if (auto* b = e.if_contains("content_block"); b && b->is_object()) blocks[index()] = b->get_object();
    } else if (type == "content_block_delta") {
      auto* d = e.if_contains("delta");
      if (!d || !d->is_object()) return;
      const auto& delta = d->get_object();
      json::object& block = blocks[index()];
      if (auto* text = delta.if_contains("text"); text && text->is_string()) {
        std::string s = block.contains("text") && block["text"].is_string() ? std::string(block["text"].get_string()) : "";
        s += text->get_string();
        block["text"] = s;
      }
      if (auto* pj = delta.if_contains("partial_json"); pj && pj->is_string()) partial_json[index()] += pj->get_string();
    } else if (type == "message_delta") {
      if (auto* d = e.if_contains("delta"); d && d->is_object()) {
        for (const auto& [k, v] : d->get_object()) message[k] = v;
      }
      if (auto* u = e.if_contains("usage"); u && u->is_object()) {
        json::object usage = message.contains("usage") && message["usage"].is_object() ? message["usage"].get_object()
                                                                                      : json::object();
        for (const auto& [k, v] : u->get_object()) usage[k] = v;
        message["usage"] = std::move(usage);
      }
    } else if (type == "error") {
      if (auto* er = e.if_contains("error")) error = *er;
    }
  });
  if (parsed == 0) return events;
  json::array content;
  for (auto& [i, b] : blocks) {
    // A tool called without arguments streams an empty partial_json: its start block's {} stays.
    if (auto it = partial_json.find(i); it != partial_json.end() && !it->second.empty()) {
      json::error_code ec;
      json::value input = json::parse(it->second, ec);
      b["input"] = ec ? json::value(it->second) : input;
    }
    content.push_back(std::move(b));
  }
  message["content"] = std::move(content);
  if (!error.is_null()) message["error"] = error;
  return json::serialize(message);
}

// A Responses stream: the response object its terminal event carries (response.completed,
// .incomplete, .failed); a stream without one (cut, or a Databricks agent's, which sends only
// deltas and output_item.done) is the object built from its finished items.
std::string responses(const std::string& events) {
  json::value terminal;
  json::array items;
  json::value error;
  std::size_t parsed = for_each_event(events, [&](const json::object& e) {
    auto* t = e.if_contains("type");
    if (!t || !t->is_string()) return;
    const std::string_view type = t->get_string();
    if (type == "response.completed" || type == "response.incomplete" || type == "response.failed") {
      if (auto* r = e.if_contains("response"); r && r->is_object()) terminal = *r;
    } else if (type == "response.output_item.done") {
      if (auto* item = e.if_contains("item"); item && item->is_object()) items.push_back(*item);
    } else if (type == "error") {
      error = e;
    }
  });
  if (parsed == 0) return events;
  if (terminal.is_object()) return json::serialize(terminal);
  json::object response{{"object", "response"}, {"status", error.is_null() ? "completed" : "failed"}, {"output", std::move(items)}};
  if (!error.is_null()) response["error"] = error;
  return json::serialize(response);
}

}  // namespace

std::string reassemble(Capture capture, const std::string& events) {
  try {
    switch (capture) {
      case Capture::kWhole: return events;
      case Capture::kOpenAIStream: return openai(events);
      case Capture::kAnthropicStream: return anthropic(events);
      case Capture::kResponsesStream: return responses(events);
    }
  } catch (const std::exception&) {
    // A stream that cannot be read is kept as it came.
  }
  return events;
}

}  // namespace gatehouse::record
