#include "api/usage.h"

#include "api/sse_data.h"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <simdjson.h>

namespace gatehouse::api {

namespace od = simdjson::ondemand;

namespace {

long long int_field(od::object& o, std::string_view key) {
  std::int64_t v = 0;
  if (o.find_field_unordered(key).get_int64().get(v) != simdjson::SUCCESS) return -1;
  // No answer has a trillion tokens: a bigger count is not to be added to anything.
  return std::min<std::int64_t>(v, 1'000'000'000'000LL);
}

// The members a usage object names its counts by: chat's and the Responses API's.
struct UsageNames {
  std::string_view input, output, input_details;
};
// chat: {prompt_tokens, completion_tokens, prompt_tokens_details: {cached_tokens}}.
constexpr UsageNames kChatUsage{"prompt_tokens", "completion_tokens", "prompt_tokens_details"};
// Responses: {input_tokens, input_tokens_details: {cached_tokens}, output_tokens,
// output_tokens_details: {reasoning_tokens}, total_tokens}. Input counts its cached tokens,
// output its reasoning tokens, as chat's usage does.
constexpr UsageNames kResponsesUsage{"input_tokens", "output_tokens", "input_tokens_details"};

bool read_token_usage(od::object usage, const UsageNames& names, Usage& out) {
  long long input = int_field(usage, names.input);
  long long output = int_field(usage, names.output);
  if (input < 0 && output < 0) return false;
  out.input_tokens = std::max(0LL, input);
  out.output_tokens = std::max(0LL, output);
  out.cached_input_tokens = 0;
  od::object details;
  if (usage.find_field_unordered(names.input_details).get_object().get(details) == simdjson::SUCCESS) {
    out.cached_input_tokens = std::min(out.input_tokens, std::max(0LL, int_field(details, "cached_tokens")));
  }
  out.known = true;
  return true;
}
bool read_openai_usage(od::object usage, Usage& out) { return read_token_usage(usage, kChatUsage, out); }
bool read_responses_usage(od::object usage, Usage& out) { return read_token_usage(usage, kResponsesUsage, out); }

// A padded copy for simdjson; the thread's parser is reused.
struct Padded {
  std::string text;
  explicit Padded(std::string_view s) {
    text.reserve(s.size() + simdjson::SIMDJSON_PADDING);
    text.assign(s);
  }
};

}  // namespace

std::string_view event_data_line(std::string_view event) {
  std::size_t at = 0;
  if (event.starts_with("data:")) {
    at = 5;
  } else {
    at = event.find("\ndata:");
    if (at == std::string_view::npos) return {};
    at += 6;
  }
  std::size_t end = event.find('\n', at);
  std::string_view data = event.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
  while (!data.empty() && data.front() == ' ') data.remove_prefix(1);
  if (!data.empty() && data.back() == '\r') data.remove_suffix(1);
  return data;
}

std::string_view event_data(std::string_view event, std::string& storage) {
  // Lines and data fields as api/text.cpp's join_data_lines reads them (SSE: lines end with CRLF,
  // LF or CR; one space after the colon is not part of the value).
  std::string_view only;  // the payload, while there is one data line: no copy
  std::size_t lines = 0;
  for (std::size_t at = 0; at < event.size();) {
    std::size_t eol = std::min(event.find('\n', at), event.find('\r', at));
    if (eol == std::string_view::npos) eol = event.size();
    const std::string_view line = event.substr(at, eol - at);
    at = eol;
    if (at < event.size() && event[at] == '\r') ++at;
    if (at < event.size() && event[at] == '\n') ++at;
    if (!line.starts_with("data:") && line != "data") continue;
    std::string_view value = line.substr(std::min<std::size_t>(5, line.size()));
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (lines == 0) {
      only = value;
    } else {
      if (lines == 1) storage.assign(only);
      storage.push_back('\n');
      storage.append(value);
    }
    ++lines;
  }
  return lines > 1 ? std::string_view(storage) : only;
}

Usage read_usage(ApiShape shape, std::string_view body) {
  Usage out;
  if (body.find("\"usage\"") == std::string_view::npos) return out;
  Padded p(body);
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(p.text.data(), p.text.size(), p.text.capacity()).get(doc)) return out;
  od::object usage;
  if (doc.find_field_unordered("usage").get_object().get(usage)) return out;
  if (body_shape(shape) == ApiShape::kOpenAI) {
    read_openai_usage(usage, out);
    return out;
  }
  if (body_shape(shape) == ApiShape::kResponses) {
    read_responses_usage(usage, out);
    return out;
  }
  long long input = int_field(usage, "input_tokens");
  long long output = int_field(usage, "output_tokens");
  long long cache_write = int_field(usage, "cache_creation_input_tokens");
  long long cache_read = int_field(usage, "cache_read_input_tokens");
  if (input < 0 && output < 0) return out;
  out.cached_input_tokens = std::max(0LL, cache_read);
  out.input_tokens = std::max(0LL, input) + std::max(0LL, cache_write) + out.cached_input_tokens;
  out.output_tokens = std::max(0LL, output);
  out.known = true;
  return out;
}

