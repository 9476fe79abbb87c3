#include "billing/statement.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <map>

namespace gatehouse::billing {

namespace json = boost::json;

const char* const kDbuQuery = R"sql(SELECT
  CAST(u.usage_date AS STRING) AS day,
  COALESCE(u.custom_tags[:tag], '') AS project,
  CAST(SUM(u.usage_quantity) AS DOUBLE) AS dbus,
  CASE WHEN COUNT_IF(p.sku_name IS NULL) > 0 THEN NULL
       ELSE CAST(SUM(u.usage_quantity * CAST(p.pricing.default AS DECIMAL(38, 18))) AS DOUBLE) END AS cost,
  MAX(p.currency_code) AS currency,
  COUNT(DISTINCT p.currency_code) AS currencies
FROM system.billing.usage AS u
LEFT JOIN system.billing.list_prices AS p
  ON p.sku_name = u.sku_name
  AND p.cloud = u.cloud
  AND p.usage_unit = u.usage_unit
  AND u.usage_start_time >= p.price_start_time
  AND (p.price_end_time IS NULL OR u.usage_start_time < p.price_end_time)
WHERE u.usage_unit = 'DBU'
  AND u.usage_date BETWEEN :from_day AND :to_day
GROUP BY 1, 2
ORDER BY 1, 2)sql";

std::string statement_body(const config::DatabricksBillingConfig& cfg, const std::string& from_day,
                           const std::string& to_day) {
  auto parameter = [](std::string_view name, std::string_view value, std::string_view type) {
    return json::object{{"name", name}, {"value", value}, {"type", type}};
  };
  json::object body{
      {"warehouse_id", cfg.warehouse_id},
      {"statement", kDbuQuery},
      {"parameters", json::array{parameter("tag", cfg.tag, "STRING"), parameter("from_day", from_day, "DATE"),
                                 parameter("to_day", to_day, "DATE")}},
      {"wait_timeout", "10s"},
      {"on_wait_timeout", "CONTINUE"},
      {"format", "JSON_ARRAY"},
      {"disposition", "INLINE"},
  };
  return json::serialize(body);
}

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::optional<std::int64_t> integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return std::int64_t(v->get_uint64());
  return std::nullopt;
}

std::variant<json::object, std::string> object_of(std::string_view body, std::string_view what) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "the " + std::string(what) + " is not a JSON object";
  return std::move(v.get_object());
}

std::variant<Chunk, std::string> chunk_of(const json::object& o) {
  Chunk c;
  if (const json::value* data = o.if_contains("data_array")) {
    if (!data->is_array()) return std::string("result.data_array is not an array");
    for (const auto& row : data->get_array()) {
      if (!row.is_array()) return std::string("a row of result.data_array is not an array");
      std::vector<Cell> cells;
      cells.reserve(row.get_array().size());
      for (const auto& cell : row.get_array()) {
        if (cell.is_null()) {
          cells.emplace_back();
        } else if (cell.is_string()) {
          cells.emplace_back(std::string(cell.get_string()));
        } else {
          cells.emplace_back(json::serialize(cell));  // not what JSON_ARRAY sends, but readable
        }
      }
      c.rows.push_back(std::move(cells));
    }
  }
  c.next_chunk_index = integer(o, "next_chunk_index");
  c.next_chunk_internal_link = str(o, "next_chunk_internal_link");
  return c;
}

std::optional<State> state_of(std::string_view s) {
  if (s == "PENDING") return State::kPending;
  if (s == "RUNNING") return State::kRunning;
  if (s == "SUCCEEDED") return State::kSucceeded;
  if (s == "FAILED") return State::kFailed;
  if (s == "CANCELED") return State::kCanceled;
  if (s == "CLOSED") return State::kClosed;
  return std::nullopt;
}

}  // namespace

