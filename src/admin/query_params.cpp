#include "admin/query_params.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "core/encoding.h"
#include "store/key_rules.h"

namespace gatehouse::admin {

// (Hand-written: Boost 1.81's pct_string_view::decode and params_view read past the end of the
// last value of a request target — "by=model" came back "modelxt" — so they are not used.)
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}


Error invalid(std::string_view param, std::string message) {
  Error e = Error::bad_request(std::move(message), std::string(param));
  e.code = "invalid_value";
  return e;
}

std::variant<Query, Error> Query::parse(const http::Request& request, std::span<const std::string_view> accepted) {
  Query q;
  std::string_view target = request.target();
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return q;
  std::string_view rest = target.substr(mark + 1);
  std::vector<std::string> unknown;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!name || !value) return Error::bad_request("the query string is badly escaped (%XX)");
    bool known = false;
    for (auto a : accepted) known = known || a == *name;
    if (!known) {
      unknown.push_back(name->substr(0, 64));
      continue;
    }
    if (!q.values_.emplace(*name, *value).second) {
      return invalid(*name, "'" + *name + "' is given twice; give it once");
    }
  }
  if (!unknown.empty()) {
    std::string named, known;
    for (std::size_t i = 0; i < unknown.size() && i < 10; ++i) named += (i ? ", '" : "'") + unknown[i] + "'";
    for (auto a : accepted) known += (known.empty() ? "" : ", ") + std::string(a);
    Error e = Error::bad_request(std::string(unknown.size() == 1 ? "unknown query parameter " : "unknown query parameters ") +
                                     named + "; this endpoint accepts: " + known,
                                 unknown.front());
    e.code = "unknown_parameter";
    return e;
  }
  return q;
}

// Unix seconds, or an RFC 3339 date (2026-12-01: its midnight UTC) or date-time
// (2026-12-01T10:00:00Z, fractions and offsets allowed).
std::optional<std::int64_t> parse_time(const std::string& s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string::npos) {
    if (s.size() > 12) return std::nullopt;
    return std::stoll(s);
  }
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return std::nullopt;
  std::size_t at = 10;
  std::int64_t offset_s = 0;
  if (at < s.size()) {
    if (s[at] != 'T' && s[at] != 't' && s[at] != ' ') return std::nullopt;
    ++at;
    n = 0;
    if (std::sscanf(s.c_str() + at, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8) return std::nullopt;
    at += 8;
    if (at < s.size() && s[at] == '.') {
      ++at;
      const std::size_t digits = at;
      while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) ++at;
      if (at == digits) return std::nullopt;
    }
    if (at >= s.size()) return std::nullopt;  // a date-time needs its offset
    if (s[at] == 'Z' || s[at] == 'z') {
      ++at;
    } else if (s[at] == '+' || s[at] == '-') {
      int oh, om;
      n = 0;
      if (std::sscanf(s.c_str() + at + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) return std::nullopt;
      offset_s = (s[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      at += 6;
    } else {
      return std::nullopt;
    }
    if (at != s.size()) return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(timegm(&tm)) - offset_s;
}

std::variant<std::optional<std::int64_t>, Error> time_param(const Query& q, std::string_view name) {
  if (!q.has(name)) return std::optional<std::int64_t>();
  auto t = parse_time(q.get(name));
  if (!t) {
    return invalid(name, "'" + std::string(name) +
                             "' must be unix seconds or an RFC 3339 date or date-time (2026-12-01, "
                             "2026-12-01T10:00:00Z)");
  }
  return std::optional<std::int64_t>(*t);
}

// [from, to) in unix seconds; `to` defaults to now, `from` to `to` - default_span_s.
std::variant<std::pair<std::int64_t, std::int64_t>, Error> time_range(const Query& q, std::int64_t default_span_s) {
  auto from = time_param(q, "from");
  if (auto* e = std::get_if<Error>(&from)) return std::move(*e);
  auto to = time_param(q, "to");
  if (auto* e = std::get_if<Error>(&to)) return std::move(*e);
  const std::int64_t end = std::get<0>(to).value_or(store::unix_now() + 1);
  const std::int64_t start = std::get<0>(from).value_or(end - default_span_s);
  if (start >= end) return invalid("from", "'from' must be before 'to'");
  return std::pair{start, end};
}

std::variant<std::size_t, Error> limit_param(const Query& q, std::size_t fallback, std::size_t max) {
  if (!q.has("limit")) return fallback;
  const std::string v = q.get("limit");
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(v) < 1 || std::stoul(v) > max) {
    return invalid("limit", "'limit' must be a whole number from 1 to " + std::to_string(max));
  }
  return static_cast<std::size_t>(std::stoul(v));
}

// --- Cursors: base64url of "time_ms.id" (logs, MCP calls), "id" (audit), "cost\ngroup" (groups) --

Error bad_cursor() {
  Error e = Error::bad_request("'cursor' is not one this endpoint gave (pass next_cursor from the previous page as it is)",
                               "cursor");
  e.code = "invalid_cursor";
  return e;
}

std::optional<std::int64_t> whole(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;  // too large
  return v;
}

std::string row_cursor(std::int64_t time_ms, std::int64_t id) {
  return base64url_encode(std::to_string(time_ms) + "." + std::to_string(id));
}

std::variant<std::optional<store::RowCursor>, Error> row_cursor_param(const Query& q) {
  if (!q.has("cursor")) return std::optional<store::RowCursor>();
  auto text = base64url_decode(q.get("cursor"));
  if (!text) return bad_cursor();
  const auto dot = text->find('.');
  if (dot == std::string::npos) return bad_cursor();
  auto t = whole(std::string_view(*text).substr(0, dot));
  auto id = whole(std::string_view(*text).substr(dot + 1));
  if (!t || !id) return bad_cursor();
  return std::optional<store::RowCursor>(store::RowCursor{*t, *id});
}

std::string num17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace gatehouse::admin
