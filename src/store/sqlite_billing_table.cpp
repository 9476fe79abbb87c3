// Imported costs in the SQLite store (store/billing_table.h). One connection under a lock; an
// import's replace is one BEGIN IMMEDIATE transaction.
#include <sqlite3.h>

#include <mutex>
#include <utility>

#include "store/billing_table.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

class SqliteBillingTable final : public BillingTable {
 public:
  SqliteBillingTable(std::string what, Db db) : what_(std::move(what)), db_(std::move(db)) {}

  std::optional<std::string> prepare() {
    for (auto [stmt, sql] : {
             std::pair{&begin_, "BEGIN IMMEDIATE"},
             std::pair{&commit_, "COMMIT"},
             std::pair{&rollback_, "ROLLBACK"},
             std::pair{&delete_days_, "DELETE FROM billing_dbu WHERE day >= ?1 AND day <= ?2"},
             std::pair{&insert_,
                       "INSERT INTO billing_dbu (day, project, dbus, cost_usd, currency, imported_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
             std::pair{&set_run_,
                       "UPDATE billing_import SET run_at = ?1, ok = ?2, row_count = ?3, error = ?4, from_day = ?5, "
                       "to_day = ?6 WHERE id = 1"},
             std::pair{&select_,
                       "SELECT day, project, dbus, cost_usd, currency, imported_at FROM billing_dbu "
                       "WHERE day >= ?1 AND day <= ?2 ORDER BY day, project"},
             std::pair{&last_run_,
                       "SELECT run_at, ok, row_count, error, from_day, to_day FROM billing_import WHERE id = 1"},
             std::pair{&claim_,
                       "UPDATE billing_import SET claimed_at = ?1 WHERE id = 1 AND NOT (ok = 1 AND run_at >= ?2) "
                       "AND claimed_at < ?3"},
             std::pair{&model_cost_,
                       "SELECT request_time / 86400000 AS d, project, sum(cost_usd) FROM usage "
                       "WHERE request_time >= ?1 AND request_time < ?2 GROUP BY d, project ORDER BY d, project"},
         }) {
      if (!sqlite::prepare(db_.get(), sql, *stmt)) return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  std::optional<std::string> replace_days(const std::string& from_day, const std::string& to_day,
                                          std::span<const DbuRow> rows, const ImportRun& run) override {
    std::lock_guard lock(mu_);
    if (!step(begin_)) return failure("starting the import's transaction");
    auto fail = [&](const std::string& doing) {
      std::string e = failure(doing);
      step(rollback_);
      return e;
    };
    {
      Use s(delete_days_);
      bind_text(s, 1, from_day);
      bind_text(s, 2, to_day);
      if (sqlite3_step(s) != SQLITE_DONE) return fail("deleting the days " + from_day + ".." + to_day);
    }
    for (const auto& r : rows) {
      Use s(insert_);
      bind_text(s, 1, r.day);
      bind_text(s, 2, r.project);
      sqlite3_bind_double(s, 3, r.dbus);
      if (r.cost_usd) {
        sqlite3_bind_double(s, 4, *r.cost_usd);
      } else {
        sqlite3_bind_null(s, 4);
      }
      bind_text(s, 5, r.currency);
      sqlite3_bind_int64(s, 6, r.imported_at);
      if (sqlite3_step(s) != SQLITE_DONE) return fail("storing " + r.day + " '" + r.project + "'");
    }
    if (auto e = set_run(run)) {
      step(rollback_);
      return e;
    }
    if (!step(commit_)) return fail("committing the import");
    return std::nullopt;
  }

  std::optional<std::string> record_failure(const ImportRun& run) override {
    std::lock_guard lock(mu_);
    return set_run(run);
  }

  std::variant<std::vector<DbuRow>, std::string> dbu(const std::string& from_day, const std::string& to_day) override {
    std::lock_guard lock(mu_);
    Use s(select_);
    bind_text(s, 1, from_day);
    bind_text(s, 2, to_day);
    std::vector<DbuRow> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      DbuRow r;
      r.day = column_text(s, 0);
      r.project = column_text(s, 1);
      r.dbus = sqlite3_column_double(s, 2);
      if (sqlite3_column_type(s, 3) != SQLITE_NULL) r.cost_usd = sqlite3_column_double(s, 3);
      r.currency = column_text(s, 4);
      r.imported_at = sqlite3_column_int64(s, 5);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return failure("reading the imported costs");
    return out;
  }

  std::variant<std::optional<ImportRun>, std::string> last_run() override {
    std::lock_guard lock(mu_);
    Use s(last_run_);
    if (sqlite3_step(s) != SQLITE_ROW) return failure("reading the last import");
    ImportRun r;
    r.at = sqlite3_column_int64(s, 0);
    if (r.at == 0) return std::optional<ImportRun>();
    r.ok = sqlite3_column_int64(s, 1) != 0;
    r.rows = sqlite3_column_int64(s, 2);
    r.error = column_text(s, 3);
    r.from_day = column_text(s, 4);
    r.to_day = column_text(s, 5);
    return std::optional<ImportRun>(std::move(r));
  }

  std::variant<bool, std::string> claim(std::int64_t now, std::int64_t since, std::int64_t stale_before) override {
    std::lock_guard lock(mu_);
    Use s(claim_);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int64(s, 3, stale_before);
    if (sqlite3_step(s) != SQLITE_DONE) return failure("claiming the daily import");
    return sqlite3_changes(db_.get()) > 0;
  }

  std::variant<std::vector<ModelCostRow>, std::string> model_cost(std::int64_t from_ms, std::int64_t to_ms) override {
    std::lock_guard lock(mu_);
    Use s(model_cost_);
    sqlite3_bind_int64(s, 1, from_ms);
    sqlite3_bind_int64(s, 2, to_ms);
    std::vector<ModelCostRow> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      ModelCostRow r;
      r.day = day_of(sqlite3_column_int64(s, 0));
      r.project = column_text(s, 1);
      r.cost_usd = sqlite3_column_double(s, 2);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return failure("summing model spend per day and project");
    return out;
  }

 private:
  bool step(const Stmt& stmt) {
    Use u(stmt);
    return sqlite3_step(u) == SQLITE_DONE;
  }

  std::optional<std::string> set_run(const ImportRun& run) {
    Use s(set_run_);
    sqlite3_bind_int64(s, 1, run.at);
    sqlite3_bind_int(s, 2, run.ok ? 1 : 0);
    sqlite3_bind_int64(s, 3, run.rows);
    bind_text(s, 4, run.error);
    bind_text(s, 5, run.from_day);
    bind_text(s, 6, run.to_day);
    if (sqlite3_step(s) != SQLITE_DONE) return failure("recording the import");
    return std::nullopt;
  }

  std::string failure(const std::string& doing) const { return what_ + ": " + doing + ": " + sqlite3_errmsg(db_.get()); }

  const std::string what_;
  Db db_;
  std::mutex mu_;
  Stmt begin_, commit_, rollback_, delete_days_, insert_, set_run_, select_, last_run_, claim_, model_cost_;
};

}  // namespace

std::variant<std::unique_ptr<BillingTable>, std::string> open_sqlite_billing(const std::string& path) {
  const std::string what = "billing store " + path;
  if (path.empty()) return what + ": no file named (store.sqlite is empty)";
  auto opened = sqlite::open(path, what, "FULL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  // The usage table model spend is read from is the records' family: opened (and so created) first.
  if (auto e = sqlite::migrate(db.get(), what, schema::kRecords.version_name, schema::kRecords.steps)) return *e;
  if (auto e = sqlite::migrate(db.get(), what, schema::kBilling.version_name, schema::kBilling.steps)) return *e;
  auto table = std::make_unique<SqliteBillingTable>(what, std::move(db));
  if (auto e = table->prepare()) return *e;
  return std::unique_ptr<BillingTable>(std::move(table));
}

}  // namespace gatehouse::store
