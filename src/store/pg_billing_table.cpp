// Imported costs in PostgreSQL (store/billing_table.h): every replica reads the same imports, and
// the daily import's claim is one conditional UPDATE, so only one replica runs it.
#include "store/billing_table.h"
#include "store/pg_db.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

using pg::num;

class PgBillingTable final : public BillingTable {
 public:
  explicit PgBillingTable(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::optional<std::string> replace_days(const std::string& from_day, const std::string& to_day,
                                          std::span<const DbuRow> rows, const ImportRun& run) override {
    return c_->call([&]() -> std::optional<std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting the import's transaction");
      if (auto e = c_->run("DELETE FROM billing_dbu WHERE day >= $1 AND day <= $2", {from_day, to_day},
                           "deleting the days " + from_day + ".." + to_day)) {
        return e;
      }
      for (const auto& r : rows) {
        pg::Param cost = r.cost_usd ? pg::Param(num(*r.cost_usd)) : pg::Param();
        if (auto e = c_->run("INSERT INTO billing_dbu (day, project, dbus, cost_usd, currency, imported_at) "
                             "VALUES ($1, $2, $3, $4, $5, $6)",
                             {r.day, r.project, num(r.dbus), cost, r.currency, num(r.imported_at)},
                             "storing " + r.day + " '" + r.project + "'")) {
          return e;
        }
      }
      if (auto e = set_run(run)) return e;
      return tx.commit();
    });
  }

  std::optional<std::string> record_failure(const ImportRun& run) override {
    return c_->call([&] { return set_run(run); });
  }

  std::variant<std::vector<DbuRow>, std::string> dbu(const std::string& from_day, const std::string& to_day) override {
    return c_->rows<DbuRow>(
        "SELECT day, project, dbus, cost_usd, currency, imported_at FROM billing_dbu "
        "WHERE day >= $1 AND day <= $2 ORDER BY day, project",
        {from_day, to_day}, "reading the imported costs", [](const PGresult* q, int i) {
          DbuRow r;
          r.day = pg::text(q, i, 0);
          r.project = pg::text(q, i, 1);
          r.dbus = pg::f64(q, i, 2);
          if (!pg::is_null(q, i, 3)) r.cost_usd = pg::f64(q, i, 3);
          r.currency = pg::text(q, i, 4);
          r.imported_at = pg::i64(q, i, 5);
          return r;
        });
  }

  std::variant<std::optional<ImportRun>, std::string> last_run() override {
    auto rows = c_->rows<ImportRun>(
        "SELECT run_at, ok, row_count, error, from_day, to_day FROM billing_import WHERE id = 1", {},
        "reading the last import", [](const PGresult* q, int i) {
          ImportRun r;
          r.at = pg::i64(q, i, 0);
          r.ok = pg::i64(q, i, 1) != 0;
          r.rows = pg::i64(q, i, 2);
          r.error = pg::text(q, i, 3);
          r.from_day = pg::text(q, i, 4);
          r.to_day = pg::text(q, i, 5);
          return r;
        });
    if (auto* e = std::get_if<std::string>(&rows)) return *e;
    auto& all = std::get<std::vector<ImportRun>>(rows);
    if (all.empty() || all.front().at == 0) return std::optional<ImportRun>();
    return std::optional<ImportRun>(std::move(all.front()));
  }

  std::variant<bool, std::string> claim(std::int64_t now, std::int64_t since, std::int64_t stale_before) override {
    auto n = c_->change(
        "UPDATE billing_import SET claimed_at = $1 WHERE id = 1 AND NOT (ok = 1 AND run_at >= $2) "
        "AND claimed_at < $3",
        {num(now), num(since), num(stale_before)}, "claiming the daily import");
    if (auto* e = std::get_if<std::string>(&n)) return *e;
    return std::get<std::int64_t>(n) > 0;
  }

  std::variant<std::vector<ModelCostRow>, std::string> model_cost(std::int64_t from_ms, std::int64_t to_ms) override {
    return c_->rows<ModelCostRow>(
        "SELECT request_time / 86400000 AS d, project, sum(cost_usd) FROM usage "
        "WHERE request_time >= $1 AND request_time < $2 GROUP BY d, project ORDER BY d, project",
        {num(from_ms), num(to_ms)}, "summing model spend per day and project", [](const PGresult* q, int i) {
          ModelCostRow r;
          r.day = day_of(pg::i64(q, i, 0));
          r.project = pg::text(q, i, 1);
          r.cost_usd = pg::f64(q, i, 2);
          return r;
        });
  }

 private:
  // Inside call().
  std::optional<std::string> set_run(const ImportRun& run) {
    return c_->run(
        "UPDATE billing_import SET run_at = $1, ok = $2, row_count = $3, error = $4, from_day = $5, to_day = $6 "
        "WHERE id = 1",
        {num(run.at), num(std::int64_t(run.ok ? 1 : 0)), num(run.rows), run.error, run.from_day, run.to_day},
        "recording the import");
  }

  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

std::variant<std::unique_ptr<BillingTable>, std::string> open_postgres_billing(const std::string& url) {
  // The usage table model spend is read from is the records' family: created first.
  {
    auto records = pg::open(url, "billing store " + config::redact_url_password(url), schema::kRecords);
    if (auto* e = std::get_if<std::string>(&records)) return *e;
  }
  return pg::open_as<BillingTable, PgBillingTable>(url, "billing store", schema::kBilling);
}

}  // namespace gatehouse::store
