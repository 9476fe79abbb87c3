// Golden-file tests for the protocol translation library (src/translate): OpenAI chat requests
// <-> Anthropic Messages requests, whole answers both ways, and SSE streams both ways.
//
// Layout: tests/unit/golden/translate/<direction>/<case>.in.<ext> + <case>.out.<ext>
//   openai_to_anthropic/  (an OpenAI-shaped client, an Anthropic provider)
//     request_*.json   OpenAI chat request  -> openai_request_to_anthropic(in, 4096)
//     response_*.json  OpenAI chat answer   -> openai_response_to_anthropic()->body(in)
//     stream_*.sse     OpenAI chunk stream  -> openai_response_to_anthropic()->event()/finish()
//   anthropic_to_openai/  (an Anthropic client, an OpenAI-shaped provider)
//     request_*.json   Messages request     -> anthropic_request_to_openai(in, target);
//                      target.reasoning_effort is true when the case name contains
//                      "reasoning_effort" (a model configured with reasoning_effort: true).
//     response_*.json  Anthropic message    -> anthropic_response_to_openai(false)->body(in)
//     stream_*.sse     Messages event stream -> anthropic_response_to_openai(include_usage)->
//                      event()/finish(); include_usage is true when the case name contains
//                      "include_usage".
// (The Responses API's folders, responses_to_openai/ and openai_to_responses/, are
// responses_translate_test.cpp's.)
// A translation that fails (an Error) is written as
//   {"error": {"status": 400, "kind": "bad_request", "param": "...", "message": "..."}}.
//
// Comparison: JSON is compared as parsed values (formatting and member order do not matter).
// Streams are compared event by event: the count, the ORDER and the event names must match
// exactly; each event's data is compared as JSON ("[DONE]" as text). Before comparing, values
// the translator generates are normalised on both sides: a top-level numeric "created" becomes
// 0 and generated message ids ("msg_gh" + 16 hex digits) become "msg_gh<generated>"; a
// function-call "arguments" string that parses as JSON is compared as the value it encodes.
// Independently of the goldens, every stream, request and answer (actual AND expected) is
// checked against the receiving protocol's rules (event order, block indexes, tool-call
// bookkeeping, role alternation, tool_result pairing, usage arithmetic), so a golden that the
// real SDKs would reject cannot be committed by accident.
//
// GATEHOUSE_UPDATE_GOLDEN=1 rewrites every .out file from the actual output (normalised, JSON
// pretty-printed) instead of comparing. Review the diff by hand against the wire formats
// before committing: the committed goldens are the specification, not a snapshot.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "http/sse.h"
#include "translate/translate.h"
#include "translate_golden.h"

namespace gatehouse::translate {
namespace {

using namespace golden;

constexpr int kDefaultMaxTokens = 4096;

// --- normalisation ---------------------------------------------------------------------------

bool is_generated_message_id(std::string_view id) {
  if (id.size() != 22 || !id.starts_with("msg_gh")) return false;
  return std::all_of(id.begin() + 6, id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// What is stable across runs: `created` timestamps and generated ids are replaced. Used both
// for comparing and for writing goldens.
void normalise_generated(json::value& v, bool top) {
  if (auto* o = v.if_object()) {
    for (auto& [k, val] : *o) {
      if (top && k == "created" && val.is_number()) {
        val = 0;
      } else if (k == "id" && val.is_string() && is_generated_message_id(val.get_string())) {
        val = "msg_gh<generated>";
      } else {
        normalise_generated(val, false);
      }
    }
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) normalise_generated(e, false);
  }
}

// For comparing only: function-call arguments are JSON text; compare what they encode.
void normalise_arguments(json::value& v) {
  if (auto* o = v.if_object()) {
    for (auto& [k, val] : *o) {
      if (k == "arguments" && val.is_string()) {
        if (auto parsed = try_parse(val.get_string())) val = json::object{{"<json text>", std::move(*parsed)}};
      } else {
        normalise_arguments(val);
      }
    }
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) normalise_arguments(e);
  }
}

json::value for_compare(json::value v) {
  normalise_generated(v, true);
  normalise_arguments(v);
  return v;
}

// --- SSE (failure messages and update mode) --------------------------------------------------

std::string describe(const SseEvent& e) {
  std::string s = e.name.empty() ? "(data)" : e.name;
  s += " ";
  if (auto v = try_parse(e.data)) {
    normalise_generated(*v, true);
    s += json::serialize(*v);
  } else {
    s += e.data;
  }
  return s;
}

std::string describe(const std::vector<SseEvent>& events) {
  std::string s;
  for (std::size_t i = 0; i < events.size(); ++i) s += "  [" + std::to_string(i) + "] " + describe(events[i]) + "\n";
  return s;
}

std::string render_sse(const std::vector<SseEvent>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!e.name.empty()) out += "event: " + e.name + "\n";
    out += "data: ";
    if (auto v = try_parse(e.data)) {
      normalise_generated(*v, true);
      out += json::serialize(*v);
    } else {
      out += e.data;
    }
    out += "\n\n";
  }
  return out;
}

