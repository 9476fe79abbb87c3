// The Databricks SQL Statement Execution API as the billing import speaks it: the one
// parameterized query, the request that submits it, and the answers parsed (pure functions, no
// I/O; billing/import.cpp does the calls).
//
//   POST /api/2.0/sql/statements                          submit (waits up to wait_timeout)
//   GET  /api/2.0/sql/statements/{id}                     poll while PENDING or RUNNING
//   GET  /api/2.0/sql/statements/{id}/result/chunks/{n}   the result's next chunks
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "store/billing_table.h"

namespace gatehouse::billing {

inline constexpr std::string_view kStatementsPath = "/api/2.0/sql/statements";

// DBUs and their list-price cost per usage day and value of the custom tag :tag, for the days
// :from_day..:to_day (parameters, never spliced). Usage matched to the list price of its SKU, cloud
// and unit in force when the usage started; a group with any usage that has no such price gets a
// NULL cost (not measured) instead of a partial sum.
extern const char* const kDbuQuery;

// The POST body: the query with its parameters, results inline as JSON arrays; the call waits up
// to 10 s, then the statement goes on and is polled.
std::string statement_body(const config::DatabricksBillingConfig& cfg, const std::string& from_day,
                           const std::string& to_day);

using Cell = std::optional<std::string>;  // JSON_ARRAY values are strings, or null
using Rows = std::vector<std::vector<Cell>>;

// A result chunk (the API's ResultData): its rows and where the next one is.
struct Chunk {
  Rows rows;
  std::optional<std::int64_t> next_chunk_index;
  std::string next_chunk_internal_link;  // a path on the workspace host, or ""
};

enum class State { kPending, kRunning, kSucceeded, kFailed, kCanceled, kClosed };

// A statement's answer to a submit or a poll.
struct StatementAnswer {
  std::string statement_id;
  State state = State::kPending;
  std::string state_name;            // as sent ("SUCCEEDED")
  std::string error;                 // status.error as "ERROR_CODE: message" (FAILED)
  std::vector<std::string> columns;  // manifest.schema.columns[].name (SUCCEEDED)
  std::int64_t total_chunk_count = 0;
  std::optional<Chunk> result;       // the first chunk, inline (SUCCEEDED)
};

// A submit's or poll's answer (HTTP 200 body), or what is wrong with it.
std::variant<StatementAnswer, std::string> parse_statement(std::string_view body);
// A chunk's answer (HTTP 200 body of .../result/chunks/{n}), or what is wrong with it.
std::variant<Chunk, std::string> parse_chunk(std::string_view body);
// An API error body ({"error_code", "message"}) as "ERROR_CODE: message"; "" when it is not one.
std::string api_error(std::string_view body);
// Whether `id` can go into a path (statement ids are UUIDs).
bool plain_id(std::string_view id);

// The query's rows (columns named by `columns`) as the rows to store, each for a day within
// from_day..to_day; an error for a row that is not what the query returns (a missing column, a
// day outside the range, a number that is not one, prices not in USD).
std::variant<std::vector<store::DbuRow>, std::string> dbu_rows(const std::vector<std::string>& columns,
                                                              const Rows& rows, const std::string& from_day,
                                                              const std::string& to_day, std::int64_t imported_at);

}  // namespace gatehouse::billing
