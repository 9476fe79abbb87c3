// The usage table in SQLite. One connection, used by the record writer's thread (and by the CLI);
// a mutex guards its statements.
#include <mutex>
#include <optional>

#include "store/record_store.h"
#include "store/sqlite_db.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

constexpr const char* kSchemaVersionName = "records.schema_version";
constexpr const char* kMigrations[] = {
    // 1: usage, one row per model request.
    R"sql(
    CREATE TABLE usage (
      id                       INTEGER PRIMARY KEY,
      request_id               TEXT    NOT NULL,
      request_time             INTEGER NOT NULL,
      requester                TEXT    NOT NULL DEFAULT '',
      key_name                 TEXT    NOT NULL DEFAULT '',
      user_name                TEXT    NOT NULL DEFAULT '',
      project                  TEXT    NOT NULL DEFAULT '',
      end_user                 TEXT    NOT NULL DEFAULT '',
      usage_project            TEXT    NOT NULL DEFAULT '',
      model                    TEXT    NOT NULL DEFAULT '',
      served_model             TEXT    NOT NULL DEFAULT '',
      provider                 TEXT    NOT NULL DEFAULT '',
      input_token_count        INTEGER NOT NULL DEFAULT 0,
      cached_input_token_count INTEGER NOT NULL DEFAULT 0,
      output_token_count       INTEGER NOT NULL DEFAULT 0,
      usage_estimated          INTEGER NOT NULL DEFAULT 0,
      cost_usd                 REAL    NOT NULL DEFAULT 0,
      status_code              INTEGER NOT NULL,
      execution_duration_ms    REAL    NOT NULL DEFAULT 0,
      request_streaming        INTEGER NOT NULL DEFAULT 0,
      error_code               TEXT    NOT NULL DEFAULT ''
    );
    CREATE INDEX usage_by_time ON usage (request_time);
    )sql",
    // 2: how many upstream attempts a request took (routes retry and fall back).
    "ALTER TABLE usage ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
};

const char* group_column(UsageGroup by) {
  switch (by) {
    case UsageGroup::kProject: return "project";
    case UsageGroup::kKey: return "key_name";
    case UsageGroup::kUser: return "user_name";
    case UsageGroup::kModel: return "model";
  }
  return "project";
}

class SqliteRecordStore final : public RecordStore {
 public:
  SqliteRecordStore(std::string path, Db db) : what_("record store " + path), db_(std::move(db)) {}

