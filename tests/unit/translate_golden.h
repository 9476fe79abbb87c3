// What the golden translation tests share (translate_test.cpp, responses_translate_test.cpp):
// reading and writing the golden files, JSON pretty printing, a client's SSE parser, feeding a
// provider's stream to a translator as the gateway does, the field readers the protocol checks
// use, the OpenAI chat request check, and how a translation's Error is written in a golden.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "http/sse.h"
#include "translate/translate.h"

namespace gatehouse::translate::golden {

namespace fs = std::filesystem;
namespace json = boost::json;

inline fs::path golden_dir() { return fs::path(GATEHOUSE_TRANSLATE_GOLDEN_DIR); }

inline bool update_mode() {
  const char* v = std::getenv("GATEHOUSE_UPDATE_GOLDEN");
  return v != nullptr && std::string_view(v) == "1";
}

inline std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

inline std::optional<json::value> try_parse(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// --- pretty printing (update mode and failure messages) ---------------------------------------

inline void pretty(std::string& out, const json::value& v, int indent) {
  if (const auto* o = v.if_object(); o && !o->empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [k, val] : *o) {
      if (!first) out += ",\n";
      first = false;
      out.append(std::size_t(indent + 2), ' ');
      out += json::serialize(json::value(k));
      out += ": ";
      pretty(out, val, indent + 2);
    }
    out += "\n";
    out.append(std::size_t(indent), ' ');
    out += "}";
  } else if (const auto* a = v.if_array(); a && !a->empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& val : *a) {
      if (!first) out += ",\n";
      first = false;
      out.append(std::size_t(indent + 2), ' ');
      pretty(out, val, indent + 2);
    }
    out += "\n";
    out.append(std::size_t(indent), ' ');
    out += "]";
  } else {
    out += json::serialize(v);
  }
}

inline std::string pretty(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  return out;
}

// --- SSE -------------------------------------------------------------------------------------

struct SseEvent {
  std::string name;  // empty when the event has no `event:` line
  std::string data;  // `data:` lines joined with '\n'
};

// Parses a whole stream as a client would. `problems` gets framing errors: an unterminated
// last event, lines that are neither `event:`, `data:` nor comments.
inline std::vector<SseEvent> parse_sse(std::string text, std::vector<std::string>& problems) {
  for (std::size_t p; (p = text.find("\r\n")) != std::string::npos;) text.erase(p, 1);
  std::vector<SseEvent> events;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) {
      problems.push_back("unterminated event at the end of the stream: " + text.substr(pos));
      end = text.size();
    }
    std::string_view block(text.data() + pos, end - pos);
    pos = std::min(text.size(), end + 2);
    SseEvent e;
    bool any = false;
    while (!block.empty()) {
      std::size_t eol = block.find('\n');
      std::string_view line = block.substr(0, eol);
      block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 1);
      auto value = [&](std::size_t n) {
        std::string_view v = line.substr(n);
        if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return std::string(v);
      };
      if (line.starts_with("event:")) {
        e.name = value(6);
        any = true;
      } else if (line.starts_with("data:")) {
        if (any && !e.data.empty()) e.data += '\n';
        e.data += value(5);
        any = true;
      } else if (line.starts_with(":")) {
        continue;
      } else if (!line.empty()) {
        problems.push_back("a line that is not event:, data: or a comment: " + std::string(line));
      }
    }
    if (any) events.push_back(std::move(e));
  }
  return events;
}

// Feeds a provider stream to a translator the way src/app/forward.cpp does: whole events as
// http::SseSplitter cuts them, a trailing unterminated event with a blank line added, then
// finish(). Also checks that nothing comes out once the stream has ended.
inline std::string run_stream(ResponseTranslator& t, std::string_view provider_stream, std::string_view late_event) {
  std::string out;
  http::SseSplitter splitter;
  for (auto event : splitter.feed(provider_stream)) t.event(event, out);
  if (!splitter.pending().empty()) t.event(std::string(splitter.pending()) + "\n\n", out);
  t.finish(out);
  std::string after;
  t.finish(after);
  t.event(late_event, after);
  EXPECT_EQ(after, "") << "the translator wrote more after its stream had ended";
  return out;
}

// --- protocol checks: each returns the rules a value breaks (empty when it is fine) ----------

using Problems = std::vector<std::string>;

inline const json::object* member_object(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v ? v->if_object() : nullptr;
}
inline const json::array* member_array(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v ? v->if_array() : nullptr;
}
inline std::optional<std::string> member_string(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}
inline bool member_is_int(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && (v->is_int64() || v->is_uint64());
}
inline std::int64_t member_int(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return std::int64_t(v->get_uint64());
  return -1;
}
inline bool parses_as_object(std::string_view text) {
  auto v = try_parse(text);
  return v && v->is_object();
}

