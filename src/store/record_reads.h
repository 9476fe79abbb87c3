// The admin API's reads of the record tables (RecordStore::usage_series ... audit_page), written
// once over a small query interface each engine implements, so SQLite and PostgreSQL answer with
// the same SQL and the same results. SQL uses $1, $2... parameters (SQLite binds them by name).
// Internal to gh_store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "store/record_store.h"

namespace gatehouse::store::reads {

using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// One result row; columns from 0. NULL reads as 0 / "".
class SqlRow {
 public:
  virtual ~SqlRow() = default;
  virtual std::int64_t i64(int col) const = 0;
  virtual double f64(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual bool null(int col) const = 0;
};

// Runs one query (under the store's lock; on PostgreSQL with its one reconnect) and calls `row`
// for each result row; what failed, or nullopt.
class SqlReader {
 public:
  virtual ~SqlReader() = default;
  virtual std::optional<std::string> each(const std::string& sql, const std::vector<SqlValue>& params,
                                          const std::string& doing,
                                          const std::function<void(const SqlRow&)>& row) = 0;
};

std::variant<UsageSeries, std::string> usage_series(SqlReader& db, const UsageSeriesQuery& q);
std::variant<UsageGroupsPage, std::string> usage_groups(SqlReader& db, const UsageGroupsQuery& q);
std::variant<InferencePage, std::string> inference_page(SqlReader& db, const InferencePageQuery& q);
std::variant<std::optional<InferenceRow>, std::string> inference_row(SqlReader& db, const std::string& request_id);
std::variant<McpCallPage, std::string> mcp_call_page(SqlReader& db, const McpCallPageQuery& q);
std::variant<AuditPage, std::string> audit_page(SqlReader& db, const AuditPageQuery& q);

}  // namespace gatehouse::store::reads
