#include "api/text_event.h"

#include <optional>

#include "api/responses_channel.h"
#include "api/sse_data.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace gatehouse::api {

namespace json = boost::json;

namespace {

// The event's name (its `event:` line), or empty.
std::string_view event_name(std::string_view event) {
  std::size_t pos = 0;
  while (pos < event.size()) {
    std::size_t eol = event.find('\n', pos);
    std::string_view line = event.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("event:")) {
      line.remove_prefix(6);
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      return line;
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return {};
}

// Whether JSON text `data` has a member `key` whose value starts with `first` (and, when `second`
// is given, continues with it after optional whitespace: "[]").
bool key_followed_by(std::string_view data, std::string_view key, char first, char second = 0) {
  auto space = [&](std::size_t& i) {
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) ++i;
  };
  for (std::size_t at = data.find(key); at != std::string_view::npos; at = data.find(key, at + 1)) {
    if (at == 0 || data[at - 1] != '"' || at + key.size() >= data.size() || data[at + key.size()] != '"') continue;
    std::size_t i = at + key.size() + 1;
    space(i);
    if (i >= data.size() || data[i] != ':') continue;
    ++i;
    space(i);
    if (i >= data.size() || data[i] != first) continue;
    if (!second) return true;
    ++i;
    space(i);
    if (i < data.size() && data[i] == second) return true;
  }
  return false;
}

json::object parse_object(std::string_view data) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

// OpenAI-style chunks: channel = choice * 1024 + (0 content | 1 + tool call index | 1023 refusal).
constexpr std::uint32_t kPerChoice = 1024;

// ---- Responses (channels: api/responses_channel.h).

// A non-negative integer member, as event_texts reads one.
std::optional<std::uint64_t> uint_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64() && v->get_int64() >= 0) return std::uint64_t(v->get_int64());
  if (v && v->is_uint64()) return v->get_uint64();
  return std::nullopt;
}

std::optional<std::string_view> string_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string_view(v->get_string());
  return std::nullopt;
}

// Closes, in `out`, channels [first + from, first + to] of the item an event names (by its
// output_index and by its item id: a delta had one of them, api/responses_channel.h).
void close_item(ChannelsClosed& out, std::optional<std::uint64_t> output_index, std::optional<std::string_view> item_id,
                std::uint32_t from, std::uint32_t to) {
  auto close = [&](std::uint32_t first) { out.ranges.emplace_back(first + from, first + to); };
  if (output_index) close(responses::item_channel(output_index, std::nullopt));
  if (item_id) close(responses::item_channel(std::nullopt, item_id));
  if (!output_index && !item_id) close(0);  // as a delta with neither
}

// The events that end runs of the Responses stream: a part's or a call's `.done`, an item's
// `.done`, the response's end, an error.
ChannelsClosed responses_closed(std::string_view event) {
  ChannelsClosed out;
  std::string storage;
  // Every data line, as event_texts reads the event (a run's identity may be on any of them).
  const std::string_view data = event_data(event, storage);
  std::string_view name = event_name(event);
  if (name.empty()) {
    // No `event:` line (Databricks agents send data only): the data's type says, and only events
    // that may close a run are parsed. A quote inside text is escaped, so these substrings are
    // in a delta only where its text ends with `.done` or is one of the names; a parse decides.
    bool may_close = data.find(".done\"") != std::string_view::npos;
    for (std::string_view t : {"\"response.completed\"", "\"response.incomplete\"", "\"response.failed\"", "\"error\""}) {
      may_close = may_close || data.find(t) != std::string_view::npos;
    }
    if (!may_close) return out;
  } else if (!name.ends_with(".done") && name != "response.completed" && name != "response.incomplete" &&
             name != "response.failed" && name != "error") {
    return out;
  }
  const json::object o = parse_object(data);
  if (name.empty()) {
    const auto type = string_member(o, "type");
    if (!type) return out;
    name = *type;
  }
  if (name == "response.completed" || name == "response.incomplete" || name == "response.failed" || name == "error") {
    out.all = true;
    return out;
  }
  const auto output_index = uint_member(o, "output_index");
  if (name == "response.output_item.done") {
    std::optional<std::string_view> id;
    if (const auto* item = o.if_contains("item"); item && item->is_object()) id = string_member(item->get_object(), "id");
    if (!id) id = string_member(o, "item_id");
    close_item(out, output_index, id, 0, responses::kItemChannels - 1);
    return out;
  }
  const bool summary = name == "response.reasoning_summary_text.done" || name == "response.reasoning_summary_part.done";
  const bool part = summary || name == "response.output_text.done" || name == "response.refusal.done" ||
                    name == "response.reasoning_text.done" || name == "response.content_part.done" ||
                    name == "response.function_call_arguments.done" || name == "response.custom_tool_call_input.done" ||
                    name == "response.mcp_call_arguments.done";
  if (!part) return out;
  const std::uint64_t index = uint_member(o, summary ? "summary_index" : "content_index").value_or(0);
  const std::uint32_t channel = responses::part_channel(summary, index);
  close_item(out, output_index, string_member(o, "item_id"), channel, channel);
  return out;
}