// --- protocol checks (and translate_golden.h's check_openai_request) -------------------------

void check_openai_usage(const json::object& u, Problems& p, const std::string& at) {
  for (auto k : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
    if (!member_is_int(u, k)) p.push_back(at + ".usage." + k + " must be an integer");
  }
  if (member_int(u, "total_tokens") != member_int(u, "prompt_tokens") + member_int(u, "completion_tokens")) {
    p.push_back(at + ".usage.total_tokens must be prompt_tokens + completion_tokens");
  }
  if (const auto* d = member_object(u, "prompt_tokens_details")) {
    if (member_int(*d, "cached_tokens") > member_int(u, "prompt_tokens")) {
      p.push_back(at + ".usage: cached_tokens cannot exceed prompt_tokens");
    }
  }
}

void check_anthropic_usage(const json::object& u, Problems& p, const std::string& at) {
  for (auto k : {"input_tokens", "output_tokens"}) {
    if (!member_is_int(u, k) || member_int(u, k) < 0) p.push_back(at + ".usage." + k + " must be an integer >= 0");
  }
}

const std::set<std::string> kOpenAIFinish{"stop", "length", "tool_calls", "content_filter"};
const std::set<std::string> kAnthropicStop{"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"};

// An OpenAI chat.completion.chunk stream as the OpenAI SDKs read it.
Problems check_openai_stream(const std::vector<SseEvent>& events, bool include_usage) {
  Problems p;
  bool done = false, error = false, saw_usage = false, first = true;
  int finishes = 0;
  struct Call {
    std::string id;
    std::string arguments;
  };
  std::map<std::int64_t, Call> calls;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    std::string at = "event " + std::to_string(i);
    if (!e.name.empty()) p.push_back(at + " is named '" + e.name + "': OpenAI streams are unnamed data events");
    if (done || error) p.push_back(at + " comes after the end of the stream");
    if (e.data == "[DONE]") {
      done = true;
      continue;
    }
    auto v = try_parse(e.data);
    if (!v || !v->is_object()) {
      p.push_back(at + ": data is not a JSON object");
      continue;
    }
    const auto& c = v->get_object();
    if (const auto* err = member_object(c, "error")) {
      if (!member_string(*err, "message")) p.push_back(at + ": error.message must be a string");
      error = true;
      continue;
    }
    if (member_string(c, "object") != "chat.completion.chunk") p.push_back(at + ": object must be chat.completion.chunk");
    if (member_string(c, "id").value_or("").empty()) p.push_back(at + ": id must be a non-empty string");
    if (!c.contains("created") || !c.at("created").is_number()) p.push_back(at + ": created must be a number");
    if (!member_string(c, "model")) p.push_back(at + ": model must be a string");
    const auto* choices = member_array(c, "choices");
    if (!choices) {
      p.push_back(at + ": choices must be an array");
      continue;
    }
    if (choices->empty()) {
      const auto* u = member_object(c, "usage");
      if (!u) {
        p.push_back(at + ": a chunk with no choices must be the usage chunk");
      } else {
        check_openai_usage(*u, p, at);
      }
      if (saw_usage) p.push_back(at + ": a second usage chunk");
      saw_usage = true;
      continue;
    }
    if (saw_usage) p.push_back(at + ": a choice chunk after the usage chunk");
    if (!(*choices)[0].is_object()) {
      p.push_back(at + ": choices[0] must be an object");
      continue;
    }
    const auto& ch = (*choices)[0].get_object();
    if (member_int(ch, "index") != 0) p.push_back(at + ": choices[0].index must be 0");
    const auto* delta = member_object(ch, "delta");
    if (!delta) {
      p.push_back(at + ": choices[0].delta must be an object");
      continue;
    }
    if (first && member_string(*delta, "role") != "assistant") p.push_back(at + ": the first chunk's delta must have role assistant");
    first = false;
    const json::value* fr = ch.if_contains("finish_reason");
    if (!fr) {
      p.push_back(at + ": choices[0].finish_reason must be present (null or a reason)");
    } else if (fr->is_string()) {
      ++finishes;
      if (!kOpenAIFinish.count(std::string(fr->get_string()))) p.push_back(at + ": unknown finish_reason " + json::serialize(*fr));
    } else if (!fr->is_null()) {
      p.push_back(at + ": finish_reason must be null or a string");
    } else if (finishes > 0 && !delta->empty()) {
      p.push_back(at + ": a delta after the finish_reason chunk");
    }
    if (const auto* tcs = member_array(*delta, "tool_calls")) {
      for (const auto& tv : *tcs) {
        const auto* tc = tv.if_object();
        if (!tc || !member_is_int(*tc, "index")) {
          p.push_back(at + ": tool_calls[] need an integer index");
          continue;
        }
        std::int64_t k = member_int(*tc, "index");
        const auto* fn = member_object(*tc, "function");
        auto it = calls.find(k);
        if (it == calls.end()) {
          if (k != std::int64_t(calls.size())) p.push_back(at + ": tool call indexes must count up from 0");
          if (member_string(*tc, "id").value_or("").empty()) p.push_back(at + ": a new tool call needs an id");
          if (member_string(*tc, "type") != "function") p.push_back(at + ": a new tool call needs type function");
          if (!fn || member_string(*fn, "name").value_or("").empty()) p.push_back(at + ": a new tool call needs function.name");
          it = calls.emplace(k, Call{member_string(*tc, "id").value_or(""), ""}).first;
        } else if (auto id = member_string(*tc, "id"); id && *id != it->second.id) {
          p.push_back(at + ": tool call " + std::to_string(k) + " changes its id");
        }
        if (fn) {
          if (const json::value* a = fn->if_contains("arguments")) {
            if (!a->is_string()) {
              p.push_back(at + ": function.arguments must be a string");
            } else {
              it->second.arguments += a->get_string();
            }
          }
        }
      }
    }
  }
  if (!done && !error) p.push_back("the stream ends with neither data: [DONE] nor an error event");
  if (done) {
    if (finishes != 1) p.push_back("a complete stream needs exactly one finish_reason chunk, got " + std::to_string(finishes));
    if (saw_usage != include_usage) {
      p.push_back(include_usage ? "include_usage asks for a usage chunk before [DONE]" : "a usage chunk nobody asked for");
    }
    for (const auto& [k, call] : calls) {
      if (!parses_as_object(call.arguments)) {
        p.push_back("tool call " + std::to_string(k) + ": the arguments add up to '" + call.arguments +
                    "', not a JSON object");
      }
    }
  }
  return p;
}

