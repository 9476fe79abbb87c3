// Golden-file tests for the Responses API codec (src/translate/responses_*.cpp): Responses
// requests to chat requests, chat answers and chunk streams to Responses objects and stream events.
//
// Layout: tests/unit/golden/translate/<direction>/<case>.in.<ext> + <case>.out.<ext>
//   responses_to_openai/  (a Responses client, an OpenAI-shaped provider)
//     request_*.json   Responses request -> responses_request_to_openai(in, target, &dropped);
//                      target.reasoning_effort is true when the case name contains
//                      "reasoning_effort". The .out file is the chat request, or the error as
//                      translate_test.cpp writes it.
//   openai_to_responses/  (the answers to it)
//     response_*.json  chat.completion      -> openai_response_to_responses(answer)->body(in)
//     stream_*.sse     chat chunk stream    ->
//     openai_response_to_responses(answer)->event()/finish()
//                      `answer` is kAnswer below, with the client's request read from
//                      <case>.request.json when there is one (the settings a response echoes).
// Comparison as in translate_test.cpp (JSON as parsed values, streams event by event), without
// normalisation: the translation is deterministic given the answer's id. Every output (and every
// golden) is also checked against the receiving protocol: a chat request against
// check_openai_request, a Responses object and stream against the rules the OpenAI SDKs'
// stream accumulator enforces (check_responses_object, check_responses_stream).
// GATEHOUSE_UPDATE_GOLDEN=1 rewrites the .out files; review them by hand before committing.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "translate/translate.h"
#include "translate_golden.h"

