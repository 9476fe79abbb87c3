// Records of what passed through the gateway, kept in the store: the usage table (one row per
// model request: who, which model and target, tokens, cost, status, duration), the inference log,
// the audit chain and the MCP tool calls. Written in batches by record::RecordWriter, read by
// `gatehouse usage`, `gatehouse logs` and, at start, by the budget ledger.
// Plain blocking calls, errors as values; a PostgreSQL store will implement the same interface.
#pragma once

#include <cstdint>
#include <climits>
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
  // Of duration_ms, the time spent waiting for providers (the gateway's overhead is the rest);
  // -1: not measured (rows written before the column existed).
  double upstream_duration_ms = -1;
  bool streaming = false;
  std::string error_code;
  int attempts = 0;                  // upstream attempts (retries and fallbacks included)
};

// One request of a model the inference log covers (records.inference_log), modelled on
// Databricks' inference tables. Never holds a credential: bodies are what the client sent and got.
struct InferenceRecord {
  std::string request_id;
  std::int64_t request_time_ms = 0;
  std::string requester, key_name, user, project;
  std::string model, served_model, provider;
  int status_code = 0;
  double execution_duration_ms = 0;   // arrival to end
  double upstream_duration_ms = 0;    // waiting for providers
  double time_to_first_token_ms = -1; // streams: arrival to the first event relayed; -1: none
  std::int64_t input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  bool streaming = false;
  std::string error_code;
  std::string request_body;           // empty when payloads are off
  std::string response_body;          // a stream reassembled into one answer (see writer)
  bool payload_truncated = false;     // a body was cut at max_payload_bytes
  std::string decisions;              // JSON: limits, budget, attempts (targets and outcomes)
};

// One entry of the audit chain: an admin action (keys, kill switch), a configuration reload, a
// denied request. `hash` = SHA-256 of the previous row's hash and this row's content, so an edit,
// a deletion or a reordering breaks the chain (`gatehouse audit verify`).
struct AuditRecord {
  std::int64_t time_ms = 0;
  std::string kind;        // "kill.add", "kill.lift", "key.create", "key.revoke", "config.reload",
                           // "config.reload_refused", "request.denied"
  std::string actor;       // who: "key 'ops1'", "user 'alice'", "cli", "signal"
  std::string subject;     // what: "model chat-small", "key ci-bot", the config path
  std::string detail;      // JSON object with the rest
  std::string request_id;  // when a request caused it
};

struct AuditVerdict {
  bool intact = true;
  std::int64_t rows = 0;
  std::int64_t first_bad_id = 0;  // the first row that was edited, deleted or moved
  std::string problem;            // what is wrong there
};

// One MCP tool call (table mcp_calls): what the store keeps of mcp::ToolCallRecord. Written for
// every tools/call the gateway answered, whatever its outcome.
struct McpCallRecord {
  std::string request_id;
  std::int64_t time_ms = 0;         // when the call arrived (unix ms)
  std::string requester, key_name, user, project;
  std::string endpoint;             // the /mcp/{name} route the client used
  std::string server, tool;         // the upstream server and the tool's own name there
  std::string outcome;              // ok, tool_error, denied, ... (mcp/call_record.h)
  std::string error;                // a message for outcomes other than ok
  double duration_ms = 0;
  std::string arguments, result;    // JSON text; empty when payloads are not kept
  bool payload_truncated = false;   // arguments or result cut at max_payload_bytes, or dropped
                                    // while the record queue was full (record/writer.h)
  std::string guardrails;           // what guardrails did ("pii/EMAIL_ADDRESS:mask:input ...")
  std::string approval_id;
  std::string trace_id;             // 32 hex digits: the trace the call's span is in ("" none)
};

// What the writer commits in one transaction.
struct RecordBatch {
  std::vector<UsageRecord> usage;
  std::vector<InferenceRecord> inference;
  std::vector<AuditRecord> audit;
  std::vector<McpCallRecord> mcp_calls;
  bool empty() const { return usage.empty() && inference.empty() && audit.empty() && mcp_calls.empty(); }
  std::size_t size() const { return usage.size() + inference.size() + audit.size() + mcp_calls.size(); }
};