// An Anthropic Messages event stream as the Anthropic SDKs read it.
Problems check_anthropic_stream(const std::vector<SseEvent>& events) {
  Problems p;
  bool started = false, delta_seen = false, stopped = false, error = false;
  std::int64_t next_index = 0, open = -1;
  std::string open_type, open_json;
  int tool_blocks = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    std::string at = "event " + std::to_string(i) + " (" + e.name + ")";
    if (stopped || error) p.push_back(at + " comes after the end of the stream");
    auto v = try_parse(e.data);
    if (!v || !v->is_object()) {
      p.push_back(at + ": data is not a JSON object");
      continue;
    }
    const auto& d = v->get_object();
    if (member_string(d, "type") != e.name) p.push_back(at + ": the event name and data.type differ");
    if (e.name == "ping") continue;
    if (e.name == "error") {
      const auto* err = member_object(d, "error");
      if (!err || !member_string(*err, "type") || !member_string(*err, "message")) {
        p.push_back(at + ": an error event needs error.type and error.message");
      }
      error = true;
      continue;
    }
    if (!started) {
      if (e.name != "message_start") p.push_back(at + ": the stream must begin with message_start");
      started = true;
      const auto* m = member_object(d, "message");
      if (!m) {
        p.push_back(at + ": message_start needs a message");
        continue;
      }
      if (!member_string(*m, "id").value_or("").starts_with("msg_")) p.push_back(at + ": message.id must start with msg_");
      if (member_string(*m, "type") != "message") p.push_back(at + ": message.type must be message");
      if (member_string(*m, "role") != "assistant") p.push_back(at + ": message.role must be assistant");
      if (!member_string(*m, "model")) p.push_back(at + ": message.model must be a string");
      if (const auto* c = member_array(*m, "content"); !c || !c->empty()) p.push_back(at + ": message.content must be []");
      if (!m->contains("stop_reason") || !m->at("stop_reason").is_null()) p.push_back(at + ": message.stop_reason must be null");
      if (const auto* u = member_object(*m, "usage")) {
        check_anthropic_usage(*u, p, at);
      } else {
        p.push_back(at + ": message.usage is required");
      }
      continue;
    }
    if (e.name == "content_block_start") {
      if (open >= 0) p.push_back(at + ": block " + std::to_string(open) + " is still open");
      if (delta_seen) p.push_back(at + ": a block after message_delta");
      if (member_int(d, "index") != next_index) p.push_back(at + ": expected index " + std::to_string(next_index));
      const auto* b = member_object(d, "content_block");
      open_type = b ? member_string(*b, "type").value_or("") : "";
      if (open_type == "text") {
        if (!member_string(*b, "text")) p.push_back(at + ": a text block needs text");
      } else if (open_type == "tool_use") {
        ++tool_blocks;
        if (member_string(*b, "id").value_or("").empty()) p.push_back(at + ": a tool_use block needs an id");
        if (member_string(*b, "name").value_or("").empty()) p.push_back(at + ": a tool_use block needs a name");
        if (!member_object(*b, "input")) p.push_back(at + ": a tool_use block needs input {}");
      } else {
        p.push_back(at + ": unexpected content block type '" + open_type + "'");
      }
      open = member_int(d, "index");
      next_index = open + 1;
      open_json.clear();
    } else if (e.name == "content_block_delta") {
      if (open < 0 || member_int(d, "index") != open) {
        p.push_back(at + ": a delta for a block that is not open");
        continue;
      }
      const auto* delta = member_object(d, "delta");
      std::string dt = delta ? member_string(*delta, "type").value_or("") : "";
      if (dt == "text_delta") {
        if (open_type != "text") p.push_back(at + ": text_delta in a " + open_type + " block");
        if (!member_string(*delta, "text")) p.push_back(at + ": text_delta needs text");
      } else if (dt == "input_json_delta") {
        if (open_type != "tool_use") p.push_back(at + ": input_json_delta in a " + open_type + " block");
        if (auto pj = member_string(*delta, "partial_json")) {
          open_json += *pj;
        } else {
          p.push_back(at + ": input_json_delta needs partial_json");
        }
      } else {
        p.push_back(at + ": unexpected delta type '" + dt + "'");
      }
    } else if (e.name == "content_block_stop") {
      if (open < 0 || member_int(d, "index") != open) {
        p.push_back(at + ": stops a block that is not open");
        continue;
      }
      // The SDKs parse the input JSON of a finished tool_use block ("" counts as {}).
      if (open_type == "tool_use" && !open_json.empty() && !parses_as_object(open_json)) {
        p.push_back(at + ": the tool input adds up to '" + open_json + "', not a JSON object");
      }
      open = -1;
    } else if (e.name == "message_delta") {
      if (open >= 0) p.push_back(at + ": block " + std::to_string(open) + " is still open");
      const auto* delta = member_object(d, "delta");
      auto stop = delta ? member_string(*delta, "stop_reason") : std::nullopt;
      if (!stop || !kAnthropicStop.count(*stop)) p.push_back(at + ": delta.stop_reason must be a known stop reason");
      if (stop == "tool_use" && tool_blocks == 0) p.push_back(at + ": stop_reason tool_use without a tool_use block");
      if (const auto* u = member_object(d, "usage"); !u || !member_is_int(*u, "output_tokens")) {
        p.push_back(at + ": usage.output_tokens is required");
      }
      delta_seen = true;
    } else if (e.name == "message_stop") {
      if (!delta_seen) p.push_back(at + ": message_stop before message_delta");
      stopped = true;
    } else {
      p.push_back(at + ": unknown event");
    }
  }
  if (!stopped && !error) p.push_back("the stream ends with neither message_stop nor an error event");
  return p;
}