namespace gatehouse::translate {
namespace {

using namespace golden;

const std::string kResponseId = "resp_0123456789abcdef0123456789abcdef";

ResponsesAnswer answer_for(const fs::path& in) {
  ResponsesAnswer a{.id = kResponseId, .model = "gpt-4.1", .created_at = 1767225600, .request = {}, .previous_response_id = {}};
  std::string name = in.filename().string();
  fs::path request = in.parent_path() / (name.substr(0, name.find(".in.")) + ".request.json");
  // The answer views the request's text: kept for the whole run, one per fixture.
  static std::map<std::string, std::string> texts;
  if (fs::exists(request)) a.request = texts.try_emplace(request.string(), read_text(request)).first->second;
  return a;
}

// --- protocol checks -------------------------------------------------------------------------

const std::set<std::string> kItemTypes{"message", "function_call", "reasoning"};

void check_usage(const json::value* usage, Problems& p, const std::string& at) {
  if (!usage || usage->is_null()) return;
  const auto* u = usage->if_object();
  if (!u) return p.push_back(at + ".usage must be an object or null");
  for (auto k : {"input_tokens", "output_tokens", "total_tokens"}) {
    if (!member_is_int(*u, k)) p.push_back(at + ".usage." + k + " must be an integer");
  }
  if (member_int(*u, "total_tokens") !=
      member_int(*u, "input_tokens") + member_int(*u, "output_tokens")) {
    p.push_back(at + ".usage.total_tokens must be input_tokens + output_tokens");
  }
  const auto* in = member_object(*u, "input_tokens_details");
  const auto* out = member_object(*u, "output_tokens_details");
  if (!in || !member_is_int(*in, "cached_tokens"))
    p.push_back(at + ".usage.input_tokens_details.cached_tokens is required");
  if (!out || !member_is_int(*out, "reasoning_tokens")) {
    p.push_back(at + ".usage.output_tokens_details.reasoning_tokens is required");
  }
}

// One output item of a finished response.
void check_item(const json::value& iv, Problems& p, const std::string& at,
                std::set<std::string>& ids, std::set<std::string>& call_ids) {
  const auto* item = iv.if_object();
  if (!item) return p.push_back(at + " is not an object");
  std::string type = member_string(*item, "type").value_or("");
  std::string id = member_string(*item, "id").value_or("");
  if (!kItemTypes.count(type)) p.push_back(at + ": unexpected item type '" + type + "'");
  if (id.empty() || !ids.insert(id).second)
    p.push_back(at + ": the id must be non-empty and unique");
  if (type == "message") {
    if (member_string(*item, "role") != "assistant") p.push_back(at + ": role must be assistant");
    std::string status = member_string(*item, "status").value_or("");
    if (status != "completed" && status != "incomplete")
      p.push_back(at + ": status must be completed or incomplete");
    const auto* content = member_array(*item, "content");
    if (!content) return p.push_back(at + ": content must be an array");
    for (const auto& cv : *content) {
      const auto* part = cv.if_object();
      std::string pt = part ? member_string(*part, "type").value_or("") : "";
      if (pt == "output_text") {
        if (!member_string(*part, "text") || !member_array(*part, "annotations")) {
          p.push_back(at + ": output_text needs text and annotations");
        }
      } else if (pt == "refusal") {
        if (!member_string(*part, "refusal")) p.push_back(at + ": a refusal part needs refusal");
      } else {
        p.push_back(at + ": unexpected message part '" + pt + "'");
      }
    }
  } else if (type == "function_call") {
    std::string call_id = member_string(*item, "call_id").value_or("");
    if (call_id.empty() || !call_ids.insert(call_id).second)
      p.push_back(at + ": call_id must be non-empty and unique");
    if (member_string(*item, "name").value_or("").empty())
      p.push_back(at + ": name must be non-empty");
    std::string status = member_string(*item, "status").value_or("");
    if (status != "completed" && status != "incomplete")
      p.push_back(at + ": status must be completed or incomplete");
    if (status == "completed" &&
        !parses_as_object(member_string(*item, "arguments").value_or(""))) {
      p.push_back(at + ": a completed call's arguments must be a JSON object as text");
    }
  } else if (type == "reasoning") {
    if (!member_array(*item, "summary")) p.push_back(at + ": summary must be an array");
  }
}

// A Responses object as the OpenAI SDKs read it; `status` is what it must say.
Problems check_responses_object(const json::value& v, std::string_view status_expected = {}) {
  Problems p;
  const auto* r = v.if_object();
  if (!r) return {"the response is not an object"};
  if (member_string(*r, "object") != "response") p.push_back("object must be response");
  if (!member_string(*r, "id").value_or("").starts_with("resp_"))
    p.push_back("id must start with resp_");
  if (!member_is_int(*r, "created_at")) p.push_back("created_at must be an integer");
  if (!member_string(*r, "model")) p.push_back("model must be a string");
  std::string status = member_string(*r, "status").value_or("");
  if (!status_expected.empty() && status != status_expected)
    p.push_back("status must be " + std::string(status_expected));
  static const std::set<std::string> kStatuses{"completed", "incomplete", "in_progress", "failed"};
  if (!kStatuses.count(status)) p.push_back("unknown status '" + status + "'");
  const json::value* details = r->if_contains("incomplete_details");
  if (status == "incomplete") {
    const auto* d = details ? details->if_object() : nullptr;
    static const std::set<std::string> kReasons{"max_output_tokens", "content_filter"};
    if (!d || !kReasons.count(member_string(*d, "reason").value_or("")))
      p.push_back("incomplete_details.reason is required");
  } else if (!details || !details->is_null()) {
    p.push_back("incomplete_details must be null unless the response is incomplete");
  }
  const json::value* error = r->if_contains("error");
  if (status == "failed") {
    const auto* e = error ? error->if_object() : nullptr;
    if (!e || !member_string(*e, "code") || !member_string(*e, "message"))
      p.push_back("a failed response needs error.code and error.message");
  } else if (!error || !error->is_null()) {
    p.push_back("error must be null unless the response failed");
  }
  for (auto k : {"parallel_tool_calls", "background"}) {
    if (!r->contains(k) || !r->at(k).is_bool()) p.push_back(std::string(k) + " must be a boolean");
  }
  if (!member_array(*r, "tools")) p.push_back("tools must be an array");
  if (!r->contains("tool_choice")) p.push_back("tool_choice is required");
  const auto* output = member_array(*r, "output");
  if (!output) return p.push_back("output must be an array"), p;
  if (status != "in_progress" && status != "failed") {
    std::set<std::string> ids, call_ids;
    for (std::size_t i = 0; i < output->size(); ++i)
      check_item((*output)[i], p, "output[" + std::to_string(i) + "]", ids, call_ids);
  }
  check_usage(r->if_contains("usage"), p, "response");
  return p;
}

// A Responses stream as the OpenAI SDKs' accumulator reads it (openai-node
// src/internal/responses/response-accumulator.ts): consecutive sequence numbers, items appended
// in order with unique ids, every delta addressed to the open item and part it extends, every
// .done event repeating what its deltas built, and a final response whose output is the items
// as they were closed.
Problems check_responses_stream(const std::vector<SseEvent>& events) {
  Problems p;
  std::vector<json::object> items;  // as the client builds them
  std::vector<bool> closed;
  std::set<std::string> ids, call_ids;
  std::string response_id;
  bool ended = false, failed = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string at = "event " + std::to_string(i) + " (" + e.name + ")";
    if (ended) p.push_back(at + " comes after the end of the stream");
    auto v = try_parse(e.data);
    if (!v || !v->is_object()) {
      p.push_back(at + ": data is not a JSON object");
      continue;
    }
    const auto& d = v->get_object();
    if (member_string(d, "type") != e.name)
      p.push_back(at + ": the event name and data.type differ");
    if (member_int(d, "sequence_number") != std::int64_t(i))
      p.push_back(at + ": sequence_number must be " + std::to_string(i));
    if (i == 0 && e.name != "response.created")
      p.push_back(at + ": the stream must begin with response.created");
    if (i == 1 && e.name != "response.in_progress" && e.name != "response.failed") {
      p.push_back(at + ": response.in_progress must follow response.created");
    }
    if (failed && e.name != "error")
      p.push_back(at + ": only an error event may follow response.failed");
    const auto* response = member_object(d, "response");
    if (e.name.starts_with("response.") && response == nullptr && !d.contains("output_index")) {
      p.push_back(at + ": a lifecycle event needs its response");
    }
    // The item (and content part) an event is about.
    const std::int64_t index = member_int(d, "output_index");
    json::object* item =
        index >= 0 && std::size_t(index) < items.size() ? &items[std::size_t(index)] : nullptr;
    auto addressed = [&](std::string_view type) -> json::object* {
      if (!item)
        return p.push_back(at + ": output_index " + std::to_string(index) + " is no item"), nullptr;
      if (closed[std::size_t(index)])
        return p.push_back(at + ": the item is already done"), nullptr;
      // output_item.done names its item in `item`, the others in `item_id`.
      const json::object* named =
          e.name == "response.output_item.done" ? member_object(d, "item") : &d;
      if (member_string(*named, e.name == "response.output_item.done" ? "id" : "item_id") !=
          member_string(*item, "id")) {
        p.push_back(at + ": the event's item id is not the item's id");
      }
      if (member_string(*item, "type") != type)
        return p.push_back(at + ": the item is not a " + std::string(type)), nullptr;
      return item;
    };
    auto part_of = [&](std::string_view item_type, std::string_view part_type) -> json::object* {
      json::object* it = addressed(item_type);
      if (!it) return nullptr;
      auto& content = (*it)["content"].as_array();
      const std::int64_t ci = member_int(d, "content_index");
      if (ci < 0 || std::size_t(ci) + 1 != content.size())
        return p.push_back(at + ": content_index is not the open part"), nullptr;
      auto& part = content.back().as_object();
      if (member_string(part, "type") != part_type)
        return p.push_back(at + ": the part is not " + std::string(part_type)), nullptr;
      return &part;
    };
    const std::string text_key_of_part =
        e.name.starts_with("response.refusal") ? "refusal" : "text";

    if (e.name == "response.created" || e.name == "response.in_progress") {
      if (i > 1) p.push_back(at + ": only at the start");
      if (response) {
        if (i == 0) response_id = member_string(*response, "id").value_or("");
        for (const auto& pr : check_responses_object(*d.if_contains("response"), "in_progress"))
          p.push_back(at + ": " + pr);
        if (const auto* o = member_array(*response, "output"); !o || !o->empty())
          p.push_back(at + ": output must be []");
      }
    } else if (e.name == "response.output_item.added") {
      if (index != std::int64_t(items.size()))
        p.push_back(at + ": output_index must be " + std::to_string(items.size()));
      const auto* added = member_object(d, "item");
      if (!added) {
        p.push_back(at + ": item is required");
        continue;
      }
      std::string type = member_string(*added, "type").value_or("");
      std::string id = member_string(*added, "id").value_or("");
      if (!kItemTypes.count(type)) p.push_back(at + ": unexpected item type '" + type + "'");
      if (id.empty() || !ids.insert(id).second)
        p.push_back(at + ": the item id must be non-empty and unique");
      if (type == "function_call") {
        std::string call_id = member_string(*added, "call_id").value_or("");
        if (call_id.empty() || !call_ids.insert(call_id).second)
          p.push_back(at + ": call_id must be non-empty and unique");
        if (member_string(*added, "arguments") != "")
          p.push_back(at + ": a new call's arguments must be empty");
      }
      if (type != "reasoning" && member_string(*added, "status") != "in_progress")
        p.push_back(at + ": status must be in_progress");
      if (type != "function_call") {
        if (const auto* c = member_array(*added, "content"); !c || !c->empty())
          p.push_back(at + ": content must be []");
      }
      items.push_back(*added);
      closed.push_back(false);
    } else if (e.name == "response.content_part.added") {
      const auto* part = member_object(d, "part");
      std::string pt = part ? member_string(*part, "type").value_or("") : "";
      json::object* it = addressed(pt == "reasoning_text" ? "reasoning" : "message");
      if (!it || !part) continue;
      auto& content = (*it)["content"].as_array();
      if (member_int(d, "content_index") != std::int64_t(content.size()))
        p.push_back(at + ": content_index must append");
      if (member_string(*part, pt == "refusal" ? "refusal" : "text") != "")
        p.push_back(at + ": a new part must be empty");
      content.push_back(*part);
    } else if (e.name == "response.output_text.delta" || e.name == "response.refusal.delta" ||
               e.name == "response.reasoning_text.delta") {
      const bool reasoning = e.name.starts_with("response.reasoning");
      json::object* part = part_of(reasoning ? "reasoning" : "message",
                                   reasoning                                ? "reasoning_text"
                                   : e.name.starts_with("response.refusal") ? "refusal"
                                                                            : "output_text");
      if (e.name == "response.output_text.delta" && !member_array(d, "logprobs"))
        p.push_back(at + ": logprobs must be []");
      if (!part || !member_string(d, "delta")) continue;
      std::string text =
          member_string(*part, text_key_of_part).value_or("") + *member_string(d, "delta");
      (*part)[text_key_of_part] = text;
    } else if (e.name == "response.output_text.done" || e.name == "response.refusal.done" ||
               e.name == "response.reasoning_text.done") {
      const bool reasoning = e.name.starts_with("response.reasoning");
      json::object* part = part_of(reasoning ? "reasoning" : "message",
                                   reasoning                                ? "reasoning_text"
                                   : e.name.starts_with("response.refusal") ? "refusal"
                                                                            : "output_text");
      if (part && member_string(d, text_key_of_part) != member_string(*part, text_key_of_part)) {
        p.push_back(at + ": the done text is not what the deltas built");
      }
    } else if (e.name == "response.content_part.done") {
      const auto* part = member_object(d, "part");
      std::string pt = part ? member_string(*part, "type").value_or("") : "";
      json::object* built = part_of(pt == "reasoning_text" ? "reasoning" : "message", pt);
      if (built && !(*built == *part))
        p.push_back(at + ": the done part is not what the deltas built");
    } else if (e.name == "response.function_call_arguments.delta") {
      json::object* it = addressed("function_call");
      if (!it || !member_string(d, "delta")) continue;
      (*it)["arguments"] =
          member_string(*it, "arguments").value_or("") + *member_string(d, "delta");
    } else if (e.name == "response.function_call_arguments.done") {
      json::object* it = addressed("function_call");
      if (!it) continue;
      if (member_string(d, "arguments") != member_string(*it, "arguments"))
        p.push_back(at + ": arguments are not what the deltas built");
      if (member_string(d, "name") != member_string(*it, "name"))
        p.push_back(at + ": name is not the call's");
    } else if (e.name == "response.output_item.done") {
      const auto* done = member_object(d, "item");
      json::object* it = done ? addressed(member_string(*done, "type").value_or("")) : nullptr;
      if (!it) continue;
      json::object built = *it, got = *done;
      built.erase("status");
      got.erase("status");
      if (!(built == got))
        p.push_back(at + ": the done item is not what the deltas built: " + json::serialize(*done));
      std::string status = member_string(*done, "status").value_or("");
      if (member_string(*done, "type") != "reasoning" && status != "completed" &&
          status != "incomplete") {
        p.push_back(at + ": status must be completed or incomplete");
      }
      *it = *done;
      closed[std::size_t(index)] = true;
    } else if (e.name == "response.completed" || e.name == "response.incomplete") {
      ended = true;
      if (!response) continue;
      for (const auto& pr : check_responses_object(*d.if_contains("response"), e.name.substr(9)))
        p.push_back(at + ": " + pr);
      if (member_string(*response, "id") != response_id)
        p.push_back(at + ": the response id changed");
      if (std::find(closed.begin(), closed.end(), false) != closed.end())
        p.push_back(at + ": an item was never done");
      json::array built(items.begin(), items.end());
      if (const auto* o = member_array(*response, "output"); !o || !(*o == built)) {
        p.push_back(at + ": the output is not the items as they were done");
      }
    } else if (e.name == "response.failed") {
      failed = true;
      if (!response) continue;
      for (const auto& pr : check_responses_object(*d.if_contains("response"), "failed"))
        p.push_back(at + ": " + pr);
      if (const auto* o = member_array(*response, "output"); !o || o->size() != items.size()) {
        p.push_back(at + ": the output is not the items so far");
      }
    } else if (e.name == "error") {
      ended = true;
      if (!member_string(d, "code") || !member_string(d, "message"))
        p.push_back(at + ": an error needs code and message");
      if (const json::value* param = d.if_contains("param");
          !param || !(param->is_null() || param->is_string())) {
        p.push_back(at + ": param must be null or a string");
      }
    } else {
      p.push_back(at + ": unknown event");
    }
  }
  if (!ended)
    p.push_back(
        "the stream ends with neither response.completed, response.incomplete nor an error event");
  return p;
}

// The response a stream ends with (its response.completed, .incomplete or .failed).
std::optional<json::value> final_response(const std::vector<SseEvent>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->name == "response.completed" || it->name == "response.incomplete" ||
        it->name == "response.failed") {
      if (auto v = try_parse(it->data)) return v->at("response");
    }
  }
  return std::nullopt;
}

