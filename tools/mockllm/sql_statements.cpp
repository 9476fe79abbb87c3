#include "sql_statements.h"

#include <cctype>
#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "databricks.h"

namespace mockllm::sql {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kPrefix = "/api/2.0/sql/statements";

json::array default_columns() {
  return json::array{"day", "project", "dbus", "cost", "currency", "currencies"};
}

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

Reply bad(std::string_view message) { return databricks::error(400, "INVALID_PARAMETER_VALUE", message); }

// The :name markers of a statement.
std::vector<std::string> markers(std::string_view sql) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < sql.size(); ++i) {
    if (sql[i] != ':' || (i > 0 && sql[i - 1] == ':') || sql[i + 1] == ':') continue;
    std::size_t j = i + 1;
    while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) ++j;
    if (j > i + 1 && !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) out.emplace_back(sql.substr(i + 1, j - i - 1));
  }
  return out;
}

}  // namespace

std::optional<std::string> Warehouse::configure(const json::object& settings) {
  std::lock_guard lock(mu_);
  for (const auto& [key, value] : settings) {
    if (key == "warehouse_id") {
      if (!value.is_string()) return std::string("'warehouse_id' must be a string");
      warehouse_id_ = value.get_string();
    } else if (key == "columns") {
      if (!value.is_array()) return std::string("'columns' must be an array of names");
      columns_ = value.get_array();
    } else if (key == "rows") {
      if (!value.is_array()) return std::string("'rows' must be an array of arrays");
      for (const auto& r : value.get_array()) {
        if (!r.is_array()) return std::string("'rows' must be an array of arrays");
      }
      rows_ = value.get_array();
    } else if (key == "pending_polls" || key == "chunk_rows") {
      if (!value.is_int64() || value.get_int64() < (key == "chunk_rows" ? 1 : 0)) {
        return "'" + std::string(key) + "' must be a " + (key == "chunk_rows" ? "positive" : "non-negative") + " integer";
      }
      (key == "pending_polls" ? pending_polls_ : chunk_rows_) = int(value.get_int64());
    } else if (key == "fail") {
      if (value.is_null()) {
        fail_.reset();
      } else if (value.is_string()) {
        fail_ = std::string(value.get_string());
      } else {
        return std::string("'fail' must be a message or null");
      }
    } else {
      return "unknown sql setting '" + std::string(key) +
             "' (warehouse_id, columns, rows, pending_polls, chunk_rows, fail)";
    }
  }
  return std::nullopt;
}

void Warehouse::reset() {
  std::lock_guard lock(mu_);
  warehouse_id_ = "mock-warehouse";
  columns_.clear();
  rows_.clear();
  pending_polls_ = 0;
  chunk_rows_ = 1000;
  fail_.reset();
  statements_.clear();
  order_.clear();
}

std::string Warehouse::state_json() const {
  std::lock_guard lock(mu_);
  json::array statements;
  for (const auto& id : order_) {
    const Statement& s = statements_.at(id);
    statements.push_back(json::object{{"statement_id", s.id},
                                      {"state", s.state},
                                      {"polls", s.polls},
                                      {"chunks", s.chunks.size()},
                                      {"request", s.request}});
  }
  return json::serialize(json::object{{"warehouse_id", warehouse_id_},
                                      {"rows", rows_.size()},
                                      {"pending_polls", pending_polls_},
                                      {"chunk_rows", chunk_rows_},
                                      {"fail", fail_ ? json::value(*fail_) : json::value(nullptr)},
                                      {"statements", std::move(statements)}});
}

// A statement whose polls are used up ends: FAILED when the warehouse is set to fail, else
// SUCCEEDED.
void Warehouse::settle(Statement& s) {
  if (s.state != "PENDING" && s.state != "RUNNING") return;
  if (s.polls_left > 0) {
    s.state = "RUNNING";
    return;
  }
  s.state = fail_ ? "FAILED" : "SUCCEEDED";
}