// The last `"key": "string"` member of JSON text `data`, unescaped, found by a scan (for an event
// Boost.JSON refused): a key is followed by ':', which a string value never is, and a quote
// inside a string is escaped.
std::optional<std::string> scanned_string_member(std::string_view data, std::string_view key) {
  std::optional<std::string> found;
  const std::string quoted = "\"" + std::string(key) + "\"";
  auto space = [&](std::size_t& i) {
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) ++i;
  };
  for (std::size_t at = data.find(quoted); at != std::string_view::npos; at = data.find(quoted, at + 1)) {
    if (at > 0 && data[at - 1] == '\\') continue;
    std::size_t i = at + quoted.size();
    space(i);
    if (i >= data.size() || data[i] != ':') continue;
    ++i;
    space(i);
    if (i >= data.size() || data[i] != '"') continue;
    std::size_t end = i + 1;
    while (end < data.size() && data[end] != '"') end += data[end] == '\\' ? 2 : 1;
    if (end >= data.size()) continue;
    boost::system::error_code ec;
    const json::value v = json::parse(data.substr(i, end + 1 - i), ec);
    if (!ec && v.is_string()) found = std::string(v.get_string());
  }
  return found;
}

// The delta types event_texts reads, and the one a channel's text is written as when the event
// it follows cannot be read.
constexpr std::string_view kResponsesDeltas[] = {
    "response.output_text.delta",           "response.refusal.delta",
    "response.reasoning_text.delta",        "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
    "response.mcp_call_arguments.delta",
};

std::string responses_delta_event(std::string_view like, std::uint32_t channel, std::string_view text) {
  std::string storage;
  const std::string_view like_data = event_data(like, storage);
  const json::object src = parse_object(like_data);
  json::object out;
  std::string_view type;
  if (!src.empty()) {
    // The run as the event it follows names it: its type and its identity (a Databricks agent's
    // delta has no indexes), read as event_texts read them.
    if (const auto t = string_member(src, "type")) {
      for (std::string_view d : kResponsesDeltas) {
        if (*t == d) type = d;
      }
    }
    if (type.empty()) type = "response.output_text.delta";
    out["type"] = type;
    for (const char* key : {"item_id", "output_index", "content_index", "summary_index"}) {
      if (const auto* v = src.if_contains(key)) out[key] = *v;
    }
  } else {
    // The event does not parse whole here: the run from the channel — its item's output_index, or
    // the item id found in the event by a scan (event_texts read it there), and its part — with
    // the delta type found as a string token of its own (inside a string its quotes would be
    // escaped) when it is one for that kind of part.
    const std::uint32_t part = channel % responses::kItemChannels;
    const bool summary = part >= responses::kSummaryPart;
    if (summary) {
      type = "response.reasoning_summary_text.delta";
    } else {
      for (std::string_view d : kResponsesDeltas) {
        const std::string token = "\"" + std::string(d) + "\"";
        const auto at = like_data.find(token);
        if (type.empty() && d != "response.reasoning_summary_text.delta" && at != std::string_view::npos &&
            (at == 0 || like_data[at - 1] != '\\')) {
          type = d;
        }
      }
      if (type.empty()) type = "response.output_text.delta";
    }
    out["type"] = type;
    if (channel < responses::kHashedItems) {
      out["output_index"] = channel / responses::kItemChannels;
    } else if (auto id = scanned_string_member(like_data, "item_id")) {
      out["item_id"] = *id;
    }
    // The part's index whatever the type (a call's arguments have none: an extra member then).
    if (summary) {
      out["summary_index"] = part - responses::kSummaryPart;
    } else {
      out["content_index"] = part;
    }
  }
  out["delta"] = text;
  // logprobs describe the tokens of the event they came in: an empty list keeps the member the
  // SDKs' types declare without repeating another event's tokens.
  if (src.contains("logprobs")) out["logprobs"] = json::array();
  // An inserted event has no number of its own: it repeats the number of the delta it continues
  // (a reader that orders by sequence_number keeps it right after that delta; the SDKs do not
  // check that numbers increase — openai-node only compares them with a resume's starting_after).
  if (const auto* n = src.if_contains("sequence_number")) out["sequence_number"] = *n;
  std::string event;
  if (!event_name(like).empty()) event = "event: " + std::string(type) + "\n";
  return event + "data: " + json::serialize(out) + "\n\n";
}

}  // namespace

