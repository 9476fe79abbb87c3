#include "store/store_copy.h"

#include <filesystem>
#include <vector>

#include "config/config.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

// Every table with rows to copy, parents before children (key_tags refers to keys). The
// one-row change counters and the audit chain's recorded head are carried separately; the last
// billing import's row is not (the next import records its own).
// (usage_rollup and usage_latency are copied as they are: the target's were filled from its own,
// empty, usage table. latency_bins is part of the schema.)
constexpr const char* kTables[] = {"keys",          "key_tags",      "usage",        "usage_rollup",
                                   "usage_latency", "inference_log", "audit",        "mcp_calls",
                                   "mcp_tool_pins", "mcp_approvals", "responses",    "billing_dbu"};
// The copied tables whose ids PostgreSQL generates (SQLite's INTEGER PRIMARY KEY, an identity
// column there): their sequences must start after the copied ids.
constexpr const char* kGeneratedIds[] = {"keys", "usage", "inference_log", "audit", "mcp_calls"};

// Opens (and so creates or upgrades) every table family of a store, then closes it again.
template <class... Openers>
std::optional<std::string> prepare_schema(const std::string& where, Openers... openers) {
  std::optional<std::string> error;
  auto one = [&](auto opener) {
    if (error) return;
    auto opened = opener(where);
    if (auto* e = std::get_if<std::string>(&opened)) error = *e;
  };
  (one(openers), ...);
  return error;
}

std::string hex_bytea(const void* data, int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out = "\\x";
  for (int i = 0; i < size; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// Column `i` of the current row as a PostgreSQL text parameter.
pg::Param param(sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL:
      return std::nullopt;
    case SQLITE_INTEGER:
      return pg::num(static_cast<std::int64_t>(sqlite3_column_int64(s, i)));
    case SQLITE_FLOAT:
      return pg::num(sqlite3_column_double(s, i));
    case SQLITE_BLOB:
      return hex_bytea(sqlite3_column_blob(s, i), sqlite3_column_bytes(s, i));
    default:
      return sqlite::column_text(s, i);
  }
}

// Copies the rows of `table`; how many, or what failed.
std::variant<std::int64_t, std::string> copy_table(sqlite3* src, const std::string& src_what,
                                                   pg::Connection& dst, const std::string& table) {
  sqlite::Stmt sel;
  // Table names are the fixed list above, never input.
  if (!sqlite::prepare(src, ("SELECT * FROM " + table + " ORDER BY rowid").c_str(), sel)) {
    return src_what + ": reading " + table + ": " + sqlite3_errmsg(src);
  }
  const int n = sqlite3_column_count(sel.get());
  std::string insert = "INSERT INTO " + table + " (";
  std::string values;
  for (int i = 0; i < n; ++i) {
    insert += (i ? ", " : "") + std::string(sqlite3_column_name(sel.get(), i));
    values += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  insert += ") VALUES (" + values + ")";
  std::int64_t rows = 0;
  std::vector<pg::Param> params(static_cast<std::size_t>(n));
  int rc;
  while ((rc = sqlite3_step(sel.get())) == SQLITE_ROW) {
    for (int i = 0; i < n; ++i) params[static_cast<std::size_t>(i)] = param(sel.get(), i);
    pg::Result r = dst.query(insert.c_str(), params);
    if (!pg::Connection::ok(r.get())) return dst.failure("copying a row of " + table, r.get());
    ++rows;
  }
  if (rc != SQLITE_DONE) return src_what + ": reading " + table + ": " + sqlite3_errmsg(src);
  return rows;
}

std::optional<std::string> copy_all(sqlite3* src, const std::string& src_what, pg::Connection& dst,
                                    const std::function<void(const std::string&)>& progress) {
  auto tx = dst.begin();
  if (!tx) return dst.failure("starting a transaction");
  // No gateway may append to the audit chain between the emptiness check and the commit.
  if (auto e = dst.run("SELECT pg_advisory_xact_lock($1)", {pg::num(pg::kAuditLock)},
                       "locking the audit chain"))
    return *e;
  for (const char* table : kTables) {
    auto r = dst.exec(("SELECT EXISTS (SELECT 1 FROM " + std::string(table) + ")").c_str(), {},
                      std::string("checking that ") + table + " is empty");
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    if (pg::text(std::get<pg::Result>(r).get(), 0, 0) == "t") {
      return dst.what() + ": the target already holds rows (table " + table +
             "): migrate only into an empty database, nothing was copied";
    }
  }
  for (const char* table : kTables) {
    auto copied = copy_table(src, src_what, dst, table);
    if (auto* e = std::get_if<std::string>(&copied)) return *e;
    progress("copied " + std::to_string(std::get<std::int64_t>(copied)) + " rows of " + table);
  }
  // The change counters and the chain's head, as they are in the source.
  for (const char* counter : {"key_events", "mcp_tool_pin_events"}) {
    auto v = sqlite::query_one(src, src_what,
                               std::string("SELECT version FROM ") + counter + " WHERE id = 1");
    if (auto* e = std::get_if<std::string>(&v)) return *e;
    const auto& text = std::get<std::optional<std::string>>(v);
    if (auto e =
            dst.run((std::string("UPDATE ") + counter + " SET version = $1 WHERE id = 1").c_str(),
                    {text.value_or("0")}, std::string("copying ") + counter))
      return *e;
  }
  auto head = sqlite::query_one(src, src_what, "SELECT value FROM meta WHERE name = 'audit.head'");
  if (auto* e = std::get_if<std::string>(&head)) return *e;
  if (const auto& h = std::get<std::optional<std::string>>(head)) {
    if (auto e = dst.run("INSERT INTO meta (name, value) VALUES ('audit.head', $1) "
                         "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                         {*h}, "copying the audit chain's head"))
      return *e;
  }
  for (const char* table : kGeneratedIds) {
    const std::string t(table);
    if (auto e = dst.run(("SELECT setval(pg_get_serial_sequence('" + t +
                          "', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM " + t + "), false)")
                             .c_str(),
                         {}, "moving the id sequence of " + t + " past the copied rows"))
      return *e;
  }
  return tx.commit();
}

}  // namespace

std::optional<std::string> copy_sqlite_to_postgres(
    const std::string& sqlite_path, const std::string& url,
    const std::function<void(const std::string&)>& progress) {
  const std::string src_what = "sqlite store " + sqlite_path;
  std::error_code ec;
  // Opening a missing file would create an empty store and copy nothing.
  if (!std::filesystem::is_regular_file(sqlite_path, ec)) return src_what + ": no such file";
  if (auto e = prepare_schema(sqlite_path, open_sqlite, open_sqlite_records, open_sqlite_responses,
                              open_sqlite_pins, open_sqlite_billing)) {
    return e;
  }
  if (auto e = prepare_schema(url, open_postgres, open_postgres_records, open_postgres_responses,
                              open_postgres_pins, open_postgres_billing)) {
    return e;
  }
  auto src = sqlite::open(sqlite_path, src_what, "NORMAL");
  if (auto* e = std::get_if<std::string>(&src)) return *e;
  sqlite3* db = std::get<sqlite::Db>(src).get();
  auto dst = pg::Connection::open(url, "postgres store " + config::redact_url_password(url));
  if (auto* e = std::get_if<std::string>(&dst)) return *e;
  // One read transaction on the source: every table from the same snapshot.
  if (auto e = sqlite::exec(db, src_what, "BEGIN", "starting a read")) return e;
  auto result = copy_all(db, src_what, *std::get<std::unique_ptr<pg::Connection>>(dst), progress);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  return result;
}

}  // namespace gatehouse::store
