// Records of what passed through the gateway, kept in the store: today the usage table (one row
// per model request: who, which model and target, tokens, cost, status, duration). Written in
// batches by record::RecordWriter, read by `gatehouse usage` and, at start, by the budget ledger.
// Plain blocking calls, errors as values; a PostgreSQL store will implement the same interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace gatehouse::store {

// One model request. Column names follow Databricks' usage and inference tables where they
// mean the same (docs/limits.md has the schema).
struct UsageRecord {
  std::string request_id;
  std::int64_t request_time_ms = 0;  // when the request arrived (unix ms)
  std::string requester;             // the key's name, or the JWT's user
  std::string key_name;
  std::string user;
  std::string project;
  std::string end_user;              // usage_context.end_user from the body
  std::string usage_project;         // usage_context.project from the body
  std::string model;                 // as the client named it
  std::string served_model;          // the configured model that answered (a route's target)
  std::string provider;
  std::int64_t input_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  std::int64_t output_tokens = 0;
  bool usage_estimated = false;      // the provider reported no usage: the gateway's estimate
  double cost_usd = 0;
  int status_code = 0;
  double duration_ms = 0;
  bool streaming = false;
  std::string error_code;
  int attempts = 0;                  // upstream attempts (retries and fallbacks included)
};

enum class UsageGroup { kProject, kKey, kUser, kModel };

struct UsageSummary {
  std::string group;  // the project, key, user or model ("" when the row has none)
  std::int64_t requests = 0;
  std::int64_t errors = 0;  // status >= 400
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
};

class RecordStore {
 public:
  virtual ~RecordStore() = default;
  // Appends the rows in one transaction; an error message when nothing was written.
  virtual std::optional<std::string> append_usage(std::span<const UsageRecord> rows) = 0;
  // Totals per group for requests since `since_ms`, most expensive first.
  virtual std::variant<std::vector<UsageSummary>, std::string> summarize_usage(UsageGroup by,
                                                                               std::int64_t since_ms) = 0;
  // Cost per key (by = kKey) or project (kProject) of requests since `since_ms`.
  virtual std::variant<std::map<std::string, double>, std::string> spend_since(UsageGroup by,
                                                                               std::int64_t since_ms) = 0;
};

// The records in the SQLite file at `path` (the same file as the key store): tables created or
// upgraded on open, WAL, synchronous=NORMAL (a crash loses at most the last batch, never the
// file's consistency).
std::variant<std::unique_ptr<RecordStore>, std::string> open_sqlite_records(const std::string& path);

}  // namespace gatehouse::store
