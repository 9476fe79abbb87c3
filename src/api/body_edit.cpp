// Editing a request body in place of the few members the gateway owns (model, data_class,
// stream_options), by their byte spans: the rest of the body is copied as it came.
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <simdjson.h>

#include "api/decode.h"
#include "api/request.h"

namespace gatehouse::api {

namespace od = simdjson::ondemand;

std::string json_quote(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

std::string rewrite_model(std::string_view body, const Spans& req, std::string_view upstream_model) {
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

std::string remove_data_class(std::string_view body, Spans& req) {
  if (!req.has_data_class) return std::string(body);
  auto [begin, end] = member_with_comma(body, req.data_class_member_offset, req.data_class_member_end);
  std::string out;
  out.reserve(body.size());
  out.append(body.substr(0, begin));
  out.append(body.substr(end));
  const std::size_t removed = end - begin;
  // A copy of `end`: clang before 16 cannot capture a structured binding (the fuzz build's clang 14).
  auto shift = [&, cut_end = end](std::size_t& at) {
    if (at >= cut_end) at -= removed;
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

std::string remove_model(std::string_view body, const Spans& req) {
  if (req.model_length == 0) return std::string(body);
  auto [begin, end] = member_with_comma(body, req.member_offset, req.member_end);
  std::string out;
  out.reserve(body.size());
  out.append(body.substr(0, begin));
  out.append(body.substr(end));
  return out;
}


std::optional<Spans> find_spans(std::string_view body) {
  std::string padded;
  padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(body);
  thread_local od::parser parser;
  od::document doc;
  od::object root;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc) || doc.get_object().get(root)) {
    return std::nullopt;
  }
  Spans s;
  s.object_start = body.find('{') + 1;
  for (auto field : root) {
    const char* k = reinterpret_cast<const char*>(field.key().raw().value_unsafe());
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return std::nullopt;
    while (k > padded.data() && *k != '"') --k;
    const std::size_t key_offset = std::size_t(k - padded.data());
    // Other members are validated, not read: a replacement must be valid JSON throughout.
    if (key != "model" && key != "stream_options" && key != "data_class") {
      if (validate(value, 1)) return std::nullopt;
      continue;
    }
    std::string_view raw;
    od::json_type type;
    if (value.type().get(type)) return std::nullopt;
    if (type == od::json_type::object) {
      od::object o;
      if (value.get_object().get(o) || o.raw_json().get(raw)) return std::nullopt;
    } else {
      raw = value.raw_json_token();
    }
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n')) {
      raw.remove_suffix(1);
    }
    const std::size_t value_offset = std::size_t(raw.data() - padded.data());
    const std::size_t value_end = value_offset + raw.size();
    if (key == "model" && raw.starts_with('"')) {
      s.model_offset = value_offset;
      s.model_length = raw.size();
      s.member_offset = key_offset;
      s.member_end = value_end;
    } else if (key == "stream_options") {
      s.stream_options_offset = key_offset;
      s.stream_options_length = value_end - key_offset;
    } else if (key == "data_class") {
      s.has_data_class = true;
      s.data_class_member_offset = key_offset;
      s.data_class_member_end = value_end;
    }
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) return std::nullopt;  // data after the object
  if (s.model_length == 0) s.model_offset = s.object_start;
  return s;
}

}  // namespace gatehouse::api
