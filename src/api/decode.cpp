#include "api/decode.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <simdjson.h>

namespace gatehouse::api {

namespace od = simdjson::ondemand;

constexpr std::size_t kMaxDepth = 128;

// Touches every value under `v` so malformed JSON anywhere in the body is caught here, with a
// 400, rather than forwarded. Strings are checked as tokens (not unescaped): cheap.
simdjson::error_code validate(od::value v, std::size_t depth) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto field : o) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = validate(child, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto el : a) {
        od::value child;
        if (auto e = el.get(child)) return e;
        if (auto e = validate(child, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::number: {
      od::number n;
      return v.get_number().get(n);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      // type() looks only at the first byte: `numl` is "null" to it. is_null() reports that as
      // an error, which must be read with get(): converting its result to bool throws
      // (tests/fuzz/fuzz_text found a body that escaped the decoder with simdjson_error).
      bool is = false;
      if (auto e = v.is_null().get(is)) return e;
      return is ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

namespace {

Error malformed(simdjson::error_code e) {
  return Error::bad_request(std::string("the request body is not valid JSON (") +
                            simdjson::error_message(e) + "); send a JSON object");
}

std::string_view json_type_name(od::json_type t) {
  switch (t) {
    case od::json_type::object: return "an object";
    case od::json_type::array: return "an array";
    case od::json_type::string: return "a string";
    case od::json_type::number: return "a number";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "unknown";
}

// One top-level member as the walk sees it.
struct Member {
  std::string_view key;
  od::value value;
  od::json_type type;
  std::size_t key_offset;  // where the member starts (its key's opening quote)
};

// The raw token of a string value, trimmed to its closing quote (raw_json_token may carry the
// whitespace that follows).
std::string_view string_token(od::value& value, char last = '"') {
  std::string_view raw = value.raw_json_token();
  while (!raw.empty() && raw.back() != last) raw.remove_suffix(1);
  return raw;
}

std::optional<Error> read_model(Member& m, const std::string& body, CanonicalRequest& req) {
  if (m.type != od::json_type::string) {
    return Error::bad_request("'model' must be a string naming a configured model, got " +
                                  std::string(json_type_name(m.type)),
                              "model");
  }
  std::string_view raw = string_token(m.value);
  std::string_view name;
  if (auto e = m.value.get_string().get(name)) return malformed(e);
  req.model = std::string(name);
  req.model_offset = std::size_t(raw.data() - body.data());
  req.model_length = raw.size();
  req.member_offset = m.key_offset;
  req.member_end = req.model_offset + req.model_length;
  return std::nullopt;
}

std::optional<Error> read_messages(Member& m) {
  if (m.type != od::json_type::array) {
    return Error::bad_request("'messages' must be an array of message objects, got " +
                                  std::string(json_type_name(m.type)),
                              "messages");
  }
  od::array msgs;
  if (auto e = m.value.get_array().get(msgs)) return malformed(e);
  std::size_t count = 0;
  for (auto el : msgs) {
    od::value msg;
    if (auto e = el.get(msg)) return malformed(e);
    od::json_type mt;
    if (auto e = msg.type().get(mt)) return malformed(e);
    if (mt != od::json_type::object) {
      return Error::bad_request("'messages[" + std::to_string(count) + "]' must be an object with 'role' and 'content'",
                                "messages");
    }
    if (auto e = validate(msg, 1)) return malformed(e);
    ++count;
  }
  if (count == 0) return Error::bad_request("'messages' must contain at least one message", "messages");
  return std::nullopt;
}

// `items`, when not null, is set when the input is an array whose first element is an object (a
// Responses request's items, not embeddings' strings or token arrays).
std::optional<Error> read_input(Member& m, bool* items = nullptr) {
  if (m.type != od::json_type::string && m.type != od::json_type::array) {
    return Error::bad_request("'input' must be a string or an array, got " + std::string(json_type_name(m.type)),
                              "input");
  }
  if (m.type == od::json_type::string || !items) {
    if (auto e = validate(m.value, 1)) return malformed(e);
    return std::nullopt;
  }
  od::array a;
  if (auto e = m.value.get_array().get(a)) return malformed(e);
  bool first = true;
  for (auto el : a) {
    od::value child;
    if (auto e = el.get(child)) return malformed(e);
    if (first) {
      od::json_type t;
      if (auto e = child.type().get(t)) return malformed(e);
      *items = t == od::json_type::object;
      first = false;
    }
    if (auto e = validate(child, 2)) return malformed(e);
  }
  return std::nullopt;
}

// Responses members the gateway reads: store, previous_response_id, max_output_tokens.
std::optional<Error> read_responses_member(Member& m, CanonicalRequest& req) {
  if (m.key == "store") {
    if (m.type == od::json_type::null) return std::nullopt;
    bool b = true;
    if (m.value.get_bool().get(b)) return Error::bad_request("'store' must be true or false", "store");
    req.store = b;
    return std::nullopt;
  }
  if (m.key == "previous_response_id") {
    if (m.type == od::json_type::null) return std::nullopt;
    std::string_view id;
    if (m.type != od::json_type::string || m.value.get_string().get(id) || id.empty()) {
      return Error::bad_request("'previous_response_id' must be the id of an earlier response (\"resp_...\")",
                                "previous_response_id");
    }
    req.previous_response_id = std::string(id);
    return std::nullopt;
  }
  // max_output_tokens
  if (m.type == od::json_type::null) return std::nullopt;
  std::int64_t n = 0;
  if (m.type != od::json_type::number || m.value.get_int64().get(n) || n < 1) {
    return Error::bad_request("'max_output_tokens' must be a positive integer", "max_output_tokens");
  }
  req.max_tokens = n;
  return std::nullopt;
}

std::optional<Error> read_data_class(Member& m, const std::string& body, CanonicalRequest& req) {
  std::string_view raw = m.value.raw_json_token();
  std::string_view dc;
  if (m.type != od::json_type::string || m.value.get_string().get(dc)) {
    return Error::bad_request("'data_class' must be one of \"public\", \"internal\", \"confidential\", \"restricted\"",
                              "data_class");
  }
  while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
  req.has_data_class = true;
  req.data_class = std::string(dc);
  req.data_class_member_offset = m.key_offset;
  req.data_class_member_end = std::size_t(raw.data() + raw.size() - body.data());
  return std::nullopt;
}

std::optional<Error> read_usage_context(Member& m, CanonicalRequest& req) {
  od::object uc;
  if (auto e = m.value.get_object().get(uc)) return malformed(e);
  for (auto f : uc) {
    std::string_view k;
    if (auto e = f.unescaped_key().get(k)) return malformed(e);
    od::value v;
    if (auto e = f.value().get(v)) return malformed(e);
    std::string_view sv;
    if (v.get_string().get(sv) == simdjson::SUCCESS) {
      req.usage_context.emplace_back(std::string(k), std::string(sv));
    } else if (auto e = validate(v, 2)) {
      return malformed(e);
    }
  }
  return std::nullopt;
}

// Its span is kept: asking for a stream's usage (api/usage.h) replaces it rather than adding a
// second one. It is small, so its members are read from a tree.
std::optional<Error> read_stream_options(Member& m, const std::string& body, CanonicalRequest& req) {
  std::string_view raw;
  if (m.type == od::json_type::null) {
    raw = string_token(m.value, 'l');
  } else if (m.type != od::json_type::object) {
    return Error::bad_request("'stream_options' must be an object, e.g. {\"include_usage\": true}", "stream_options");
  } else {
    od::object so;
    if (auto e = m.value.get_object().get(so)) return malformed(e);
    if (auto e = so.raw_json().get(raw)) return malformed(e);
    boost::system::error_code ec;
    boost::json::value tree = boost::json::parse(raw, ec);
    if (ec || !tree.is_object()) return Error::bad_request("'stream_options' is not valid JSON", "stream_options");
    if (const auto* iu = tree.get_object().if_contains("include_usage")) {
      if (!iu->is_bool() && !iu->is_null()) {
        return Error::bad_request("'stream_options.include_usage' must be true or false", "stream_options");
      }
      req.include_usage = iu->is_bool() && iu->get_bool();
    }
  }
  req.stream_options_offset = m.key_offset;
  req.stream_options_length = std::size_t(raw.data() + raw.size() - (body.data() + m.key_offset));
  return std::nullopt;
}

std::optional<Error> read_scalar(Member& m, CanonicalRequest& req) {
  if (m.key == "stream") {
    if (m.type == od::json_type::null) return std::nullopt;
    bool b = false;
    if (m.value.get_bool().get(b)) return Error::bad_request("'stream' must be true or false", "stream");
    req.stream = b;
    return std::nullopt;
  }
  // max_tokens / max_completion_tokens
  if (m.type == od::json_type::null) return std::nullopt;
  std::int64_t n = 0;
  if (m.type != od::json_type::number || m.value.get_int64().get(n) || n < 1) {
    return Error::bad_request("'" + std::string(m.key) + "' must be a positive integer", std::string(m.key));
  }
  req.max_tokens = n;
  return std::nullopt;
}

// A Databricks invocation is chat or embeddings by the payload member it carries.
std::optional<Error> classify_invocation(std::string_view key, Payload& payload, CanonicalRequest& req) {
  if (key == "messages") {
    req.op = Operation::kChat;
    payload = Payload::kMessages;
  } else if (key == "input") {
    req.op = Operation::kEmbeddings;
    payload = Payload::kInput;
  } else if (key == "prompt") {
    return Error::bad_request("completions ('prompt') are not served by Gatehouse: send 'messages' (chat) or "
                              "'input' (embeddings)",
                              "prompt");
  }
  return std::nullopt;
}

std::optional<Error> read_member(Member& m, const std::string& body, Payload& payload, Walked& w) {
  auto& req = w.request;
  if (payload == Payload::kEither) {
    if (auto e = classify_invocation(m.key, payload, req)) return e;
  }
  if (m.key == "model") {
    w.have_model = true;
    return read_model(m, body, req);
  }
  if ((payload == Payload::kMessages && m.key == "messages") ||
      ((payload == Payload::kInput || payload == Payload::kResponses) && m.key == "input")) {
    w.have_payload = true;
    if (payload == Payload::kMessages) return read_messages(m);
    if (payload == Payload::kResponses) req.input_is_string = m.type == od::json_type::string;
    if (!w.invocation || payload == Payload::kResponses) return read_input(m);
    // An invocation's `input`: embeddings, unless it is an array of Responses items (an agent's).
    bool items = false;
    auto e = read_input(m, &items);
    if (items) {
      req.op = Operation::kResponses;
      payload = Payload::kResponses;
    }
    return e;
  }
  if (payload == Payload::kResponses || w.invocation) {
    // An invocation's members may come before its `input`: read them as a Responses request would.
    if (m.key == "store" || m.key == "previous_response_id" || m.key == "max_output_tokens") {
      return read_responses_member(m, req);
    }
  }
  if (m.key == "stream") return read_scalar(m, req);
  if ((m.key == "max_tokens" || m.key == "max_completion_tokens") && payload != Payload::kResponses) {
    return read_scalar(m, req);
  }
  if (m.key == "data_class") return read_data_class(m, body, req);
  if (m.key == "usage_context" && m.type == od::json_type::object) return read_usage_context(m, req);
  if (m.key == "stream_options") return read_stream_options(m, body, req);
  if (auto e = validate(m.value, 1)) return malformed(e);
  return std::nullopt;
}

}  // namespace

std::variant<Walked, Error> walk_request(std::string& body, Payload payload) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  // One parser per thread: it keeps its buffers, so steady traffic allocates nothing here.
  thread_local od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(body.data(), body.size(), body.capacity()).get(doc)) return malformed(e);
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    return e == simdjson::INCORRECT_TYPE ? Error::bad_request("the request body must be a JSON object") : malformed(e);
  }
  Walked w;
  w.request.op = payload == Payload::kEither      ? Operation::kInvocations
                 : payload == Payload::kInput     ? Operation::kEmbeddings
                 : payload == Payload::kResponses ? Operation::kResponses
                                                  : Operation::kChat;
  w.invocation = payload == Payload::kEither;
  w.request.object_start = body.find('{') + 1;
  for (auto field : root) {
    // Where the key starts (just after its quote); read before unescaped_key() consumes it.
    const char* k = reinterpret_cast<const char*>(field.key().raw().value_unsafe());
    Member m;
    if (auto e = field.unescaped_key().get(m.key)) return malformed(e);
    if (auto e = field.value().get(m.value)) return malformed(e);
    if (auto e = m.value.type().get(m.type)) return malformed(e);
    // The key token starts at its opening quote; the raw key may omit it.
    while (k > body.data() && *k != '"') --k;
    m.key_offset = std::size_t(k - body.data());
    if (auto e = read_member(m, body, payload, w)) return std::move(*e);
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Error::bad_request("the request body has data after the JSON object");
  }
  return w;
}

}  // namespace gatehouse::api
