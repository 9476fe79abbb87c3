#include "cli/cli_common.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>

#include "config/load.h"
#include "limit/clock.h"
#include "store/key_rules.h"
#include "store/store_open.h"

namespace gatehouse::cli {

namespace {

// Stands for an unset environment variable in the second reading of a config (see load_config).
constexpr std::string_view kUnsetMark =
    "\x1f"
    "unset-env\x1f";

}  // namespace

// A file that fails only because variables are unset is read again with a mark in their place;
// the mark must then not reach anything these commands use, or the first reading's problems
// stand (a store path built from an unset variable would silently be another file).
std::shared_ptr<const config::Config> load_config(const std::string& path, std::ostream& err) {
  auto strict = config::load_file(path);
  if (strict.config) return strict.config;
  auto lenient = config::load_file(path, [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::string(kUnsetMark);
  });
  auto marked = [](const std::string& s) { return s.find(kUnsetMark) != std::string::npos; };
  bool usable = lenient.config && !marked(lenient.config->store.sqlite_path) &&
                !marked(lenient.config->store.postgres_url);
  if (usable) {
    for (const auto& k : lenient.config->keys) usable = usable && !marked(k.name);
    for (const auto& [name, role] : lenient.config->roles) usable = usable && !marked(name);
  }
  if (usable) return lenient.config;
  for (const auto& d : strict.diagnostics) err << d.to_string() << '\n';
  return nullptr;
}

namespace {
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::unique_ptr<store::RecordStore> open_records(const config::Config& c, const std::string& path,
                                                 std::string_view what, std::ostream& err) {
  if (!c.store.configured()) {
    err << path << " names no store: " << what << " only with\n  store:\n    sqlite: \"./gatehouse.db\"\n"
        << "(or store: {postgres: URL})\n";
    return nullptr;
  }
  auto opened = store::open_records(c.store);
  if (auto* e = std::get_if<std::string>(&opened)) {
    err << *e << '\n';
    return nullptr;
  }
  return std::move(std::get<0>(opened));
}

std::optional<std::int64_t> since_start_ms(const std::string& since, std::ostream& err) {
  auto lifetime = store::parse_lifetime(since);
  if (!lifetime) {
    err << "--since '" << since << "' is not a duration: a count and a unit, e.g. 90m, 12h, 7d\n";
    return std::nullopt;
  }
  return limit::system_now_ms() - *lifetime * 1000;
}

void print_table(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  if (rows.empty()) return;
  std::vector<std::size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - width(r[i]) + 2, ' ');
    }
    out << line << '\n';
  }
}

namespace {

void append_decimal(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9f", d);
  std::string s(buf);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  out += s;
}

void append_json(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::double_: append_decimal(v.get_double(), out); return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(e, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string(k));
        out += ':';
        append_json(e, out);
      }
      out += '}';
      return;
    }
    default: out += boost::json::serialize(v); return;
  }
}

}  // namespace

boost::json::value json_or_text(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return ec ? boost::json::value(text) : v;
}

std::string utc_ms(std::int64_t ms) { return store::format_utc(ms / 1000); }

std::string json_text(const boost::json::value& v) {
  std::string out;
  append_json(v, out);
  return out;
}

}  // namespace gatehouse::cli
