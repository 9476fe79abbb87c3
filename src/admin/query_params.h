// The admin API's query strings: parameters each endpoint names (an unknown one is a 400 listing
// the accepted ones), times (unix seconds or RFC 3339), limits and keyset cursors (opaque:
// base64url of "time_ms.id"). Internal to gh_admin.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/error.h"
#include "http/server.h"
#include "store/record_store.h"

namespace gatehouse::admin {

// A 400 "invalid_value" for `param`, saying what to fix.
Error invalid(std::string_view param, std::string message);
// `s` with its %XX escapes decoded ('+' as a space in a query); nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// The request's query parameters, each of which must be one of `accepted` (given once).
class Query {
 public:
  static std::variant<Query, Error> parse(const http::Request& request, std::span<const std::string_view> accepted);
  bool has(std::string_view name) const { return values_.contains(std::string(name)); }
  std::string get(std::string_view name) const {
    auto it = values_.find(std::string(name));
    return it == values_.end() ? std::string() : it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

// Unix seconds, or an RFC 3339 date (its midnight UTC) or date-time; nullopt when it is neither.
std::optional<std::int64_t> parse_time(const std::string& s);
// `name` as a time (absent: nullopt), or a 400 naming it.
std::variant<std::optional<std::int64_t>, Error> time_param(const Query& q, std::string_view name);
// [from, to) in unix seconds: `to` defaults to now, `from` to `to` - default_span_s.
std::variant<std::pair<std::int64_t, std::int64_t>, Error> time_range(const Query& q, std::int64_t default_span_s);
// `limit`: 1..max, `fallback` when absent.
std::variant<std::size_t, Error> limit_param(const Query& q, std::size_t fallback, std::size_t max);

// Cursors: base64url of "time_ms.id" (logs, MCP calls), "id" (audit), "cost\ngroup" (groups).
Error bad_cursor();
std::optional<std::int64_t> whole(std::string_view s);  // digits only
std::string row_cursor(std::int64_t time_ms, std::int64_t id);
std::variant<std::optional<store::RowCursor>, Error> row_cursor_param(const Query& q);
std::string num17(double v);  // a double that reads back exactly

}  // namespace gatehouse::admin