// --- the golden cases ------------------------------------------------------------------------

struct GoldenCase {
  std::string direction;
  std::string name;
  fs::path in, out;
  bool stream = false;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.in.string(); }

const std::vector<std::string> kDirections{"responses_to_openai", "openai_to_responses"};

std::vector<GoldenCase> discover() {
  std::vector<GoldenCase> cases;
  for (const auto& direction : kDirections) {
    fs::path dir = golden_dir() / direction;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::string file = entry.path().filename().string();
      for (std::string_view ext : {".in.json", ".in.sse"}) {
        if (!file.ends_with(ext)) continue;
        GoldenCase c{direction,
                     file.substr(0, file.size() - ext.size()),
                     entry.path(),
                     {},
                     ext == ".in.sse"};
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

std::string describe(const std::vector<SseEvent>& events) {
  std::string s;
  for (std::size_t i = 0; i < events.size(); ++i)
    s += "  [" + std::to_string(i) + "] " + events[i].name + " " + events[i].data + "\n";
  return s;
}

class ResponsesGolden : public ::testing::TestWithParam<GoldenCase> {
 protected:
  Problems check_json(const GoldenCase& c, const json::value& v) {
    if (is_error_value(v)) return {};
    return c.name.starts_with("request_") ? check_openai_request(v) : check_responses_object(v);
  }

  void run_json(const GoldenCase& c) {
    std::string input = read_text(c.in);
    ASSERT_TRUE(try_parse(input)) << c.in << " is not JSON";
    json::value actual;
    if (c.direction == "responses_to_openai") {
      ASSERT_TRUE(c.name.starts_with("request_")) << c.in;
      std::vector<std::string> dropped;
      const ChatTarget target{.reasoning_effort =
                                  c.name.find("reasoning_effort") != std::string::npos};
      actual = result_value(responses_request_to_openai(input, target, &dropped),
                            "the translated request");
    } else {
      ASSERT_TRUE(c.name.starts_with("response_")) << c.in;
      actual = result_value(openai_response_to_responses(answer_for(c.in))->body(input),
                            "the translated answer");
    }
    EXPECT_EQ(join(check_json(c, actual)), "")
        << "the actual output breaks the receiving protocol:\n"
        << pretty(actual);
    if (update_mode()) {
      write_text(c.out, pretty(actual) + "\n");
      return;
    }
    ASSERT_TRUE(fs::exists(c.out)) << c.out << " is missing (GATEHOUSE_UPDATE_GOLDEN=1 writes it)";
    auto expected = try_parse(read_text(c.out));
    ASSERT_TRUE(expected) << c.out << " is not JSON";
    EXPECT_EQ(join(check_json(c, *expected)), "")
        << "the golden itself breaks the receiving protocol";
    EXPECT_TRUE(*expected == actual) << "golden " << c.out.string() << "\n--- expected:\n"
                                     << pretty(*expected) << "\n--- actual:\n"
                                     << pretty(actual);
  }

  void run_stream_case(const GoldenCase& c) {
    ASSERT_TRUE(c.name.starts_with("stream_")) << c.in;
    auto t = openai_response_to_responses(answer_for(c.in));
    std::string out = run_stream(*t, read_text(c.in), "data: [DONE]\n\n");
    Problems framing;
    auto actual = parse_sse(out, framing);
    EXPECT_EQ(join(framing), "") << "the translated stream is not well-framed SSE:\n" << out;
    EXPECT_EQ(join(check_responses_stream(actual)), "")
        << "the actual stream breaks the protocol:\n"
        << describe(actual);
    if (update_mode()) {
      std::string text;
      for (const auto& e : actual) text += "event: " + e.name + "\ndata: " + e.data + "\n\n";
      write_text(c.out, text);
      return;
    }
    ASSERT_TRUE(fs::exists(c.out)) << c.out << " is missing (GATEHOUSE_UPDATE_GOLDEN=1 writes it)";
    Problems golden_framing;
    auto expected = parse_sse(read_text(c.out), golden_framing);
    ASSERT_EQ(join(golden_framing), "") << c.out << " is not well-framed SSE";
    EXPECT_EQ(join(check_responses_stream(expected)), "")
        << "the golden itself breaks the protocol";
    std::string mismatch;
    for (std::size_t i = 0; i < std::max(expected.size(), actual.size()) && mismatch.empty(); ++i) {
      if (i >= expected.size() || i >= actual.size()) {
        mismatch =
            "event " + std::to_string(i) + (i >= expected.size() ? " is extra" : " is missing");
      } else if (expected[i].name != actual[i].name ||
                 try_parse(expected[i].data) != try_parse(actual[i].data)) {
        mismatch = "event " + std::to_string(i) + " differs";
      }
    }
    EXPECT_EQ(mismatch, "") << "golden " << c.out.string() << "\n--- expected:\n"
                            << describe(expected) << "--- actual:\n"
                            << describe(actual);
  }
};

TEST_P(ResponsesGolden, MatchesGolden) {
  const GoldenCase& c = GetParam();
  if (c.stream) {
    run_stream_case(c);
  } else {
    run_json(c);
  }
}

INSTANTIATE_TEST_SUITE_P(Responses, ResponsesGolden, ::testing::ValuesIn(discover()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return info.param.direction + "_" + info.param.name;
                         });

TEST(ResponsesGoldenFiles, EveryCaseHasItsOutputAndEveryKindIsCovered) {
  std::map<std::string, int> kinds;
  std::set<fs::path> files;
  for (const auto& c : discover()) {
    if (!update_mode()) {
      EXPECT_TRUE(fs::exists(c.out)) << c.out << " is missing";
    }
    files.insert(c.out);
    files.insert(c.in);
    kinds[c.direction + "/" + c.name.substr(0, c.name.find('_'))]++;
  }
  for (const auto& direction : kDirections) {
    for (const auto& entry : fs::directory_iterator(golden_dir() / direction)) {
      std::string file = entry.path().filename().string();
      if (file.ends_with(".request.json")) {
        std::string stem = file.substr(0, file.size() - std::string(".request.json").size());
        EXPECT_TRUE(fs::exists(entry.path().parent_path() / (stem + ".in.json")) ||
                    fs::exists(entry.path().parent_path() / (stem + ".in.sse")))
            << file << " belongs to no case";
      } else {
        EXPECT_TRUE(files.count(entry.path())) << file << " is neither a case nor its output";
      }
    }
  }
  EXPECT_GE(kinds["responses_to_openai/request"], 10);
  EXPECT_GE(kinds["openai_to_responses/response"], 5);
  EXPECT_GE(kinds["openai_to_responses/stream"], 8);
}

// --- behaviours that are not a golden's business ---------------------------------------------

// A chat chunk stream gathered into the chat.completion a provider would have answered whole.
std::string gathered(const std::string& sse) {
  Problems framing;
  std::string content, reasoning, refusal, finish;
  json::value usage;
  std::map<std::int64_t, json::object> calls;
  for (const auto& e : parse_sse(sse, framing)) {
    auto v = try_parse(e.data);
    if (!v || !v->is_object()) continue;
    const auto& c = v->get_object();
    if (const json::value* u = c.if_contains("usage"); u && u->is_object()) usage = *u;
    const auto* choices = member_array(c, "choices");
    if (!choices || choices->empty()) continue;
    const auto& ch = (*choices)[0].as_object();
    if (auto f = member_string(ch, "finish_reason")) finish = *f;
    const auto* d = member_object(ch, "delta");
    if (!d) continue;
    content += member_string(*d, "content").value_or("");
    reasoning += member_string(*d, "reasoning_content").value_or("");
    refusal += member_string(*d, "refusal").value_or("");
    for (const auto& tv :
         member_array(*d, "tool_calls") ? *member_array(*d, "tool_calls") : json::array{}) {
      const auto& t = tv.as_object();
      auto& call = calls[member_int(t, "index")];
      if (!call.contains("id"))
        call = {{"id", ""},
                {"type", "function"},
                {"function", json::object{{"name", ""}, {"arguments", ""}}}};
      if (auto id = member_string(t, "id")) call["id"] = *id;
      if (const auto* fn = member_object(t, "function")) {
        auto& f = call["function"].as_object();
        if (auto n = member_string(*fn, "name")) f["name"] = *n;
        f["arguments"] = member_string(f, "arguments").value_or("") +
                         member_string(*fn, "arguments").value_or("");
      }
    }
  }
  json::object message{{"role", "assistant"},
                       {"content", content.empty() ? json::value(nullptr) : json::value(content)}};
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  if (!refusal.empty()) message["refusal"] = refusal;
  if (!calls.empty()) {
    json::array list;
    for (auto& [k, call] : calls) list.push_back(call);
    message["tool_calls"] = std::move(list);
  }
  json::object completion{
      {"id", "chatcmpl-gathered"},
      {"object", "chat.completion"},
      {"created", 1},
      {"model", "m"},
      {"choices",
       json::array{json::object{{"index", 0}, {"message", message}, {"finish_reason", finish}}}}};
  if (!usage.is_null()) completion["usage"] = usage;
  return json::serialize(completion);
}

// What a streamed answer ends with is what the same answer whole would have been: the same
// items, ids, statuses and usage.
TEST(ResponsesStream, TheFinalResponseIsTheWholeAnswers) {
  int compared = 0;
  for (const auto& c : discover()) {
    if (!c.stream) continue;
    SCOPED_TRACE(c.in.string());
    const std::string input = read_text(c.in);
    Problems framing;
    auto events =
        parse_sse(run_stream(*openai_response_to_responses(answer_for(c.in)), input, ""), framing);
    auto streamed = final_response(events);
    ASSERT_TRUE(streamed);
    if (streamed->at("status") == "failed") continue;
    auto whole = openai_response_to_responses(answer_for(c.in))->body(gathered(input));
    ASSERT_TRUE(std::holds_alternative<std::string>(whole));
    EXPECT_EQ(json::serialize(*streamed),
              json::serialize(json::parse(std::get<std::string>(whole))));
    ++compared;
  }
  EXPECT_GE(compared, 8);
}

// The gateway's reader hands the translator whole events however the bytes arrived.
TEST(ResponsesStream, AnyChunkingOfTheProviderStreamGivesTheSameEvents) {
  std::mt19937 rng(7);
  for (const auto& c : discover()) {
    if (!c.stream) continue;
    SCOPED_TRACE(c.in.string());
    const std::string input = read_text(c.in);
    const std::string whole =
        run_stream(*openai_response_to_responses(answer_for(c.in)), input, "");
    for (int round = 0; round < 5; ++round) {
      auto t = openai_response_to_responses(answer_for(c.in));
      http::SseSplitter splitter;
      std::string out;
      for (std::size_t at = 0; at < input.size();) {
        std::size_t n = std::min<std::size_t>(input.size() - at, 1 + rng() % (round == 0 ? 1 : 40));
        for (auto event : splitter.feed(std::string_view(input).substr(at, n)))
          t->event(event, out);
        at += n;
      }
      t->finish(out);
      EXPECT_EQ(out, whole) << "round " << round;
    }
  }
}

TEST(ResponsesStream, CommentsAndKeepAlivesProduceNothing) {
  auto t = openai_response_to_responses(
      {.id = kResponseId, .model = "m", .created_at = 1, .request = {}, .previous_response_id = {}});
  std::string out;
  t->event(": keep-alive\n\n", out);
  t->event("\n\n", out);
  EXPECT_EQ(out, "");
}

// error_event (the gateway's stream broke, or a stage ended it) continues the numbering: the
// response fails with the error, then the error event; after the response ended, the error alone.
TEST(ResponsesStream, TheGatewaysErrorEventIsNumberedAndEndsTheStream) {
  const std::string chunk =
      R"(data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})"
      "\n\n";
  Error error = Error::upstream_timeout("the provider stopped sending");
  {
    auto t = openai_response_to_responses(
        {.id = kResponseId, .model = "m", .created_at = 1, .request = {}, .previous_response_id = {}});
    std::string out;
    t->event(chunk, out);
    out += t->error_event(error);
    std::string after;
    t->finish(after);
    EXPECT_EQ(after, "");
    Problems framing;
    auto events = parse_sse(out, framing);
    EXPECT_EQ(join(check_responses_stream(events)), "") << describe(events);
    ASSERT_EQ(events.size(), 7u) << describe(events);
    EXPECT_EQ(events[5].name, "response.failed");
    EXPECT_EQ(events[6].name, "error");
    auto e = json::parse(events[6].data);
    EXPECT_EQ(e.at("code"), "upstream_timeout");
    EXPECT_EQ(e.at("message"), "the provider stopped sending");
    EXPECT_EQ(e.at("sequence_number"), 6);
    EXPECT_EQ(json::parse(events[5].data).at("response").at("output").at(0).at("status"),
              "incomplete");
  }
  {
    auto t = openai_response_to_responses(
        {.id = kResponseId, .model = "m", .created_at = 1, .request = {}, .previous_response_id = {}});
    std::string out;
    t->event(chunk, out);
    t->event("data: [DONE]\n\n", out);
    Problems framing;
    const std::size_t before = parse_sse(out, framing).size();
    std::string tail = t->error_event(Error::bad_request("blocked by a guardrail", "output"));
    auto events = parse_sse(tail, framing);
    ASSERT_EQ(events.size(), 1u) << tail;
    EXPECT_EQ(events[0].name, "error");
    auto e = json::parse(events[0].data);
    EXPECT_EQ(e.at("sequence_number"), std::int64_t(before));
    EXPECT_EQ(e.at("param"), "output");
  }
}

// Without a ResponsesAnswer (an id and model from the gateway) the response still has an id and
// the provider's model.
TEST(ResponsesBody, AnAnswerWithoutIdOrModelGetsThem) {
  auto r = openai_response_to_responses({})->body(
      read_text(golden_dir() / "openai_to_responses" / "response_tool_call.in.json"));
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  auto v = json::parse(std::get<std::string>(r));
  EXPECT_EQ(join(check_responses_object(v, "completed")), "");
  const std::string id(v.at("id").as_string());
  EXPECT_EQ(id.size(), 37u) << id;
  EXPECT_EQ(v.at("model"), "gpt-4.1");
  EXPECT_EQ(std::string(v.at("output").at(0).at("id").as_string()), "fc_" + id.substr(5) + "_0");
}

TEST(ResponsesBody, NonJsonAnswersAreUpstreamProtocolErrors) {
  auto r = openai_response_to_responses({})->body("<html>502 Bad Gateway</html>");
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  EXPECT_EQ(std::get<Error>(r).kind, ErrorKind::kUpstreamProtocol);
}

// The built-in tools a chat provider cannot run are reported once each, for the client's warning.
TEST(ResponsesRequest, DroppedBuiltInToolsAreReported) {
  const std::string body =
      read_text(golden_dir() / "responses_to_openai" / "request_codex.in.json");
  std::vector<std::string> dropped{"earlier"};
  ASSERT_TRUE(std::holds_alternative<std::string>(responses_request_to_openai(body, {}, &dropped)));
  EXPECT_EQ(dropped, (std::vector<std::string>{"earlier", "custom", "web_search", "local_shell"}));
  const std::string twice =
      R"({"input":"hi","tools":[{"type":"web_search"},{"type":"web_search"},{"type":"file_search"}]})";
  dropped.clear();
  auto out = responses_request_to_openai(twice, {}, &dropped);
  ASSERT_TRUE(std::holds_alternative<std::string>(out));
  EXPECT_EQ(dropped, (std::vector<std::string>{"web_search", "file_search"}));
  EXPECT_FALSE(json::parse(std::get<std::string>(out)).as_object().contains("tools"));
  EXPECT_TRUE(std::holds_alternative<std::string>(responses_request_to_openai(twice, {}, nullptr)));
}

// Every Responses effort, to a model that takes reasoning_effort and to one that does not.
TEST(ResponsesRequest, EffortBecomesReasoningEffortOnlyWhereTheModelTakesIt) {
  const std::vector<std::pair<std::string, std::string>> table{
      {"none", "none"}, {"minimal", "minimal"}, {"low", "low"}, {"medium", "medium"},
      {"high", "high"}, {"xhigh", "high"},      {"extreme", ""}};
  for (const auto& [effort, expected] : table) {
    const std::string body = R"({"input":"hi","reasoning":{"effort":")" + effort + R"("}})";
    for (bool takes_it : {true, false}) {
      auto r = responses_request_to_openai(body, {.reasoning_effort = takes_it}, nullptr);
      ASSERT_TRUE(std::holds_alternative<std::string>(r)) << effort;
      auto out = json::parse(std::get<std::string>(r)).as_object();
      const json::value* sent = out.if_contains("reasoning_effort");
      if (takes_it && !expected.empty()) {
        ASSERT_TRUE(sent) << effort;
        EXPECT_EQ(sent->as_string(), expected) << effort;
      } else {
        EXPECT_FALSE(sent) << effort;
      }
    }
  }
}

}  // namespace
}  // namespace gatehouse::translate
