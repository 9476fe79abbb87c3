// Databricks' SQL Statement Execution API, as far as Gatehouse's billing import uses it, over a
// fake warehouse whose result rows a test sets (POST /__mock/sql):
//
//   POST /api/2.0/sql/statements                         submit: SUCCEEDED with the first chunk
//                                                        inline, or PENDING (pending_polls > 0)
//   GET  /api/2.0/sql/statements/{id}                    poll: RUNNING until the polls are used,
//                                                        then SUCCEEDED (or FAILED with `fail`)
//   GET  /api/2.0/sql/statements/{id}/result/chunks/{n}  a further chunk (chunk_rows per chunk)
//   POST /api/2.0/sql/statements/{id}/cancel             CANCELED
//
// A submit must name the configured warehouse, ask for JSON_ARRAY rows INLINE, and pass every
// value as a parameter: each :name marker of the statement needs a parameter of that name, and a
// parameter's value spliced into the statement text is refused (400 INVALID_PARAMETER_VALUE).
// Result rows whose first value is a day outside the :from_day..:to_day parameters are left out,
// as the real query's WHERE would. Errors take Databricks' shape ({"error_code", "message"}).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "reply.h"

namespace mockllm::sql {

class Warehouse {
 public:
  // POST /__mock/sql: {"warehouse_id": "...", "columns": ["day", ...], "rows": [[...], ...],
  // "pending_polls": N, "chunk_rows": N, "fail": "message" | null}. Members left out keep their
  // value; an error message for a malformed one.
  std::optional<std::string> configure(const boost::json::object& settings);
  // GET /__mock/sql: the settings and every statement submitted (its body, state and polls).
  std::string state_json() const;
  // Back to the defaults (no rows, no failure), statements forgotten.
  void reset();

  // Answers a request under /api/2.0/sql/statements.
  Reply handle(boost::beast::http::verb method, std::string_view path, std::string_view body);

 private:
  struct Statement {
    std::string id;
    boost::json::object request;
    std::string state;  // PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED
    int polls_left = 0;
    int polls = 0;
    std::vector<boost::json::array> chunks;  // the rows, cut into chunks
  };

  Reply submit(std::string_view body);
  std::string answer_json(const Statement& s) const;
  boost::json::object chunk_json(const Statement& s, std::size_t index) const;
  void settle(Statement& s);

  mutable std::mutex mu_;
  std::string warehouse_id_ = "mock-warehouse";
  boost::json::array columns_;
  boost::json::array rows_;
  int pending_polls_ = 0;
  int chunk_rows_ = 1000;
  std::optional<std::string> fail_;
  std::uint64_t next_id_ = 1;
  std::map<std::string, Statement> statements_;
  std::vector<std::string> order_;  // statement ids, oldest first
};

}  // namespace mockllm::sql