json::object Warehouse::chunk_json(const Statement& s, std::size_t index) const {
  std::size_t offset = 0;
  for (std::size_t i = 0; i < index; ++i) offset += s.chunks[i].size();
  json::object c{{"chunk_index", index},
                 {"row_offset", offset},
                 {"row_count", s.chunks[index].size()},
                 {"data_array", s.chunks[index]}};
  if (index + 1 < s.chunks.size()) {
    c["next_chunk_index"] = index + 1;
    c["next_chunk_internal_link"] =
        std::string(kPrefix) + "/" + s.id + "/result/chunks/" + std::to_string(index + 1) +
        "?row_offset=" + std::to_string(offset + s.chunks[index].size());
  }
  return c;
}

std::string Warehouse::answer_json(const Statement& s) const {
  json::object status{{"state", s.state}};
  if (s.state == "FAILED") {
    status["error"] = json::object{{"error_code", "BAD_REQUEST"}, {"message", fail_.value_or("failed")}};
  }
  json::object out{{"statement_id", s.id}, {"status", std::move(status)}};
  if (s.state != "SUCCEEDED") return json::serialize(out);
  const json::array cols = columns_.empty() ? default_columns() : columns_;
  json::array schema_cols;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    std::string name = cols[i].is_string() ? std::string(cols[i].get_string()) : "col" + std::to_string(i);
    schema_cols.push_back(json::object{{"name", name}, {"type_text", "STRING"}, {"type_name", "STRING"}, {"position", i}});
  }
  json::array chunks;
  std::size_t total = 0, offset = 0;
  for (std::size_t i = 0; i < s.chunks.size(); ++i) {
    chunks.push_back(json::object{{"chunk_index", i}, {"row_offset", offset}, {"row_count", s.chunks[i].size()}});
    offset += s.chunks[i].size();
    total += s.chunks[i].size();
  }
  out["manifest"] = json::object{{"format", "JSON_ARRAY"},
                                 {"schema", json::object{{"column_count", cols.size()}, {"columns", std::move(schema_cols)}}},
                                 {"total_chunk_count", s.chunks.size()},
                                 {"chunks", std::move(chunks)},
                                 {"total_row_count", total},
                                 {"truncated", false}};
  out["result"] = chunk_json(s, 0);
  return json::serialize(out);
}

Reply Warehouse::submit(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return databricks::error(400, "MALFORMED_REQUEST", "the body must be a JSON object");
  const json::object& req = v.get_object();
  const std::string_view statement = str(req, "statement");
  if (statement.empty()) return bad("statement is required");
  const std::string_view warehouse = str(req, "warehouse_id");
  if (warehouse.empty()) return bad("warehouse_id is required");
  if (!str(req, "format").empty() && str(req, "format") != "JSON_ARRAY") {
    return bad("this mock serves format JSON_ARRAY only");
  }
  if (!str(req, "disposition").empty() && str(req, "disposition") != "INLINE") {
    return bad("this mock serves disposition INLINE only");
  }
  std::map<std::string, std::string> params;
  if (const json::value* ps = req.if_contains("parameters")) {
    if (!ps->is_array()) return bad("parameters must be an array");
    for (const auto& p : ps->get_array()) {
      if (!p.is_object() || str(p.get_object(), "name").empty()) return bad("each parameter needs a name");
      std::string value(str(p.get_object(), "value"));
      const std::string_view type = str(p.get_object(), "type");
      if (type == "DATE" && (value.size() != 10 || value[4] != '-' || value[7] != '-')) {
        return bad("parameter " + std::string(str(p.get_object(), "name")) + ": '" + value + "' is not a DATE");
      }
      params[std::string(str(p.get_object(), "name"))] = std::move(value);
    }
  }
  for (const auto& m : markers(statement)) {
    if (!params.contains(m)) return databricks::error(400, "UNBOUND_SQL_PARAMETER", "Found the unbound parameter: " + m);
  }
  for (const auto& [name, value] : params) {
    if (!value.empty() && statement.find("'" + value + "'") != std::string_view::npos) {
      return bad("the value of parameter " + name + " is spliced into the statement text; pass it as a parameter only");
    }
  }
  std::lock_guard lock(mu_);
  if (warehouse != warehouse_id_) {
    return databricks::error(404, "RESOURCE_DOES_NOT_EXIST",
                             "SQL warehouse " + std::string(warehouse) + " does not exist.");
  }
  char id[64];
  std::snprintf(id, sizeof id, "01f0c0de-0000-4000-8000-%012llx", static_cast<unsigned long long>(next_id_++));
  Statement s;
  s.id = id;
  s.request = req;
  s.polls_left = pending_polls_;
  s.state = "PENDING";
  // The rows the query's WHERE keeps, cut into chunks.
  const std::string from = params.contains("from_day") ? params["from_day"] : "";
  const std::string to = params.contains("to_day") ? params["to_day"] : "";
  json::array kept;
  for (const auto& r : rows_) {
    const auto& row = r.get_array();
    if (!row.empty() && row[0].is_string() && !from.empty() && !to.empty()) {
      const std::string day(row[0].get_string());
      if (day < from || day > to) continue;
    }
    kept.push_back(r);
  }
  s.chunks.emplace_back();
  for (auto& r : kept) {
    if (s.chunks.back().size() >= std::size_t(chunk_rows_)) s.chunks.emplace_back();
    s.chunks.back().push_back(std::move(r));
  }
  settle(s);
  if (s.state == "RUNNING") s.state = "PENDING";  // a submit answers PENDING until polled
  Reply reply;
  reply.body = answer_json(s);
  order_.push_back(s.id);
  statements_[s.id] = std::move(s);
  return reply;
}