// A row of the inference log as read back (`gatehouse logs`).
struct InferenceRow : InferenceRecord {
  std::int64_t id = 0;
};

// An MCP tool call as read back (`gatehouse logs --mcp`).
struct McpCallRow : McpCallRecord {
  std::int64_t id = 0;
};

// Which tool calls to read: those since `since_ms`, newest first, at most `limit`; each non-empty
// string must equal the row's.
struct McpCallQuery {
  std::int64_t since_ms = 0;
  std::size_t limit = 20;
  std::string server, tool, requester, request_id, outcome;
};

enum class UsageGroup { kProject, kKey, kUser, kModel, kEndUser };

struct UsageSummary {
  std::string group;  // the project, key, user or model ("" when the row has none)
  std::int64_t requests = 0;
  std::int64_t errors = 0;  // status >= 400
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
};

// --- What the admin API reads (store/record_reads.cpp: one implementation over both engines) ---

// Totals of some usage rows.
struct UsageFigures {
  std::int64_t requests = 0;
  std::int64_t errors = 0;  // status >= 400
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
};

// One bucket of a series. The percentiles come from the bucket's histograms (usage_rollup.h's
// bins); nullopt when no request in the bucket has that figure (group points never have them).
struct UsagePoint : UsageFigures {
  std::int64_t t_ms = 0;  // the bucket's start
  std::optional<double> p50_ms, p99_ms, overhead_p50_ms, overhead_p99_ms;
};

// Usage per bucket over [from_ms, to_ms). `bucket_ms` is a multiple of a minute and from_ms and
// to_ms multiples of it (the caller aligns them); `by` (model, project or key: users and end
// users have no minute rollups): also the busiest `max_groups` groups (most requests over the
// range), the rest summed as "(other)".
struct UsageSeriesQuery {
  std::int64_t from_ms = 0, to_ms = 0, bucket_ms = 60'000;
  std::optional<UsageGroup> by;
  std::size_t max_groups = 8;
};
struct UsageGroupSeries {
  std::string group;
  std::vector<UsagePoint> points;  // empty buckets omitted
};
struct UsageSeries {
  std::vector<UsagePoint> totals;  // empty buckets omitted
  std::vector<UsageGroupSeries> groups;  // busiest first, "(other)" last
};

// Totals per group over [from_ms, to_ms) (any milliseconds), most expensive first (then by name),
// at most `limit`, after the row (cost, group) `after` when given (keyset pagination).
struct UsageGroupsQuery {
  UsageGroup by = UsageGroup::kProject;
  std::int64_t from_ms = 0, to_ms = 0;
  std::size_t limit = 100;
  std::optional<std::pair<double, std::string>> after;
};
struct UsageGroupsPage {
  std::vector<UsageSummary> rows;
  bool has_more = false;
};

// A keyset position in a list ordered newest first: rows strictly before (time_ms, id).
struct RowCursor {
  std::int64_t time_ms = 0;
  std::int64_t id = 0;
};

// Inference log rows in [from_ms, to_ms), newest first (time, then id), without bodies; every
// non-empty filter must match. status_class 2, 4 or 5 (0: any); status_code exact (0: any).
struct InferencePageQuery {
  std::int64_t from_ms = 0, to_ms = INT64_MAX;
  std::string model, key_name;
  int status_class = 0;
  int status_code = 0;
  std::size_t limit = 50;
  std::optional<RowCursor> before;
};
struct InferencePage {
  std::vector<InferenceRow> rows;  // request_body and response_body empty
  bool has_more = false;
};

// MCP tool calls in [from_ms, to_ms), newest first; every non-empty filter must match.
struct McpCallPageQuery {
  std::int64_t from_ms = 0, to_ms = INT64_MAX;
  std::string server, tool, outcome;
  std::size_t limit = 50;
  std::optional<RowCursor> before;
};
struct McpCallPage {
  std::vector<McpCallRow> rows;  // arguments and result empty
  bool has_more = false;
};

