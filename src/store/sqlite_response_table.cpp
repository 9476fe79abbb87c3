// The Responses API's stored responses in the SQLite store (store/response_table.h). One
// connection; each call is one statement (its own transaction), under a lock.
#include <sqlite3.h>

#include <mutex>
#include <utility>

#include "store/response_table.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

class SqliteResponseTable final : public ResponseTable {
 public:
  SqliteResponseTable(std::string what, Db db) : what_(std::move(what)), db_(std::move(db)) {}

  std::optional<std::string> prepare() {
    for (auto [stmt, sql] : {
             std::pair{&put_,
                       "INSERT INTO responses (id, owner, created_ms, expires_ms, model, "
                       "previous_response_id, input_items, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                       "ON CONFLICT (id) DO NOTHING"},
             std::pair{&get_,
                       "SELECT id, owner, created_ms, expires_ms, model, previous_response_id, input_items, "
                       "response FROM responses WHERE id = ?1 AND expires_ms >= ?2"},
             std::pair{&remove_, "DELETE FROM responses WHERE id = ?1"},
             std::pair{&expire_, "DELETE FROM responses WHERE expires_ms < ?1"},
         }) {
      if (!sqlite::prepare(db_.get(), sql, *stmt)) return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  std::optional<std::string> put(const ResponseRow& row) override {
    std::lock_guard lock(mu_);
    Use s(put_);
    bind_text(s, 1, row.id);
    bind_text(s, 2, row.owner);
    sqlite3_bind_int64(s, 3, row.created_ms);
    sqlite3_bind_int64(s, 4, row.expires_ms);
    bind_text(s, 5, row.model);
    bind_text(s, 6, row.previous_response_id);
    bind_text(s, 7, row.input_items);
    bind_text(s, 8, row.response);
    if (sqlite3_step(s) != SQLITE_DONE) return failure("storing response " + row.id);
    if (sqlite3_changes(db_.get()) == 0) return what_ + ": response " + row.id + " is stored already (kept as it was)";
    return std::nullopt;
  }

  std::variant<std::optional<ResponseRow>, std::string> get(const std::string& id, std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    Use s(get_);
    bind_text(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::optional<ResponseRow>();
    if (rc != SQLITE_ROW) return failure("reading response " + id);
    ResponseRow r;
    r.id = column_text(s, 0);
    r.owner = column_text(s, 1);
    r.created_ms = sqlite3_column_int64(s, 2);
    r.expires_ms = sqlite3_column_int64(s, 3);
    r.model = column_text(s, 4);
    r.previous_response_id = column_text(s, 5);
    r.input_items = column_text(s, 6);
    r.response = column_text(s, 7);
    return std::optional<ResponseRow>(std::move(r));
  }

  std::variant<bool, std::string> remove(const std::string& id) override {
    std::lock_guard lock(mu_);
    Use s(remove_);
    bind_text(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE) return failure("deleting response " + id);
    return sqlite3_changes(db_.get()) > 0;
  }

  std::variant<std::int64_t, std::string> expire(std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    Use s(expire_);
    sqlite3_bind_int64(s, 1, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE) return failure("deleting expired responses");
    return std::int64_t(sqlite3_changes(db_.get()));
  }

 private:
  std::string failure(const std::string& doing) const { return what_ + ": " + doing + ": " + sqlite3_errmsg(db_.get()); }

  const std::string what_;
  Db db_;
  std::mutex mu_;
  Stmt put_, get_, remove_, expire_;
};

}  // namespace

std::variant<std::unique_ptr<ResponseTable>, std::string> open_sqlite_responses(const std::string& path) {
  const std::string what = "response store " + path;
  if (path.empty()) return what + ": no file named (store.sqlite is empty)";
  auto opened = sqlite::open(path, what, "NORMAL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  if (auto e = sqlite::migrate(db.get(), what, schema::kResponses.version_name, schema::kResponses.steps)) return *e;
  auto table = std::make_unique<SqliteResponseTable>(what, std::move(db));
  if (auto e = table->prepare()) return *e;
  return std::unique_ptr<ResponseTable>(std::move(table));
}

}  // namespace gatehouse::store