// A Messages request as the Anthropic API validates it.
Problems check_anthropic_request(const json::value& v) {
  Problems p;
  const auto* r = v.if_object();
  if (!r) return {"the request is not an object"};
  if (r->contains("model")) p.push_back("the translation must not carry a model");
  if (!member_is_int(*r, "max_tokens") || member_int(*r, "max_tokens") < 1) p.push_back("max_tokens must be an integer >= 1");
  if (r->contains("system") && !r->at("system").is_string()) p.push_back("system must be a string here");
  if (const auto* stops = member_array(*r, "stop_sequences")) {
    for (const auto& sv : *stops) {
      // "stop_sequences: each stop sequence must contain non-whitespace" (a 400 from the API).
      std::string_view s = sv.is_string() ? std::string_view(sv.get_string()) : std::string_view();
      if (s.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        p.push_back("stop_sequences entries must contain a non-whitespace character");
      }
    }
  }
  const auto* msgs = member_array(*r, "messages");
  if (!msgs || msgs->empty()) return p.push_back("messages must be a non-empty array"), p;
  std::string prev_role;
  std::set<std::string> pending_tool_use;  // tool_use ids of the previous assistant turn
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    std::string at = "messages[" + std::to_string(i) + "]";
    const auto* m = (*msgs)[i].if_object();
    if (!m) {
      p.push_back(at + " is not an object");
      continue;
    }
    std::string role = member_string(*m, "role").value_or("");
    if (role != "user" && role != "assistant") p.push_back(at + ".role must be user or assistant");
    if (i == 0 && role != "user") p.push_back("the first message must be a user turn");
    if (role == prev_role) p.push_back(at + ": two " + role + " turns in a row");
    prev_role = role;
    const auto* content = member_array(*m, "content");
    if (!content || content->empty()) {
      p.push_back(at + ".content must be a non-empty array of blocks");
      continue;
    }
    std::set<std::string> tool_use_ids;
    bool other_seen = false;
    std::set<std::string> answered;
    for (const auto& bv : *content) {
      const auto* b = bv.if_object();
      std::string type = b ? member_string(*b, "type").value_or("") : "";
      if (type == "tool_result") {
        if (role != "user") p.push_back(at + ": tool_result outside a user turn");
        if (other_seen) p.push_back(at + ": tool_result blocks must come before any other block");
        std::string id = member_string(*b, "tool_use_id").value_or("");
        if (!pending_tool_use.count(id)) p.push_back(at + ": tool_result for '" + id + "', not a tool_use of the previous turn");
        answered.insert(id);
      } else if (type == "tool_use") {
        if (role != "assistant") p.push_back(at + ": tool_use outside an assistant turn");
        tool_use_ids.insert(member_string(*b, "id").value_or(""));
        if (!member_object(*b, "input")) p.push_back(at + ": tool_use.input must be an object");
      } else if (type == "text") {
        other_seen = true;
        if (member_string(*b, "text").value_or("").empty()) p.push_back(at + ": text blocks must not be empty");
      } else if (type == "image") {
        other_seen = true;
      } else {
        p.push_back(at + ": unexpected block type '" + type + "'");
      }
    }
    if (role == "user" && !pending_tool_use.empty()) {
      for (const auto& id : pending_tool_use) {
        if (!answered.count(id)) p.push_back(at + ": no tool_result for tool_use '" + id + "' of the previous turn");
      }
    }
    pending_tool_use = role == "assistant" ? tool_use_ids : std::set<std::string>{};
  }
  if (const auto* tools = member_array(*r, "tools")) {
    for (const auto& tv : *tools) {
      const auto* t = tv.if_object();
      if (!t || member_string(*t, "name").value_or("").empty() || !member_object(*t, "input_schema")) {
        p.push_back("tools[] need a name and an input_schema object");
      }
    }
  }
  if (const auto* tc = member_object(*r, "tool_choice")) {
    static const std::set<std::string> kTypes{"auto", "any", "tool", "none"};
    if (!kTypes.count(member_string(*tc, "type").value_or(""))) p.push_back("unknown tool_choice.type");
    if (member_string(*tc, "type") == "tool" && !member_string(*tc, "name")) p.push_back("tool_choice tool needs a name");
  } else if (r->contains("tool_choice")) {
    p.push_back("tool_choice must be an object");
  }
  return p;
}

