// Costs imported from outside the gateway, kept beside the usage records (docs/billing.md):
// Databricks DBUs and their list-price cost per day and project (table billing_dbu), and the last
// import's outcome (billing_import). Written by billing/ (the daily import, `gatehouse billing
// import`, POST /admin/v1/billing/import), read by GET /admin/v1/billing beside the model spend of
// the usage table.
//
// Plain blocking calls, thread-safe, errors as values (a message naming the store); no Asio, so
// both engines implement the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace gatehouse::store {

// One project's Databricks spend on one day (UTC).
struct DbuRow {
  std::string day;                 // "YYYY-MM-DD"
  std::string project;             // the tag's value; "" for usage without the tag
  double dbus = 0;
  std::optional<double> cost_usd;  // nullopt: some of the usage had no list price (not measured)
  std::string currency = "USD";
  std::int64_t imported_at = 0;    // unix seconds
};

// An import's outcome. `at` 0: no import has run.
struct ImportRun {
  std::int64_t at = 0;  // unix seconds
  bool ok = false;
  std::int64_t rows = 0;
  std::string error;                // why it failed ("" when ok)
  std::string from_day, to_day;     // the days it covered
};

// Model spend of one project on one day (from the usage table).
struct ModelCostRow {
  std::string day;
  std::string project;
  double cost_usd = 0;
};

class BillingTable {
 public:
  virtual ~BillingTable() = default;
  // In one transaction: deletes every row of the days from_day..to_day (inclusive), inserts
  // `rows` (each within those days), and records `run` as the last import. Running it again with
  // the same rows leaves the same table (an import is idempotent). Nothing changes on error.
  virtual std::optional<std::string> replace_days(const std::string& from_day, const std::string& to_day,
                                                  std::span<const DbuRow> rows, const ImportRun& run) = 0;
  // Records a failed import as the last one (the imported rows stay as they were).
  virtual std::optional<std::string> record_failure(const ImportRun& run) = 0;
  // The rows of the days from_day..to_day, ordered by day then project.
  virtual std::variant<std::vector<DbuRow>, std::string> dbu(const std::string& from_day,
                                                             const std::string& to_day) = 0;
  // The last import; nullopt when none has run.
  virtual std::variant<std::optional<ImportRun>, std::string> last_run() = 0;
  // Takes the daily import for this caller when no import finished at or after `since` and no
  // other caller took it at or after `stale_before` (unix seconds): true when this caller should
  // run it. One conditional update: replicas sharing the store cannot both get it.
  virtual std::variant<bool, std::string> claim(std::int64_t now, std::int64_t since, std::int64_t stale_before) = 0;
  // Model spend (the usage table's cost_usd) per UTC day and project for requests in
  // [from_ms, to_ms), ordered by day then project.
  virtual std::variant<std::vector<ModelCostRow>, std::string> model_cost(std::int64_t from_ms,
                                                                          std::int64_t to_ms) = 0;
};

// "YYYY-MM-DD" of the UTC day `days` days after 1970-01-01, and back (nullopt: not such a date).
std::string day_of(std::int64_t days);
std::optional<std::int64_t> days_of(std::string_view day);

// The tables in the SQLite file at `path` (the store's file): created or upgraded on open
// (schema `billing.schema_version` in `meta`).
std::variant<std::unique_ptr<BillingTable>, std::string> open_sqlite_billing(const std::string& path);

}  // namespace gatehouse::store