// Audit rows, newest first (by id), `kind` empty: every kind.
struct AuditPageQuery {
  std::string kind;
  std::size_t limit = 50;
  std::int64_t before_id = 0;  // 0: from the newest
};
struct AuditRow : AuditRecord {
  std::int64_t id = 0;
  std::string prev_hash, hash;
};
struct AuditPage {
  std::vector<AuditRow> rows;
  bool has_more = false;
};

class RecordStore {
 public:
  virtual ~RecordStore() = default;
  // Writes every row of `batch` in one transaction (audit rows chained to the last one in the
  // store, whoever wrote it); an error message when nothing was written.
  virtual std::optional<std::string> write(const RecordBatch& batch) = 0;
  // The same, for usage rows only.
  std::optional<std::string> append_usage(std::span<const UsageRecord> rows) {
    RecordBatch b;
    b.usage.assign(rows.begin(), rows.end());
    return write(b);
  }
  // Totals per group for requests since `since_ms`, most expensive first.
  virtual std::variant<std::vector<UsageSummary>, std::string> summarize_usage(UsageGroup by,
                                                                               std::int64_t since_ms) = 0;
  // Cost per key (by = kKey) or project (kProject) of requests since `since_ms`.
  virtual std::variant<std::map<std::string, double>, std::string> spend_since(UsageGroup by,
                                                                               std::int64_t since_ms) = 0;

  // Inference log rows since `since_ms`, newest first, at most `limit`; `model` empty: every model.
  virtual std::variant<std::vector<InferenceRow>, std::string> inference(const std::string& model,
                                                                        std::int64_t since_ms,
                                                                        std::size_t limit) = 0;
  // Deletes inference log rows older than `before_ms`; how many. (Never audit rows.)
  virtual std::variant<std::int64_t, std::string> expire_inference(std::int64_t before_ms) = 0;

  // MCP tool calls matching `q`, newest first.
  virtual std::variant<std::vector<McpCallRow>, std::string> mcp_calls(const McpCallQuery& q) = 0;
  // Deletes MCP tool call rows older than `before_ms`; how many.
  virtual std::variant<std::int64_t, std::string> expire_mcp_calls(std::int64_t before_ms) = 0;

  // Checks the whole audit chain.
  virtual std::variant<AuditVerdict, std::string> verify_audit() = 0;

  // The admin API's reads. Each is bounded (limits are the caller's; a series has at most
  // (to - from) / bucket points per group) and served by the rollup tables and indexes of schema
  // step 6, so its cost does not grow with the number of usage rows in the range.
  // (Both engines implement them; the defaults are for test doubles.)
  virtual std::variant<UsageSeries, std::string> usage_series(const UsageSeriesQuery&) { return unsupported(); }
  virtual std::variant<UsageGroupsPage, std::string> usage_groups(const UsageGroupsQuery&) { return unsupported(); }
  virtual std::variant<InferencePage, std::string> inference_page(const InferencePageQuery&) { return unsupported(); }
  // The newest inference log row of `request_id`, bodies included; nullopt when there is none.
  virtual std::variant<std::optional<InferenceRow>, std::string> inference_row(const std::string&) {
    return unsupported();
  }
  virtual std::variant<McpCallPage, std::string> mcp_call_page(const McpCallPageQuery&) { return unsupported(); }
  virtual std::variant<AuditPage, std::string> audit_page(const AuditPageQuery&) { return unsupported(); }

 private:
  static std::string unsupported() { return "this record store has no admin reads"; }
};

// The records in the SQLite file at `path` (the same file as the key store): tables created or
// upgraded on open, WAL, synchronous=NORMAL (a crash loses at most the last batch, never the
// file's consistency).
std::variant<std::unique_ptr<RecordStore>, std::string> open_sqlite_records(const std::string& path);

}  // namespace gatehouse::store