namespace {

// The length of the JSON string after `"key":` in `data` (an escape counts as one byte), or 0.
// A scan, not a parse: it runs on every event of every stream.
long long string_member_length(std::string_view data, std::string_view quoted_key) {
  // The key may also stand as a value (`"type":"text"`): the member is the one followed by ':'.
  for (std::size_t at = data.find(quoted_key); at != std::string_view::npos; at = data.find(quoted_key, at)) {
    at += quoted_key.size();
    while (at < data.size() && data[at] == ' ') ++at;
    if (at >= data.size() || data[at] != ':') continue;
    ++at;
    while (at < data.size() && data[at] == ' ') ++at;
    if (at >= data.size() || data[at] != '"') return 0;  // null, or not a string
    long long n = 0;
    for (++at; at < data.size() && data[at] != '"'; ++at, ++n) {
      if (data[at] == '\\') ++at;
    }
    return n;
  }
  return 0;
}

// The output text an event carries: OpenAI's delta content and tool arguments, Anthropic's text,
// partial_json and thinking deltas.
long long text_bytes(std::string_view event) {
  long long n = 0;
  for (std::string_view key : {"\"content\"", "\"arguments\"", "\"text\"", "\"partial_json\"", "\"thinking\""}) {
    n += string_member_length(event, key);
  }
  return n;
}

}  // namespace

// The Responses stream: usage and failure come in its last events, whose type is their `event:`
// line (OpenAI) or only their data's `type` (Databricks agents send data lines only). Text is
// counted from the deltas alone: the `.done` events and response.completed repeat it.
bool StreamUsage::responses_event(std::string_view event) {
  std::string storage;
  const std::string_view data = event_data(event, storage);
  text_bytes_ += string_member_length(data, "\"delta\"");
  // Most events are deltas: only those that may be a last event or an error are parsed.
  bool last = false;
  for (std::string_view t : {"\"response.completed\"", "\"response.incomplete\"", "\"response.failed\"", "\"error\""}) {
    last = last || data.find(t) != std::string_view::npos;
  }
  if (!last || data.empty() || data.front() != '{') return false;
  Padded p(data);
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(p.text.data(), p.text.size(), p.text.capacity()).get(doc)) return false;
  od::object root;
  if (doc.get_object().get(root)) return false;
  std::string_view type;
  if (root.find_field_unordered("type").get_string().get(type)) return false;
  if (type == "error" || type == "response.failed") failed_ = true;
  if (type != "response.completed" && type != "response.incomplete" && type != "response.failed") return false;
  od::object response, usage;
  if (root.find_field_unordered("response").get_object().get(response)) return false;
  if (response.find_field_unordered("usage").get_object().get(usage)) return false;  // absent or null
  Usage u;
  if (read_responses_usage(usage, u)) usage_ = u;
  return false;
}