std::variant<StatementAnswer, std::string> parse_statement(std::string_view body) {
  auto parsed = object_of(body, "statement's answer");
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  const json::object& o = std::get<json::object>(parsed);
  StatementAnswer a;
  a.statement_id = str(o, "statement_id");
  if (!plain_id(a.statement_id)) return std::string("the answer has no statement_id");
  const json::value* status = o.if_contains("status");
  if (!status || !status->is_object()) return std::string("the answer has no status");
  a.state_name = str(status->get_object(), "state");
  auto state = state_of(a.state_name);
  if (!state) return "unknown statement state '" + a.state_name.substr(0, 40) + "'";
  a.state = *state;
  if (const json::value* err = status->get_object().if_contains("error"); err && err->is_object()) {
    std::string code(str(err->get_object(), "error_code"));
    std::string message(str(err->get_object(), "message"));
    a.error = code.empty() ? message : message.empty() ? code : code + ": " + message;
  }
  if (const json::value* m = o.if_contains("manifest"); m && m->is_object()) {
    a.total_chunk_count = integer(m->get_object(), "total_chunk_count").value_or(0);
    const json::value* schema = m->get_object().if_contains("schema");
    const json::value* columns = schema && schema->is_object() ? schema->get_object().if_contains("columns") : nullptr;
    if (columns && columns->is_array()) {
      for (const auto& col : columns->get_array()) {
        a.columns.emplace_back(col.is_object() ? str(col.get_object(), "name") : std::string_view());
      }
    }
  }
  if (const json::value* r = o.if_contains("result"); r && r->is_object()) {
    auto chunk = chunk_of(r->get_object());
    if (auto* e = std::get_if<std::string>(&chunk)) return *e;
    a.result = std::move(std::get<Chunk>(chunk));
  }
  if (a.state == State::kSucceeded && a.columns.empty()) return std::string("the answer has no manifest.schema.columns");
  return a;
}

std::variant<Chunk, std::string> parse_chunk(std::string_view body) {
  auto parsed = object_of(body, "result chunk");
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  return chunk_of(std::get<json::object>(parsed));
}

std::string api_error(std::string_view body) {
  auto parsed = object_of(body, "error");
  if (std::holds_alternative<std::string>(parsed)) return {};
  const json::object& o = std::get<json::object>(parsed);
  std::string code(str(o, "error_code"));
  std::string message(str(o, "message"));
  if (code.empty()) return message;
  return message.empty() ? code : code + ": " + message;
}

bool plain_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

namespace {

std::optional<double> number(const Cell& c) {
  if (!c) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(c->data(), c->data() + c->size(), v);
  if (ec != std::errc() || p != c->data() + c->size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::variant<std::vector<store::DbuRow>, std::string> dbu_rows(const std::vector<std::string>& columns,
                                                              const Rows& rows, const std::string& from_day,
                                                              const std::string& to_day, std::int64_t imported_at) {
  auto index = [&](std::string_view name) -> int {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == name) return int(i);
    }
    return -1;
  };
  const int day = index("day"), project = index("project"), dbus = index("dbus"), cost = index("cost"),
            currency = index("currency"), currencies = index("currencies");
  if (day < 0 || project < 0 || dbus < 0 || cost < 0 || currency < 0) {
    return std::string("the result lacks a column of day, project, dbus, cost, currency");
  }
  std::map<std::pair<std::string, std::string>, store::DbuRow> merged;
  for (const auto& row : rows) {
    if (row.size() != columns.size()) return std::string("a result row has the wrong number of values");
    const Cell& d = row[std::size_t(day)];
    if (!d || !store::days_of(*d) || *d < from_day || *d > to_day) {
      return "a result row's day '" + d.value_or("null").substr(0, 20) + "' is not a day of " + from_day + ".." + to_day;
    }
    auto q = number(row[std::size_t(dbus)]);
    if (!q) return "a result row's dbus is not a number (" + d.value() + ")";
    std::optional<double> c;
    if (row[std::size_t(cost)]) {
      c = number(row[std::size_t(cost)]);
      if (!c) return "a result row's cost is not a number (" + d.value() + ")";
    }
    const std::string cur = row[std::size_t(currency)].value_or("");
    if (currencies >= 0 && number(row[std::size_t(currencies)]).value_or(0) > 1) {
      return "the list prices of " + *d + " are in several currencies; Gatehouse shows costs in USD";
    }
    if (c && cur != "USD") {
      return "the list prices are in '" + cur.substr(0, 8) + "', not USD; Gatehouse shows costs in USD";
    }
    // One row per day and project: the same project in two groups (cannot happen with the query,
    // which groups by both) is summed.
    auto key = std::pair{*d, row[std::size_t(project)].value_or("")};
    auto [it, fresh] = merged.try_emplace(key);
    store::DbuRow& r = it->second;
    if (fresh) {
      r.day = key.first;
      r.project = key.second;
      r.cost_usd = c;
      r.dbus = *q;
    } else {
      r.dbus += *q;
      r.cost_usd = r.cost_usd && c ? std::optional<double>(*r.cost_usd + *c) : std::nullopt;
    }
    r.currency = "USD";
    r.imported_at = imported_at;
  }
  std::vector<store::DbuRow> out;
  out.reserve(merged.size());
  for (auto& [key, r] : merged) out.push_back(std::move(r));
  return out;
}

}  // namespace gatehouse::billing
