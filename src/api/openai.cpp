#include "api/openai.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/string.hpp>
#include <simdjson.h>

namespace gatehouse::api {

namespace od = simdjson::ondemand;

namespace {

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
    case od::json_type::null:
      return v.is_null() ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
  }
  return simdjson::INCORRECT_TYPE;
}

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

}  // namespace

std::variant<CanonicalRequest, Error> decode_request(Operation op, std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  // One parser per thread: it keeps its buffers, so steady traffic allocates nothing here.
  thread_local od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(body.data(), body.size(), body.capacity()).get(doc)) {
    return malformed(e);
  }
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    return e == simdjson::INCORRECT_TYPE ? Error::bad_request("the request body must be a JSON object")
                                         : malformed(e);
  }

  CanonicalRequest req;
  req.op = op;
  req.object_start = body.find('{') + 1;
  bool have_model = false;
  bool have_payload = false;  // messages (chat) or input (embeddings)
  std::string_view payload_field = op == Operation::kEmbeddings ? "input" : "messages";
  bool chat_like = op != Operation::kEmbeddings;  // `messages` must be a non-empty array

  for (auto field : root) {
    // Where the key starts (just after its quote); read before unescaped_key() consumes it.
    const char* raw_key = reinterpret_cast<const char*>(field.key().raw().value_unsafe());
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return malformed(e);
    od::value value;
    if (auto e = field.value().get(value)) return malformed(e);
    od::json_type type;
    if (auto e = value.type().get(type)) return malformed(e);

    if (op == Operation::kInvocations && !have_payload) {
      // A Databricks invocation is chat or embeddings by the field it carries.
      if (key == "messages") {
        req.op = Operation::kChatCompletions;
      } else if (key == "input") {
        req.op = Operation::kEmbeddings;
        payload_field = "input";
        chat_like = false;
      } else if (key == "prompt") {
        return Error::bad_request(
            "completions ('prompt') are not served by Gatehouse: send 'messages' (chat) or "
            "'input' (embeddings)",
            "prompt");
      }
    }

    if (key == "model") {
      if (type != od::json_type::string) {
        return Error::bad_request(
            "'model' must be a string naming a configured model, got " +
                std::string(json_type_name(type)),
            "model");
      }
      std::string_view raw = value.raw_json_token();
      std::string_view name;
      if (auto e = value.get_string().get(name)) return malformed(e);
      // raw_json_token may include trailing whitespace: trim to the closing quote.
      while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
      req.model = std::string(name);
      req.model_offset = std::size_t(raw.data() - body.data());
      req.model_length = raw.size();
      // The key token starts at its opening quote; raw_key may omit it.
      const char* k = raw_key;
      while (k > body.data() && *k != '"') --k;
      req.member_offset = std::size_t(k - body.data());
      req.member_end = req.model_offset + req.model_length;
      have_model = true;
      continue;
    }
    if (key == payload_field) {
      bool ok = chat_like ? type == od::json_type::array
                          : (type == od::json_type::string || type == od::json_type::array);
      if (!ok) {
        return Error::bad_request(
            chat_like ? "'messages' must be an array of message objects, got " +
                            std::string(json_type_name(type))
                      : "'input' must be a string or an array, got " + std::string(json_type_name(type)),
            std::string(payload_field));
      }
      if (chat_like) {
        od::array msgs;
        if (auto e = value.get_array().get(msgs)) return malformed(e);
        std::size_t count = 0;
        for (auto el : msgs) {
          od::value msg;
          if (auto e = el.get(msg)) return malformed(e);
          od::json_type mt;
          if (auto e = msg.type().get(mt)) return malformed(e);
          if (mt != od::json_type::object) {
            return Error::bad_request("'messages[" + std::to_string(count) +
                                          "]' must be an object with 'role' and 'content'",
                                      "messages");
          }
          if (auto e = validate(msg, 1)) return malformed(e);
          ++count;
        }
        if (count == 0) {
          return Error::bad_request("'messages' must contain at least one message", "messages");
        }
      } else if (auto e = validate(value, 1)) {
        return malformed(e);
      }
      have_payload = true;
      continue;
    }
    if (key == "stream") {
      if (type == od::json_type::null) continue;
      bool b = false;
      if (value.get_bool().get(b)) {
        return Error::bad_request("'stream' must be true or false", "stream");
      }
      req.stream = b;
      continue;
    }
    if ((key == "max_tokens" || key == "max_completion_tokens") && type != od::json_type::null) {
      std::int64_t n = 0;
      if (type != od::json_type::number || value.get_int64().get(n) || n < 1) {
        return Error::bad_request("'" + std::string(key) + "' must be a positive integer",
                                  std::string(key));
      }
      req.max_tokens = n;
      continue;
    }
    if (key == "data_class") {
      std::string_view raw = value.raw_json_token();
      std::string_view dc;
      if (type != od::json_type::string || value.get_string().get(dc)) {
        return Error::bad_request(
            "'data_class' must be one of \"public\", \"internal\", \"confidential\", \"restricted\"",
            "data_class");
      }
      while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
      const char* k = raw_key;
      while (k > body.data() && *k != '"') --k;
      req.has_data_class = true;
      req.data_class = std::string(dc);
      req.data_class_member_offset = std::size_t(k - body.data());
      req.data_class_member_end = std::size_t(raw.data() + raw.size() - body.data());
      continue;
    }
    if (key == "usage_context" && type == od::json_type::object) {
      od::object uc;
      if (auto e = value.get_object().get(uc)) return malformed(e);
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
      continue;
    }
    if (key == "stream_options" && type == od::json_type::null) {
      // Kept as a span: asking for a stream's usage replaces it rather than adding a second one.
      std::string_view raw = value.raw_json_token();
      while (!raw.empty() && raw.back() != 'l') raw.remove_suffix(1);
      const char* k = raw_key;
      while (k > body.data() && *k != '"') --k;
      req.stream_options_offset = std::size_t(k - body.data());
      req.stream_options_length = std::size_t(raw.data() + raw.size() - k);
      continue;
    }
    if (key == "stream_options" && type != od::json_type::object) {
      return Error::bad_request("'stream_options' must be an object, e.g. {\"include_usage\": true}",
                                "stream_options");
    }
    if (key == "stream_options") {
      // Its span is kept (a stream's usage may have to be asked for: api/usage.h); it is small,
      // so its members are read from a tree.
      od::object so;
      if (auto e = value.get_object().get(so)) return malformed(e);
      std::string_view raw;
      if (auto e = so.raw_json().get(raw)) return malformed(e);
      boost::system::error_code ec;
      boost::json::value tree = boost::json::parse(raw, ec);
      if (ec || !tree.is_object()) return Error::bad_request("'stream_options' is not valid JSON", "stream_options");
      if (const auto* iu = tree.get_object().if_contains("include_usage")) {
        if (!iu->is_bool() && !iu->is_null()) {
          return Error::bad_request("'stream_options.include_usage' must be true or false",
                                    "stream_options");
        }
        req.include_usage = iu->is_bool() && iu->get_bool();
      }
      const char* k = raw_key;
      while (k > body.data() && *k != '"') --k;
      req.stream_options_offset = std::size_t(k - body.data());
      req.stream_options_length = std::size_t(raw.data() + raw.size() - k);
      continue;
    }
    if (auto e = validate(value, 1)) return malformed(e);
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Error::bad_request("the request body has data after the JSON object");
  }

  if (req.op == Operation::kInvocations) {
    return Error::bad_request(
        "the invocation needs 'messages' (chat) or 'input' (embeddings)", "messages");
  }
  if (!have_model && op != Operation::kInvocations) {
    return Error::bad_request(op == Operation::kMessages || op == Operation::kCountTokens
                                  ? "'model' is required: name one of the models the gateway serves"
                                  : "'model' is required: name one of the models from GET /v1/models",
                              "model");
  }
  if (!have_payload) {
    return Error::bad_request(chat_like ? "'messages' is required: an array of message objects"
                                        : "'input' is required: a string or an array of strings",
                              std::string(payload_field));
  }
  if (op == Operation::kMessages && req.max_tokens < 0) {
    return Error::bad_request("'max_tokens' is required: the most tokens the answer may have",
                              "max_tokens");
  }
  if (!have_model) req.model_offset = req.object_start;
  return req;
}