ChannelsClosed channels_closed(ApiShape shape, std::string_view event) {
  if (shape == ApiShape::kResponses) return responses_closed(event);
  ChannelsClosed out;
  std::string_view data = event_data_line(event);
  if (shape == ApiShape::kAnthropic) {
    // The event's name says what it is (its `event:` line; else the data's `type`) — never a
    // search of the data, whose text may be any word.
    std::string_view name = event_name(event);
    json::object o;
    if (name.empty() || name == "content_block_stop") {
      o = parse_object(data);
      if (name.empty()) {
        if (const auto* t = o.if_contains("type"); t && t->is_string()) name = t->get_string();
      }
    }
    if (name == "content_block_stop") {
      if (const auto* i = o.if_contains("index"); i && i->is_int64() && i->get_int64() >= 0 &&
                                                  i->get_int64() < 1'000'000'000) {
        auto idx = static_cast<std::uint32_t>(i->get_int64());
        out.ranges.emplace_back(idx, idx);
      } else {
        out.all = true;
      }
    } else if (name == "message_delta" || name == "message_stop" || name == "error") {
      out.all = true;
    }
    return out;
  }
  if (data == "[DONE]") {
    out.all = true;
    return out;
  }
  // Keys, not text: a key is followed by ':' (a string value never is), and a quote inside text
  // is escaped. Most chunks say "finish_reason":null and are done here without a parse.
  const bool finishing = key_followed_by(data, "finish_reason", '"');
  const bool no_choices = key_followed_by(data, "choices", '[', ']');
  const bool error = key_followed_by(data, "error", '{');
  if (!finishing && !no_choices && !error) return out;
  if (error || no_choices) {
    out.all = true;  // an error, or a usage-only chunk: the answer's text is over
    return out;
  }
  json::object o = parse_object(data);
  const auto* choices = o.if_contains("choices");
  if (!choices || !choices->is_array()) return out;
  std::uint32_t k = 0;
  for (const auto& c : choices->get_array()) {
    if (!c.is_object()) continue;
    const auto& co = c.get_object();
    std::uint32_t index = k++;
    if (const auto* i = co.if_contains("index"); i && i->is_int64() && i->get_int64() >= 0 && i->get_int64() < 1'000'000) {
      index = static_cast<std::uint32_t>(i->get_int64());
    }
    if (const auto* f = co.if_contains("finish_reason"); f && f->is_string()) {
      out.ranges.emplace_back(index * kPerChoice, index * kPerChoice + kPerChoice - 1);
    }
  }
  return out;
}