Reply Warehouse::handle(http::verb method, std::string_view path, std::string_view body) {
  if (path == kPrefix) {
    if (method != http::verb::post) return databricks::error(405, "BAD_REQUEST", "Method Not Allowed");
    return submit(body);
  }
  if (!path.starts_with(std::string(kPrefix) + "/")) {
    return databricks::error(404, "ENDPOINT_NOT_FOUND", "No API found for '" + std::string(path) + "'");
  }
  std::string_view rest = path.substr(kPrefix.size() + 1);
  const std::size_t slash = rest.find('/');
  const std::string id(rest.substr(0, slash));
  const std::string_view tail = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  std::lock_guard lock(mu_);
  auto it = statements_.find(id);
  if (it == statements_.end()) {
    return databricks::error(404, "NOT_FOUND", "The statement " + id + " was not found.");
  }
  Statement& s = it->second;
  Reply reply;
  if (tail.empty()) {
    if (method != http::verb::get) return databricks::error(405, "BAD_REQUEST", "Method Not Allowed");
    if (s.state == "PENDING" || s.state == "RUNNING") {
      ++s.polls;
      if (s.polls_left > 0) --s.polls_left;
      settle(s);
    }
    reply.body = answer_json(s);
    return reply;
  }
  if (tail == "/cancel") {
    if (method != http::verb::post) return databricks::error(405, "BAD_REQUEST", "Method Not Allowed");
    if (s.state == "PENDING" || s.state == "RUNNING") s.state = "CANCELED";
    reply.body = "{}";
    return reply;
  }
  constexpr std::string_view kChunks = "/result/chunks/";
  if (tail.starts_with(kChunks) && method == http::verb::get) {
    if (s.state != "SUCCEEDED") return bad("the statement has no result (state " + s.state + ")");
    std::size_t index = 0;
    const std::string_view n = tail.substr(kChunks.size());
    bool ok = !n.empty();
    for (char c : n) {
      ok = ok && std::isdigit(static_cast<unsigned char>(c));
      index = index * 10 + std::size_t(c - '0');
    }
    if (!ok || index >= s.chunks.size()) return bad("no chunk " + std::string(n) + " in the result");
    reply.body = json::serialize(chunk_json(s, index));
    return reply;
  }
  return databricks::error(404, "ENDPOINT_NOT_FOUND", "No API found for '" + std::string(path) + "'");
}

}  // namespace mockllm::sql