std::string json_quote(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

std::string rewrite_model(std::string_view body, const CanonicalRequest& req,
                          std::string_view upstream_model) {
  std::string quoted = json_quote(upstream_model);
  std::string out;
  if (req.model_length == 0) {
    // No model in the body: add one as its first member.
    std::size_t at = req.object_start;
    std::string_view rest = body.substr(at);
    bool empty = rest.find_first_not_of(" \t\r\n") == std::string_view::npos ||
                 rest[rest.find_first_not_of(" \t\r\n")] == '}';
    out.reserve(body.size() + quoted.size() + 10);
    out.append(body.substr(0, at));
    out.append("\"model\":");
    out.append(quoted);
    if (!empty) out.push_back(',');
    out.append(rest);
    return out;
  }
  out.reserve(body.size() - req.model_length + quoted.size());
  out.append(body.substr(0, req.model_offset));
  out.append(quoted);
  out.append(body.substr(req.model_offset + req.model_length));
  return out;
}

namespace {
// The span of the member [begin, end) widened to take one adjacent comma (the one after it, or
// else the one before: it was the last member).
std::pair<std::size_t, std::size_t> member_with_comma(std::string_view body, std::size_t begin,
                                                      std::size_t end) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t after = end;
  while (after < body.size() && is_space(body[after])) ++after;
  if (after < body.size() && body[after] == ',') return {begin, after + 1};
  std::size_t before = begin;
  while (before > 0 && is_space(body[before - 1])) --before;
  if (before > 0 && body[before - 1] == ',') return {before - 1, end};
  return {begin, end};
}
}  // namespace