// An OpenAI chat request as the OpenAI API validates it.
inline Problems check_openai_request(const json::value& v) {
  Problems p;
  const auto* r = v.if_object();
  if (!r) return {"the request is not an object"};
  if (r->contains("model")) p.push_back("the translation must not carry a model");
  const auto* msgs = member_array(*r, "messages");
  if (!msgs || msgs->empty()) return p.push_back("messages must be a non-empty array"), p;
  std::set<std::string> unanswered;  // tool_calls of the last assistant message not yet answered
  bool in_tool_run = false;
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    std::string at = "messages[" + std::to_string(i) + "]";
    const auto* m = (*msgs)[i].if_object();
    if (!m) {
      p.push_back(at + " is not an object");
      continue;
    }
    std::string role = member_string(*m, "role").value_or("");
    if (role == "tool") {
      std::string id = member_string(*m, "tool_call_id").value_or("");
      if (!in_tool_run || !unanswered.erase(id)) p.push_back(at + ": a tool message for '" + id + "' that answers no pending tool call");
      if (!member_string(*m, "content")) p.push_back(at + ": tool content must be a string here");
      continue;
    }
    if (!unanswered.empty()) p.push_back(at + ": tool calls left without a tool message before it");
    unanswered.clear();
    in_tool_run = false;
    if (role == "assistant") {
      if (const auto* calls = member_array(*m, "tool_calls")) {
        for (const auto& cv : *calls) {
          const auto* c = cv.if_object();
          const auto* fn = c ? member_object(*c, "function") : nullptr;
          if (!fn || member_string(*c, "type") != "function" || member_string(*c, "id").value_or("").empty() ||
              member_string(*fn, "name").value_or("").empty()) {
            p.push_back(at + ": tool_calls[] need id, type function and function.name");
            continue;
          }
          if (!parses_as_object(member_string(*fn, "arguments").value_or(""))) {
            p.push_back(at + ": function.arguments must be a JSON object as text");
          }
          unanswered.insert(member_string(*c, "id").value_or(""));
        }
        in_tool_run = true;
      }
      const json::value* content = m->if_contains("content");
      if (!content || !(content->is_string() || (content->is_null() && in_tool_run))) {
        p.push_back(at + ": assistant content must be a string (or null with tool_calls)");
      }
    } else if (role == "user" || role == "system" || role == "developer") {
      const json::value* content = m->if_contains("content");
      if (!content || !(content->is_string() || content->is_array())) p.push_back(at + ": content must be a string or parts");
    } else {
      p.push_back(at + ": unknown role '" + role + "'");
    }
  }
  if (!unanswered.empty()) p.push_back("the last tool calls have no tool messages");
  if (const json::value* effort = r->if_contains("reasoning_effort")) {
    // The values the chat API takes on every reasoning model (the SDK's ReasoningEffort).
    static const std::set<std::string> kEfforts{"minimal", "low", "medium", "high"};
    if (!effort->is_string() || !kEfforts.count(std::string(effort->get_string()))) {
      p.push_back("reasoning_effort must be one of minimal, low, medium, high");
    }
  }
  if (const json::value* user = r->if_contains("user"); user && (!user->is_string() || user->get_string().size() > 64)) {
    p.push_back("user must be a string of at most 64 characters (OpenAI refuses longer ones)");
  }
  if (r->contains("stream_options") && !(r->contains("stream") && r->at("stream") == json::value(true))) {
    p.push_back("stream_options is only allowed with stream: true");
  }
  if (const auto* tools = member_array(*r, "tools")) {
    for (const auto& tv : *tools) {
      const auto* t = tv.if_object();
      const auto* fn = t ? member_object(*t, "function") : nullptr;
      if (!fn || member_string(*t, "type") != "function" || member_string(*fn, "name").value_or("").empty()) {
        p.push_back("tools[] need type function and function.name");
      }
    }
  }
  return p;
}

inline std::string join(const Problems& p) {
  std::string s;
  for (const auto& x : p) s += "  - " + x + "\n";
  return s;
}

inline json::value error_value(const Error& e) {
  return json::object{{"error", json::object{{"status", e.status},
                                             {"kind", to_string(e.kind)},
                                             {"param", e.param},
                                             {"message", e.message}}}};
}

inline json::value result_value(const std::variant<std::string, Error>& r, const std::string& what) {
  if (const auto* e = std::get_if<Error>(&r)) return error_value(*e);
  auto v = try_parse(std::get<std::string>(r));
  if (!v) {
    ADD_FAILURE() << what << " is not JSON: " << std::get<std::string>(r);
    return nullptr;
  }
  return *v;
}

inline bool is_error_value(const json::value& v) {
  return v.is_object() && v.get_object().size() == 1 && v.get_object().contains("error");
}

}  // namespace gatehouse::translate::golden