std::string text_delta_event(ApiShape shape, std::string_view like, std::uint32_t channel, std::string_view text) {
  // `like` may not parse here although event_texts read its text (simdjson skips the values it
  // does not read: `"finish_reason":nuld`; Boost.JSON's depth limit): the event is then written
  // from defaults rather than not at all, which would drop the held text (tests/fuzz/fuzz_events).
  if (shape == ApiShape::kResponses) return responses_delta_event(like, channel, text);
  const std::string_view like_data = event_data_line(like);
  json::object src = parse_object(like_data);
  if (shape == ApiShape::kAnthropic) {
    // The delta's type follows the block's: text, a tool call's JSON, thinking.
    std::string_view type = "text_delta";
    if (const auto* d = src.if_contains("delta"); d && d->is_object()) {
      if (const auto* t = d->get_object().if_contains("type"); t && t->is_string()) type = t->get_string();
    } else if (src.empty()) {
      for (std::string_view t : {"input_json_delta", "thinking_delta"}) {
        // The type as a string token of its own (inside a string its quotes would be escaped).
        const std::string token = "\"" + std::string(t) + "\"";
        if (const auto at = like_data.find(token); at != std::string_view::npos && (at == 0 || like_data[at - 1] != '\\')) type = t;
      }
    }
    json::object delta;
    delta["type"] = type;
    delta[type == "input_json_delta" ? "partial_json" : type == "thinking_delta" ? "thinking" : "text"] = text;
    json::object out;
    out["type"] = "content_block_delta";
    out["index"] = channel;
    out["delta"] = std::move(delta);
    return "event: content_block_delta\ndata: " + json::serialize(out) + "\n\n";
  }
  json::object out;
  if (src.empty()) out["object"] = "chat.completion.chunk";
  for (const char* key : {"id", "object", "created", "model", "system_fingerprint"}) {
    if (const auto* v = src.if_contains(key)) out[key] = *v;
  }
  const std::uint32_t choice = channel / kPerChoice, sub = channel % kPerChoice;
  json::object delta;
  if (sub == 0) {
    delta["content"] = text;
  } else if (sub == kPerChoice - 1) {
    delta["refusal"] = text;
  } else if (sub == kPerChoice - 2) {
    delta["reasoning_content"] = text;  // a reasoning model's thinking (api/text.cpp's channel)
  } else {
    json::object call;
    call["index"] = sub - 1;
    call["function"] = json::object{{"arguments", text}};
    delta["tool_calls"] = json::array{std::move(call)};
  }
  json::object c;
  c["index"] = choice;
  c["delta"] = std::move(delta);
  c["finish_reason"] = nullptr;
  out["choices"] = json::array{std::move(c)};
  return "data: " + json::serialize(out) + "\n\n";
}

std::string with_sequence_number(std::string_view event, long long n) {
  // The key can only be a key here: inside a JSON string its quotes would be escaped. The last
  // one is the event's own (OpenAI writes it last; a response object's tools or metadata, which
  // may have a member of that name, come before it).
  static constexpr std::string_view kKey = "\"sequence_number\"";
  std::size_t at = event.rfind(kKey);
  if (at == std::string_view::npos) return std::string(event);
  std::size_t v = at + kKey.size();
  while (v < event.size() && (event[v] == ' ' || event[v] == ':')) ++v;
  std::size_t end = v;
  while (end < event.size() && event[end] >= '0' && event[end] <= '9') ++end;
  if (end == v) return std::string(event);
  std::string out;
  out.reserve(event.size() + 8);
  out.append(event.substr(0, v)).append(std::to_string(n)).append(event.substr(end));
  return out;
}

bool ends_stream(std::string_view bytes) {
  while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.remove_suffix(1);
  const auto cut = bytes.rfind("\n\n");
  const auto last = cut == std::string_view::npos ? bytes : bytes.substr(cut + 2);
  static constexpr std::string_view kLast[] = {
      "data: [DONE]",
      "event: message_stop",
      "data: {\"type\":\"message_stop\"",
      "event: response.completed",
      "event: response.incomplete",
      "event: response.failed",
      "data: {\"type\":\"response.completed\"",
      "data: {\"type\":\"response.incomplete\"",
      "data: {\"type\":\"response.failed\"",
  };
  for (auto prefix : kLast) {
    if (last.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace gatehouse::api