// A chat.completion as the OpenAI SDKs read it.
Problems check_openai_completion(const json::value& v) {
  Problems p;
  const auto* c = v.if_object();
  if (!c) return {"the answer is not an object"};
  if (member_string(*c, "object") != "chat.completion") p.push_back("object must be chat.completion");
  if (member_string(*c, "id").value_or("").empty()) p.push_back("id must be a non-empty string");
  if (!c->contains("created") || !c->at("created").is_number()) p.push_back("created must be a number");
  if (!member_string(*c, "model")) p.push_back("model must be a string");
  const auto* choices = member_array(*c, "choices");
  if (!choices || choices->size() != 1 || !(*choices)[0].is_object()) return p.push_back("one choice expected"), p;
  const auto& ch = (*choices)[0].get_object();
  if (member_int(ch, "index") != 0) p.push_back("choices[0].index must be 0");
  if (!kOpenAIFinish.count(member_string(ch, "finish_reason").value_or(""))) p.push_back("unknown finish_reason");
  const auto* m = member_object(ch, "message");
  if (!m) return p.push_back("choices[0].message is required"), p;
  if (member_string(*m, "role") != "assistant") p.push_back("message.role must be assistant");
  const auto* calls = member_array(*m, "tool_calls");
  const json::value* content = m->if_contains("content");
  if (!content || !(content->is_string() || (content->is_null() && calls))) p.push_back("message.content must be a string (or null with tool_calls)");
  if (calls) {
    if (member_string(ch, "finish_reason") != "tool_calls") p.push_back("tool_calls with a finish_reason other than tool_calls");
    for (const auto& cv : *calls) {
      const auto* call = cv.if_object();
      const auto* fn = call ? member_object(*call, "function") : nullptr;
      if (!fn || member_string(*call, "id").value_or("").empty() || member_string(*call, "type") != "function" ||
          member_string(*fn, "name").value_or("").empty() || !parses_as_object(member_string(*fn, "arguments").value_or(""))) {
        p.push_back("tool_calls[] need id, type function, function.name and JSON-object arguments text");
      }
    }
  }
  if (const auto* u = member_object(*c, "usage")) check_openai_usage(*u, p, "answer");
  return p;
}