bool StreamUsage::event(std::string_view event) {
  if (shape_ == ApiShape::kResponses) return responses_event(event);
  const bool anthropic = shape_ == ApiShape::kAnthropic;
  text_bytes_ += text_bytes(event);
  if (!failed_) {
    if (anthropic) {
      failed_ = event.starts_with("event: error") || event.starts_with("event:error");
    } else {
      // An error object is the whole event (`{"error":{...}}`): its first member, never a chunk's.
      std::string_view data = event_data_line(event);
      if (data.starts_with('{')) {
        data.remove_prefix(1);
        while (!data.empty() && (data.front() == ' ' || data.front() == '\t')) data.remove_prefix(1);
        failed_ = data.starts_with("\"error\"");
      }
    }
  }
  // Most events carry no usage: a substring test keeps them from being parsed.
  if (event.find("\"usage\"") == std::string_view::npos) return false;
  std::string_view data = event_data_line(event);
  if (data.empty() || data.front() != '{') return false;
  Padded p(data);
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(p.text.data(), p.text.size(), p.text.capacity()).get(doc)) return false;
  od::object root;
  if (doc.get_object().get(root)) return false;

  if (!anthropic) {
    // Field order is the provider's: look the members up by name.
    bool empty_choices = false;
    od::array choices;
    if (root.find_field_unordered("choices").get_array().get(choices) == simdjson::SUCCESS) {
      std::size_t n = 0;
      empty_choices = choices.count_elements().get(n) == simdjson::SUCCESS && n == 0;
    }
    od::object usage;
    if (root.find_field_unordered("usage").get_object().get(usage) != simdjson::SUCCESS) return false;
    Usage u;
    if (read_openai_usage(usage, u)) usage_ = u;
    return empty_choices;
  }

  std::string_view type;
  if (root.find_field_unordered("type").get_string().get(type)) return false;
  od::object usage;
  if (type == "message_start") {
    od::object message;
    if (root.find_field_unordered("message").get_object().get(message)) return false;
    if (message.find_field_unordered("usage").get_object().get(usage)) return false;
  } else if (type == "message_delta") {
    if (root.find_field_unordered("usage").get_object().get(usage)) return false;
  } else {
    return false;
  }
  // message_start has the input side; message_delta the output so far (newer APIs repeat the
  // input side there too).
  if (long long v = int_field(usage, "input_tokens"); v >= 0) anthropic_input_ = v;
  if (long long v = int_field(usage, "cache_creation_input_tokens"); v >= 0) anthropic_cache_write_ = v;
  if (long long v = int_field(usage, "cache_read_input_tokens"); v >= 0) anthropic_cache_read_ = v;
  if (long long v = int_field(usage, "output_tokens"); v >= 0) usage_.output_tokens = v;
  usage_.cached_input_tokens = anthropic_cache_read_;
  usage_.input_tokens = anthropic_input_ + anthropic_cache_write_ + anthropic_cache_read_;
  // Final only with message_delta: a stream cut after message_start has used more than its one
  // output token (the gateway's meter then takes the estimate for what is missing).
  if (type == "message_delta") usage_.known = true;
  return false;
}

std::string with_stream_usage(std::string_view body, Spans& req) {
  std::string member;
  std::size_t begin = req.object_start, end = req.object_start;
  if (req.stream_options_length > 0) {
    // Keep the client's other stream_options (e.g. include_obfuscation); set include_usage.
    begin = req.stream_options_offset;
    end = begin + req.stream_options_length;
    std::string_view raw = body.substr(begin, end - begin);
    std::string_view value = raw.substr(raw.find(':') + 1);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(value, ec);
    if (!ec && v.is_null()) v = boost::json::object();  // "stream_options": null
    if (ec || !v.is_object()) return std::string(body);
    v.get_object()["include_usage"] = true;
    member = "\"stream_options\":" + boost::json::serialize(v);
  } else {
    member = "\"stream_options\":{\"include_usage\":true}";  // a new first member
  }
  const std::size_t member_length = member.size();
  if (req.stream_options_length == 0) {
    std::string_view rest = body.substr(req.object_start);
    std::size_t next = rest.find_first_not_of(" \t\r\n");
    if (next != std::string_view::npos && rest[next] != '}') member.push_back(',');
  }
  std::string out;
  out.reserve(body.size() + member.size());
  out.append(body.substr(0, begin));
  out.append(member);
  out.append(body.substr(end));
  const long long delta = static_cast<long long>(member.size()) - static_cast<long long>(end - begin);
  auto shift = [&](std::size_t& at) {
    if (at >= end) at = std::size_t(static_cast<long long>(at) + delta);
  };
  if (req.model_length > 0) {
    shift(req.model_offset);
    shift(req.member_offset);
    shift(req.member_end);
  }
  if (req.has_data_class) {
    shift(req.data_class_member_offset);
    shift(req.data_class_member_end);
  }
  req.stream_options_offset = begin;
  req.stream_options_length = member_length;
  return out;
}

std::string with_stream_usage(std::string_view body, CanonicalRequest& req) {
  std::string out = with_stream_usage(body, static_cast<Spans&>(req));
  req.include_usage = true;
  return out;
}

}  // namespace gatehouse::api
