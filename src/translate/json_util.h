// Small Boost.JSON helpers shared by the translators (internal to src/translate).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace gatehouse::translate::detail {

namespace json = boost::json;

inline std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

inline const json::object* obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

inline const json::array* arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

inline std::int64_t integer(const json::object& o, std::string_view key, std::int64_t dflt = 0) {
  const json::value* v = o.if_contains(key);
  if (!v) return dflt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return std::int64_t(v->get_uint64());
  if (v->is_double()) return std::int64_t(v->get_double());
  return dflt;
}

// Parses `text` as a JSON object; null when it is not one.
inline bool parse_object(std::string_view text, json::value& out) {
  json::error_code ec;
  out = json::parse(text, ec);
  return !ec && out.is_object();
}

// "data: <json>\n\n"
inline void append_data_event(std::string& out, const json::value& v) {
  out += "data: ";
  out += json::serialize(v);
  out += "\n\n";
}

// "event: <name>\ndata: <json>\n\n"
inline void append_named_event(std::string& out, std::string_view name, const json::value& v) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += json::serialize(v);
  out += "\n\n";
}

}  // namespace gatehouse::translate::detail