// A Messages answer as the Anthropic SDKs read it.
Problems check_anthropic_message(const json::value& v) {
  Problems p;
  const auto* m = v.if_object();
  if (!m) return {"the answer is not an object"};
  if (!member_string(*m, "id").value_or("").starts_with("msg_")) p.push_back("id must start with msg_");
  if (member_string(*m, "type") != "message") p.push_back("type must be message");
  if (member_string(*m, "role") != "assistant") p.push_back("role must be assistant");
  if (!member_string(*m, "model")) p.push_back("model must be a string");
  auto stop = member_string(*m, "stop_reason");
  if (!stop || !kAnthropicStop.count(*stop)) p.push_back("stop_reason must be a known stop reason");
  if (!m->contains("stop_sequence") || !(m->at("stop_sequence").is_null() || m->at("stop_sequence").is_string())) {
    p.push_back("stop_sequence must be null or a string");
  }
  const auto* content = member_array(*m, "content");
  if (!content) return p.push_back("content must be an array"), p;
  int tools = 0;
  for (const auto& bv : *content) {
    const auto* b = bv.if_object();
    std::string type = b ? member_string(*b, "type").value_or("") : "";
    if (type == "text") {
      if (!member_string(*b, "text")) p.push_back("a text block needs text");
    } else if (type == "tool_use") {
      ++tools;
      if (member_string(*b, "id").value_or("").empty() || member_string(*b, "name").value_or("").empty() || !member_object(*b, "input")) {
        p.push_back("a tool_use block needs id, name and an input object");
      }
    } else {
      p.push_back("unexpected block type '" + type + "'");
    }
  }
  if (stop == "tool_use" && tools == 0) p.push_back("stop_reason tool_use without a tool_use block");
  if (const auto* u = member_object(*m, "usage")) {
    check_anthropic_usage(*u, p, "answer");
  } else {
    p.push_back("usage is required");
  }
  return p;
}

// --- the cases -------------------------------------------------------------------------------

struct GoldenCase {
  std::string direction;  // openai_to_anthropic | anthropic_to_openai
  std::string name;       // request_* | response_* | stream_*
  fs::path in;
  fs::path out;
  bool stream = false;
};

// gtest prints the parameter of a failed case: show its input file, not its bytes.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.in.string(); }

std::vector<GoldenCase> discover() {
  std::vector<GoldenCase> cases;
  for (std::string direction : {"openai_to_anthropic", "anthropic_to_openai"}) {
    fs::path dir = golden_dir() / direction;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::string file = entry.path().filename().string();
      for (std::string_view ext : {".in.json", ".in.sse"}) {
        if (!file.ends_with(ext)) continue;
        GoldenCase c;
        c.direction = direction;
        c.name = file.substr(0, file.size() - ext.size());
        c.in = entry.path();
        c.stream = ext == ".in.sse";
        c.out = dir / (c.name + (c.stream ? ".out.sse" : ".out.json"));
        cases.push_back(std::move(c));
      }
    }
  }
  std::sort(cases.begin(), cases.end(), [](const GoldenCase& a, const GoldenCase& b) {
    return std::tie(a.direction, a.name) < std::tie(b.direction, b.name);
  });
  return cases;
}

class TranslateGolden : public ::testing::TestWithParam<GoldenCase> {
 protected:
  // The protocol the translated output speaks, to check it (and the golden) against.
  Problems check_json(const GoldenCase& c, const json::value& v) {
    if (is_error_value(v)) return {};
    bool to_anthropic = c.direction == "openai_to_anthropic";
    if (c.name.starts_with("request_")) return to_anthropic ? check_anthropic_request(v) : check_openai_request(v);
    return to_anthropic ? check_anthropic_message(v) : check_openai_completion(v);
  }
  Problems check_stream(const GoldenCase& c, const std::vector<SseEvent>& events) {
    return c.direction == "openai_to_anthropic" ? check_anthropic_stream(events)
                                                : check_openai_stream(events, include_usage(c));
  }
  static bool include_usage(const GoldenCase& c) { return c.name.find("include_usage") != std::string::npos; }
  static ChatTarget chat_target(const GoldenCase& c) {
    return {.reasoning_effort = c.name.find("reasoning_effort") != std::string::npos};
  }

  void run_json(const GoldenCase& c) {
    std::string input = read_text(c.in);
    ASSERT_TRUE(try_parse(input)) << c.in << " is not JSON";
    json::value actual;
    bool to_anthropic = c.direction == "openai_to_anthropic";
    if (c.name.starts_with("request_")) {
      actual = result_value(to_anthropic ? openai_request_to_anthropic(input, kDefaultMaxTokens)
                                         : anthropic_request_to_openai(input, chat_target(c)),
                            "the translated request");
    } else if (c.name.starts_with("response_")) {
      auto t = to_anthropic ? openai_response_to_anthropic() : anthropic_response_to_openai(false);
      actual = result_value(t->body(input), "the translated answer");
    } else {
      FAIL() << c.in << ": a .json case must be named request_* or response_*";
    }
    normalise_generated(actual, true);
    EXPECT_EQ(join(check_json(c, actual)), "") << "the actual output breaks the receiving protocol:\n" << pretty(actual);

    if (update_mode()) {
      write_text(c.out, pretty(actual) + "\n");
      return;
    }
    ASSERT_TRUE(fs::exists(c.out)) << c.out << " is missing (GATEHOUSE_UPDATE_GOLDEN=1 writes it)";
    auto expected = try_parse(read_text(c.out));
    ASSERT_TRUE(expected) << c.out << " is not JSON";
    EXPECT_EQ(join(check_json(c, *expected)), "") << "the golden itself breaks the receiving protocol";
    EXPECT_TRUE(for_compare(*expected) == for_compare(actual))
        << "golden " << c.out.string() << "\n--- expected:\n" << pretty(*expected) << "\n--- actual:\n" << pretty(actual);
  }