  std::optional<std::string> prepare() {
    struct {
      Stmt* stmt;
      const char* sql;
    } all[] = {
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
        {&insert_,
         "INSERT INTO usage (request_id, request_time, requester, key_name, user_name, project, "
         "end_user, usage_project, model, served_model, provider, input_token_count, "
         "cached_input_token_count, output_token_count, usage_estimated, cost_usd, status_code, "
         "execution_duration_ms, request_streaming, error_code, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
         "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"},
    };
    for (auto& [stmt, sql] : all) {
      if (!sqlite::prepare(db_.get(), sql, *stmt)) return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  std::optional<std::string> append_usage(std::span<const UsageRecord> rows) override {
    std::lock_guard lock(mu_);
    {
      Use b(begin_);
      if (sqlite3_step(b) != SQLITE_DONE) return failure("starting a transaction");
    }
    for (const auto& r : rows) {
      Use ins(insert_);
      bind_text(ins, 1, r.request_id);
      sqlite3_bind_int64(ins, 2, r.request_time_ms);
      bind_text(ins, 3, r.requester);
      bind_text(ins, 4, r.key_name);
      bind_text(ins, 5, r.user);
      bind_text(ins, 6, r.project);
      bind_text(ins, 7, r.end_user);
      bind_text(ins, 8, r.usage_project);
      bind_text(ins, 9, r.model);
      bind_text(ins, 10, r.served_model);
      bind_text(ins, 11, r.provider);
      sqlite3_bind_int64(ins, 12, r.input_tokens);
      sqlite3_bind_int64(ins, 13, r.cached_input_tokens);
      sqlite3_bind_int64(ins, 14, r.output_tokens);
      sqlite3_bind_int(ins, 15, r.usage_estimated ? 1 : 0);
      sqlite3_bind_double(ins, 16, r.cost_usd);
      sqlite3_bind_int(ins, 17, r.status_code);
      sqlite3_bind_double(ins, 18, r.duration_ms);
      sqlite3_bind_int(ins, 19, r.streaming ? 1 : 0);
      bind_text(ins, 20, r.error_code);
      sqlite3_bind_int(ins, 21, r.attempts);
      if (sqlite3_step(ins) != SQLITE_DONE) {
        std::string e = failure("inserting a usage row");
        Use rb(rollback_);
        sqlite3_step(rb);
        return e;
      }
    }
    Use c(commit_);
    if (sqlite3_step(c) != SQLITE_DONE) {
      std::string e = failure("committing usage rows");
      if (!sqlite3_get_autocommit(db_.get())) {
        Use rb(rollback_);
        sqlite3_step(rb);
      }
      return e;
    }
    return std::nullopt;
  }

  std::variant<std::vector<UsageSummary>, std::string> summarize_usage(UsageGroup by,
                                                                       std::int64_t since_ms) override {
    const std::string col = group_column(by);
    const std::string sql = "SELECT " + col +
                            ", count(*), sum(status_code >= 400), sum(input_token_count), "
                            "sum(output_token_count), sum(cost_usd) FROM usage WHERE request_time >= ?1 "
                            "GROUP BY " + col + " ORDER BY sum(cost_usd) DESC, count(*) DESC, " + col;
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql.c_str(), s)) return failure("preparing the summary");
    sqlite3_bind_int64(s.get(), 1, since_ms);
    std::vector<UsageSummary> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      UsageSummary row;
      row.group = column_text(s.get(), 0);
      row.requests = sqlite3_column_int64(s.get(), 1);
      row.errors = sqlite3_column_int64(s.get(), 2);
      row.input_tokens = sqlite3_column_int64(s.get(), 3);
      row.output_tokens = sqlite3_column_int64(s.get(), 4);
      row.cost_usd = sqlite3_column_double(s.get(), 5);
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return failure("reading the summary");
    return out;
  }

  std::variant<std::map<std::string, double>, std::string> spend_since(UsageGroup by,
                                                                       std::int64_t since_ms) override {
    const std::string col = group_column(by);
    const std::string sql = "SELECT " + col + ", sum(cost_usd) FROM usage WHERE request_time >= ?1 AND " +
                            col + " <> '' GROUP BY " + col;
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql.c_str(), s)) return failure("preparing the spend query");
    sqlite3_bind_int64(s.get(), 1, since_ms);
    std::map<std::string, double> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      out[column_text(s.get(), 0)] = sqlite3_column_double(s.get(), 1);
    }
    if (rc != SQLITE_DONE) return failure("reading spend");
    return out;
  }

 private:
  std::string failure(const std::string& doing) const {
    return what_ + ": " + doing + ": " + sqlite3_errmsg(db_.get());
  }

  std::mutex mu_;
  const std::string what_;
  Db db_;
  Stmt begin_, commit_, rollback_, insert_;
};

}  // namespace

std::variant<std::unique_ptr<RecordStore>, std::string> open_sqlite_records(const std::string& path) {
  if (path.empty()) return std::string("record store: no file named (store.sqlite is empty)");
  const std::string what = "record store " + path;
  auto opened = sqlite::open(path, what, "NORMAL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  if (auto e = sqlite::migrate(db.get(), what, kSchemaVersionName, kMigrations)) return *e;
  auto store = std::make_unique<SqliteRecordStore>(path, std::move(db));
  if (auto e = store->prepare()) return *e;
  return std::unique_ptr<RecordStore>(std::move(store));
}

}  // namespace gatehouse::store