std::string remove_data_class(std::string_view body, CanonicalRequest& req) {
  if (!req.has_data_class) return std::string(body);
  auto [begin, end] = member_with_comma(body, req.data_class_member_offset, req.data_class_member_end);
  std::string out;
  out.reserve(body.size());
  out.append(body.substr(0, begin));
  out.append(body.substr(end));
  const std::size_t removed = end - begin;
  auto shift = [&](std::size_t& at) {
    if (at >= end) at -= removed;
  };
  if (req.model_length > 0) {
    shift(req.model_offset);
    shift(req.member_offset);
    shift(req.member_end);
  }
  if (req.stream_options_length > 0) shift(req.stream_options_offset);
  req.has_data_class = false;
  return out;
}

std::string remove_model(std::string_view body, const CanonicalRequest& req) {
  if (req.model_length == 0) return std::string(body);
  auto [begin, end] = member_with_comma(body, req.member_offset, req.member_end);
  std::string out;
  out.reserve(body.size());
  out.append(body.substr(0, begin));
  out.append(body.substr(end));
  return out;
}

std::string_view error_type(const Error& error) {
  if (!error.type.empty()) return error.type;
  switch (error.kind) {
    case ErrorKind::kUnauthenticated: return "authentication_error";
    case ErrorKind::kForbidden: return "permission_error";
    case ErrorKind::kRateLimited: return "rate_limit_error";
    case ErrorKind::kBadRequest:
    case ErrorKind::kNotFound:
    case ErrorKind::kMethodNotAllowed:
    case ErrorKind::kTooLarge:
      return "invalid_request_error";
    case ErrorKind::kUpstreamStatus:
      if (error.status == 401) return "authentication_error";
      if (error.status == 403) return "permission_error";
      return error.status >= 500 ? "upstream_error" : "invalid_request_error";
    case ErrorKind::kUpstreamConnect:
    case ErrorKind::kUpstreamReset:
    case ErrorKind::kUpstreamTimeout:
    case ErrorKind::kUpstreamProtocol:
      return "upstream_error";
    case ErrorKind::kUnavailable: return "service_unavailable";
    case ErrorKind::kInternal: return "server_error";
  }
  return "server_error";
}

std::string encode_error(const Error& error) {
  std::string out = R"({"error":{"message":)";
  out += json_quote(error.message);
  out += R"(,"type":)";
  out += json_quote(error_type(error));
  out += R"(,"param":)";
  out += error.param.empty() ? "null" : json_quote(error.param);
  out += R"(,"code":)";
  out += error.code.empty() ? "null" : json_quote(error.code);
  out += "}}";
  return out;
}

bool is_openai_error_body(std::string_view body) {
  std::string padded(body);
  thread_local od::parser parser;
  padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) return false;
  od::object err;
  if (doc.find_field("error").get_object().get(err)) return false;
  std::string_view message;
  return err.find_field_unordered("message").get_string().get(message) == simdjson::SUCCESS;
}

}  // namespace gatehouse::api