  void run_stream_case(const GoldenCase& c) {
    ASSERT_TRUE(c.name.starts_with("stream_")) << c.in << ": an .sse case must be named stream_*";
    std::string input = read_text(c.in);
    bool to_anthropic = c.direction == "openai_to_anthropic";
    auto t = to_anthropic ? openai_response_to_anthropic() : anthropic_response_to_openai(include_usage(c));
    std::string out = run_stream(*t, input,
                                 to_anthropic ? std::string_view("data: [DONE]\n\n")
                                              : std::string_view("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    Problems framing;
    auto actual = parse_sse(out, framing);
    EXPECT_EQ(join(framing), "") << "the translated stream is not well-framed SSE:\n" << out;
    EXPECT_EQ(join(check_stream(c, actual)), "") << "the actual stream breaks the receiving protocol:\n"
                                                 << describe(actual);
    if (update_mode()) {
      write_text(c.out, render_sse(actual));
      return;
    }
    ASSERT_TRUE(fs::exists(c.out)) << c.out << " is missing (GATEHOUSE_UPDATE_GOLDEN=1 writes it)";
    Problems golden_framing;
    auto expected = parse_sse(read_text(c.out), golden_framing);
    ASSERT_EQ(join(golden_framing), "") << c.out << " is not well-framed SSE";
    EXPECT_EQ(join(check_stream(c, expected)), "") << "the golden itself breaks the receiving protocol";

    std::string mismatch;
    for (std::size_t i = 0; i < std::max(expected.size(), actual.size()) && mismatch.empty(); ++i) {
      if (i >= expected.size()) {
        mismatch = "event " + std::to_string(i) + " is extra: " + describe(actual[i]);
      } else if (i >= actual.size()) {
        mismatch = "event " + std::to_string(i) + " is missing: " + describe(expected[i]);
      } else if (expected[i].name != actual[i].name) {
        mismatch = "event " + std::to_string(i) + " is named '" + actual[i].name + "', expected '" + expected[i].name + "'";
      } else {
        auto ev = try_parse(expected[i].data);
        auto av = try_parse(actual[i].data);
        bool same = ev && av ? for_compare(*ev) == for_compare(*av) : (!ev && !av && expected[i].data == actual[i].data);
        if (!same) mismatch = "event " + std::to_string(i) + " differs";
      }
    }
    EXPECT_EQ(mismatch, "") << "golden " << c.out.string() << "\n--- expected:\n"
                            << describe(expected) << "--- actual:\n"
                            << describe(actual);
  }
};

TEST_P(TranslateGolden, MatchesGolden) {
  const GoldenCase& c = GetParam();
  if (c.stream) {
    run_stream_case(c);
  } else {
    run_json(c);
  }
}

INSTANTIATE_TEST_SUITE_P(Translate, TranslateGolden, ::testing::ValuesIn(discover()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return info.param.direction + "_" + info.param.name;
                         });

// The golden folder is complete: every case has its expected output, every output its case,
// and every kind of translation has cases (a lost folder must not pass silently).
TEST(TranslateGoldenFiles, EveryCaseHasItsOutputAndEveryKindIsCovered) {
  auto cases = discover();
  std::map<std::string, int> kinds;
  std::set<fs::path> outs;
  for (const auto& c : cases) {
    if (!update_mode()) {
      EXPECT_TRUE(fs::exists(c.out)) << c.out << " is missing";
    }
    outs.insert(c.out);
    kinds[c.direction + "/" + c.name.substr(0, c.name.find('_'))]++;
  }
  for (std::string direction : {"openai_to_anthropic", "anthropic_to_openai"}) {
    for (const auto& entry : fs::directory_iterator(golden_dir() / direction)) {
      std::string file = entry.path().filename().string();
      if (file.find(".out.") != std::string::npos) {
        EXPECT_TRUE(outs.count(entry.path())) << file << " has no .in file";
      }
    }
    for (std::string kind : {"request", "response", "stream"}) {
      EXPECT_GE(kinds[direction + "/" + kind], 3) << "too few " << direction << " " << kind << " cases";
    }
  }
}

// --- a few behaviours that are not a golden's business ---------------------------------------

TEST(TranslateStream, CommentsAndKeepAlivesProduceNothing) {
  for (auto make : {+[] { return anthropic_response_to_openai(true); }, +[] { return openai_response_to_anthropic(); }}) {
    auto t = make();
    std::string out;
    t->event(": keep-alive\n\n", out);
    t->event("\n\n", out);
    EXPECT_EQ(out, "");
  }
}

TEST(TranslateStream, CarriageReturnLineEndsAreRead) {
  auto t = openai_response_to_anthropic();
  std::string out;
  t->event("data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
           "\"finish_reason\":\"stop\"}]}\r\n\r\n",
           out);
  t->event("data: [DONE]\r\n\r\n", out);
  Problems framing;
  auto events = parse_sse(out, framing);
  EXPECT_EQ(join(framing), "");
  EXPECT_EQ(join(check_anthropic_stream(events)), "") << describe(events);
  ASSERT_EQ(events.size(), 6u) << describe(events);
  EXPECT_NE(events[2].data.find("\"Hi\""), std::string::npos) << describe(events);
}

TEST(TranslateStream, AnEmptyProviderStreamIsAnError) {
  {
    auto t = openai_response_to_anthropic();
    std::string out;
    t->event("data: [DONE]\n\n", out);
    Problems framing;
    auto events = parse_sse(out, framing);
    ASSERT_EQ(events.size(), 1u) << out;
    EXPECT_EQ(events[0].name, "error");
    EXPECT_EQ(join(check_anthropic_stream(events)), "");
  }
  {
    auto t = anthropic_response_to_openai(true);
    std::string out;
    t->finish(out);
    Problems framing;
    auto events = parse_sse(out, framing);
    ASSERT_EQ(events.size(), 1u) << out;
    EXPECT_NE(events[0].data.find("\"error\""), std::string::npos) << out;
  }
}

// A provider that sends no id still gets an Anthropic message id (msg_...), and a tool call
// without an id still gets a tool_use id: the client echoes both back.
TEST(TranslateStream, MissingUpstreamIdsAreMadeUp) {
  auto t = openai_response_to_anthropic();
  std::string out;
  t->event("data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
           "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
           out);
  t->finish(out);
  Problems framing;
  auto events = parse_sse(out, framing);
  EXPECT_EQ(join(check_anthropic_stream(events)), "") << describe(events);
  ASSERT_GE(events.size(), 2u);
  auto start = try_parse(events[0].data);
  ASSERT_TRUE(start);
  EXPECT_TRUE(is_generated_message_id(start->at("message").at("id").as_string())) << events[0].data;
  auto block = try_parse(events[1].data);
  ASSERT_TRUE(block);
  EXPECT_FALSE(block->at("content_block").at("id").as_string().empty()) << events[1].data;
}

// The gateway calls body() for whole answers; something that is not JSON is the provider's
// fault, never a crash or a client error.
TEST(TranslateBody, NonJsonAnswersAreUpstreamProtocolErrors) {
  for (auto make : {+[] { return anthropic_response_to_openai(false); }, +[] { return openai_response_to_anthropic(); }}) {
    auto r = make()->body("<html>502 Bad Gateway</html>");
    ASSERT_TRUE(std::holds_alternative<Error>(r));
    EXPECT_EQ(std::get<Error>(r).kind, ErrorKind::kUpstreamProtocol);
  }
  auto r = openai_response_to_anthropic()->body(R"({"id":"x","choices":[]})");
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  EXPECT_EQ(std::get<Error>(r).kind, ErrorKind::kUpstreamProtocol);
}

// Every Anthropic effort, to a model that takes reasoning_effort and to one that does not.
TEST(TranslateRequest, EffortBecomesReasoningEffortOnlyWhereTheModelTakesIt) {
  const std::vector<std::pair<std::string, std::string>> table{
      {"low", "low"}, {"medium", "medium"}, {"high", "high"}, {"xhigh", "high"}, {"max", "high"}, {"extreme", ""}};
  for (const auto& [effort, expected] : table) {
    std::string body = R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}],)"
                       R"("output_config":{"effort":")" + effort + R"("}})";
    for (bool takes_it : {true, false}) {
      auto r = anthropic_request_to_openai(body, {.reasoning_effort = takes_it});
      ASSERT_TRUE(std::holds_alternative<std::string>(r)) << effort;
      auto out = json::parse(std::get<std::string>(r)).as_object();
      const json::value* sent = out.if_contains("reasoning_effort");
      if (takes_it && !expected.empty()) {
        ASSERT_TRUE(sent) << effort;
        EXPECT_EQ(sent->as_string(), expected) << effort;
      } else {
        EXPECT_FALSE(sent) << effort << (takes_it ? " (an unknown effort is not guessed at)" : " (not configured)");
      }
    }
  }
}

}  // namespace
}  // namespace gatehouse::translate
