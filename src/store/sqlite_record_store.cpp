// The record tables in SQLite: usage, the inference log, the audit chain, the MCP tool calls. One connection, used by
// the record writer's thread (and by the CLI); a mutex guards its statements.
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>

#include "config/config.h"

#include "store/audit_chain.h"
#include "store/record_columns.h"
#include "store/record_reads.h"
#include "store/record_store.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/usage_rollup.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

// One result row of a reads:: query.
class SqliteRow final : public reads::SqlRow {
 public:
  explicit SqliteRow(sqlite3_stmt* s) : s_(s) {}
  std::int64_t i64(int c) const override { return sqlite3_column_int64(s_, c); }
  double f64(int c) const override { return sqlite3_column_double(s_, c); }
  std::string text(int c) const override { return column_text(s_, c); }
  bool null(int c) const override { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_;
};

class SqliteRecordStore final : public RecordStore, private reads::SqlReader {
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
        {&last_audit_, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"},
        {&insert_audit_,
         "INSERT INTO audit (id, time, kind, actor, subject, detail, request_id, prev_hash, hash) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
        {&set_head_, "INSERT OR REPLACE INTO meta (name, value) VALUES ('audit.head', ?1)"},
        {&insert_inference_,
         "INSERT INTO inference_log (request_id, request_time, requester, key_name, user_name, project, "
         "model, served_model, provider, status_code, execution_duration_ms, upstream_duration_ms, "
         "time_to_first_token_ms, input_token_count, output_token_count, cost_usd, request_streaming, "
         "error_code, request, response, payload_truncated, decisions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
         "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"},
        {&insert_mcp_,
         "INSERT INTO mcp_calls (request_id, request_time, requester, key_name, user_name, project, endpoint, "
         "server, tool, outcome, error, duration_ms, arguments, result, payload_truncated, guardrails, "
         "approval_id, trace_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
         "?16, ?17, ?18)"},
        {&insert_,
         "INSERT INTO usage (request_id, request_time, requester, key_name, user_name, project, "
         "end_user, usage_project, model, served_model, provider, input_token_count, "
         "cached_input_token_count, output_token_count, usage_estimated, cost_usd, status_code, "
         "execution_duration_ms, request_streaming, error_code, attempts, upstream_duration_ms) VALUES (?1, ?2, "
         "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"},
        {&upsert_figures_, rollup::kUpsertFigures},
        {&upsert_latency_, rollup::kUpsertLatency},
    };
    for (auto& [stmt, sql] : all) {
      if (!sqlite::prepare(db_.get(), sql, *stmt)) return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  std::optional<std::string> write(const RecordBatch& batch) override {
    std::lock_guard lock(mu_);
    {
      Use b(begin_);
      if (sqlite3_step(b) != SQLITE_DONE) return failure("starting a transaction");
    }
    auto fail = [&](const std::string& doing) {
      std::string e = failure(doing);
      Use rb(rollback_);
      sqlite3_step(rb);
      return std::optional<std::string>(e);
    };
    for (const auto& r : batch.usage) {
      if (!insert_usage(r)) return fail("inserting a usage row");
    }
    if (!batch.usage.empty() && !add_rollups(batch.usage)) return fail("updating the usage rollups");
    for (const auto& r : batch.inference) {
      if (!insert_inference(r)) return fail("inserting an inference log row");
    }
    for (const auto& r : batch.mcp_calls) {
      if (!insert_mcp_call(r)) return fail("inserting an MCP tool call row");
    }
    if (!batch.audit.empty()) {
      // Chained to the last row in the file, read inside this write transaction: another process
      // (the keys CLI) appending to the same chain waits for the lock, then chains after ours.
      std::int64_t id = 0;
      std::string prev = kAuditZeroHash;
      {
        Use last(last_audit_);
        int rc = sqlite3_step(last);
        if (rc == SQLITE_ROW) {
          id = sqlite3_column_int64(last, 0);
          prev = column_text(last, 1);
        } else if (rc != SQLITE_DONE) {
          return fail("reading the audit chain's head");
        }
      }
      auto recorded = sqlite::query_one(db_.get(), what_, "SELECT value FROM meta WHERE name = 'audit.head'");
      if (auto* h = std::get_if<std::optional<std::string>>(&recorded)) audit_continue_from(*h, id, prev);
      for (const auto& original : batch.audit) {
        ++id;
        // Hashed exactly as stored (an empty detail is stored as "{}").
        AuditRecord r = original;
        if (r.detail.empty()) r.detail = "{}";
        std::string h = audit_hash(id, r, prev);
        Use ins(insert_audit_);
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_int64(ins, 2, r.time_ms);
        bind_text(ins, 3, r.kind);
        bind_text(ins, 4, r.actor);
        bind_text(ins, 5, r.subject);
        bind_text(ins, 6, r.detail);
        bind_text(ins, 7, r.request_id);
        bind_text(ins, 8, prev);
        bind_text(ins, 9, h);
        if (sqlite3_step(ins) != SQLITE_DONE) return fail("appending to the audit chain");
        prev = std::move(h);
      }
      Use head(set_head_);
      bind_text(head, 1, std::to_string(id) + ":" + prev);
      if (sqlite3_step(head) != SQLITE_DONE) return fail("recording the audit chain's head");
    }
    Use c(commit_);
    if (sqlite3_step(c) != SQLITE_DONE) {
      std::string e = failure("committing records");
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
  std::variant<std::vector<InferenceRow>, std::string> inference(const std::string& model, std::int64_t since_ms,
                                                                std::size_t limit) override {
    const std::string sql =
        std::string("SELECT ") + kInferenceColumns + " FROM inference_log WHERE request_time >= ?1" +
        std::string(model.empty() ? "" : " AND model = ?3") + " ORDER BY request_time DESC, id DESC LIMIT ?2";
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql.c_str(), s)) return failure("preparing the inference query");
    sqlite3_bind_int64(s.get(), 1, since_ms);
    sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(limit));
    if (!model.empty()) bind_text(s.get(), 3, model);
    std::vector<InferenceRow> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      sqlite3_stmt* q = s.get();
      InferenceRow r;
      r.id = sqlite3_column_int64(q, 0);
      r.request_id = column_text(q, 1);
      r.request_time_ms = sqlite3_column_int64(q, 2);
      r.requester = column_text(q, 3);
      r.key_name = column_text(q, 4);
      r.user = column_text(q, 5);
      r.project = column_text(q, 6);
      r.model = column_text(q, 7);
      r.served_model = column_text(q, 8);
      r.provider = column_text(q, 9);
      r.status_code = sqlite3_column_int(q, 10);
      r.execution_duration_ms = sqlite3_column_double(q, 11);
      r.upstream_duration_ms = sqlite3_column_double(q, 12);
      r.time_to_first_token_ms = sqlite3_column_type(q, 13) == SQLITE_NULL ? -1 : sqlite3_column_double(q, 13);
      r.input_tokens = sqlite3_column_int64(q, 14);
      r.output_tokens = sqlite3_column_int64(q, 15);
      r.cost_usd = sqlite3_column_double(q, 16);
      r.streaming = sqlite3_column_int(q, 17) != 0;
      r.error_code = column_text(q, 18);
      r.request_body = column_text(q, 19);
      r.response_body = column_text(q, 20);
      r.payload_truncated = sqlite3_column_int(q, 21) != 0;
      r.decisions = column_text(q, 22);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return failure("reading the inference log");
    return out;
  }

  std::variant<std::int64_t, std::string> expire_inference(std::int64_t before_ms) override {
    return expire("DELETE FROM inference_log WHERE request_time < ?1", before_ms, "inference log");
  }

  std::variant<std::vector<McpCallRow>, std::string> mcp_calls(const McpCallQuery& q) override {
    // Each filter binds its own parameter (?3 on), in this order.
    const std::pair<const char*, const std::string*> filters[] = {
        {"server", &q.server}, {"tool", &q.tool}, {"requester", &q.requester},
        {"request_id", &q.request_id}, {"outcome", &q.outcome}};
    std::string sql = std::string("SELECT ") + kMcpCallColumns + " FROM mcp_calls WHERE request_time >= ?1";
    int param = 3;
    for (const auto& [column, value] : filters) {
      if (!value->empty()) sql += std::string(" AND ") + column + " = ?" + std::to_string(param++);
    }
    sql += " ORDER BY request_time DESC, id DESC LIMIT ?2";
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql.c_str(), s)) return failure("preparing the MCP tool call query");
    sqlite3_bind_int64(s.get(), 1, q.since_ms);
    sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(q.limit));
    param = 3;
    for (const auto& [column, value] : filters) {
      if (!value->empty()) bind_text(s.get(), param++, *value);
    }
    std::vector<McpCallRow> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      sqlite3_stmt* r = s.get();
      McpCallRow row;
      row.id = sqlite3_column_int64(r, 0);
      row.request_id = column_text(r, 1);
      row.time_ms = sqlite3_column_int64(r, 2);
      row.requester = column_text(r, 3);
      row.key_name = column_text(r, 4);
      row.user = column_text(r, 5);
      row.project = column_text(r, 6);
      row.endpoint = column_text(r, 7);
      row.server = column_text(r, 8);
      row.tool = column_text(r, 9);
      row.outcome = column_text(r, 10);
      row.error = column_text(r, 11);
      row.duration_ms = sqlite3_column_double(r, 12);
      row.arguments = column_text(r, 13);
      row.result = column_text(r, 14);
      row.payload_truncated = sqlite3_column_int(r, 15) != 0;
      row.guardrails = column_text(r, 16);
      row.approval_id = column_text(r, 17);
      row.trace_id = column_text(r, 18);
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return failure("reading the MCP tool calls");
    return out;
  }

  std::variant<std::int64_t, std::string> expire_mcp_calls(std::int64_t before_ms) override {
    return expire("DELETE FROM mcp_calls WHERE request_time < ?1", before_ms, "MCP tool call");
  }

  std::variant<UsageSeries, std::string> usage_series(const UsageSeriesQuery& q) override {
    return reads::usage_series(*this, q);
  }
  std::variant<UsageGroupsPage, std::string> usage_groups(const UsageGroupsQuery& q) override {
    return reads::usage_groups(*this, q);
  }
  std::variant<InferencePage, std::string> inference_page(const InferencePageQuery& q) override {
    return reads::inference_page(*this, q);
  }
  std::variant<std::optional<InferenceRow>, std::string> inference_row(const std::string& request_id) override {
    return reads::inference_row(*this, request_id);
  }
  std::variant<McpCallPage, std::string> mcp_call_page(const McpCallPageQuery& q) override {
    return reads::mcp_call_page(*this, q);
  }
  std::variant<AuditPage, std::string> audit_page(const AuditPageQuery& q) override {
    return reads::audit_page(*this, q);
  }

  // Retention: `sql` deletes the rows older than ?1; the number deleted, or what failed.
  std::variant<std::int64_t, std::string> expire(const char* sql, std::int64_t before_ms, const std::string& what) {
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql, s)) return failure("preparing the " + what + " retention delete");
    sqlite3_bind_int64(s.get(), 1, before_ms);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return failure("deleting old " + what + " rows");
    return static_cast<std::int64_t>(sqlite3_changes(db_.get()));
  }

  std::variant<AuditVerdict, std::string> verify_audit() override {
    std::lock_guard lock(mu_);
    // One read transaction: the rows and the head from the same snapshot.
    if (auto e = sqlite::exec(db_.get(), what_, "BEGIN", "starting a read")) return *e;
    struct EndRead {
      sqlite3* db;
      ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
    } end{db_.get()};
    Stmt s;
    if (!sqlite::prepare(db_.get(),
                         "SELECT id, time, kind, actor, subject, detail, request_id, prev_hash, hash FROM audit "
                         "ORDER BY id",
                         s)) {
      return failure("preparing the audit read");
    }
    AuditCheck check;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      sqlite3_stmt* q = s.get();
      AuditRecord r;
      r.time_ms = sqlite3_column_int64(q, 1);
      r.kind = column_text(q, 2);
      r.actor = column_text(q, 3);
      r.subject = column_text(q, 4);
      r.detail = column_text(q, 5);
      r.request_id = column_text(q, 6);
      if (!check.add(sqlite3_column_int64(q, 0), r, column_text(q, 7), column_text(q, 8))) return check.finish({});
    }
    if (rc != SQLITE_DONE) return failure("reading the audit chain");
    auto head = sqlite::query_one(db_.get(), what_, "SELECT value FROM meta WHERE name = 'audit.head'");
    if (auto* e = std::get_if<std::string>(&head)) return *e;
    return check.finish(std::get<std::optional<std::string>>(head));
  }

  std::string failure(const std::string& doing) const {
    return what_ + ": " + doing + ": " + sqlite3_errmsg(db_.get());
  }

  std::mutex mu_;
  const std::string what_;
  Db db_;
  bool insert_usage(const UsageRecord& r) {
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
    sqlite3_bind_double(ins, 22, r.upstream_duration_ms);
    return sqlite3_step(ins) == SQLITE_DONE;
  }

  // Inside write()'s transaction: the batch's usage added to the rollups.
  bool add_rollups(const std::vector<UsageRecord>& rows) {
    const rollup::BatchRollup add = rollup::of(rows);
    for (const auto& [k, f] : add.figures) {
      Use up(upsert_figures_);
      const char g[2] = {k.granularity, 0};
      sqlite3_bind_text(up, 1, g, 1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(up, 2, k.bucket_ms);
      bind_text(up, 3, k.dim);
      bind_text(up, 4, k.value);
      sqlite3_bind_int64(up, 5, f.requests);
      sqlite3_bind_int64(up, 6, f.errors);
      sqlite3_bind_int64(up, 7, f.input_tokens);
      sqlite3_bind_int64(up, 8, f.output_tokens);
      sqlite3_bind_double(up, 9, f.cost_usd);
      if (sqlite3_step(up) != SQLITE_DONE) return false;
    }
    for (const auto& [k, n] : add.latency) {
      Use up(upsert_latency_);
      const char g[2] = {k.granularity, 0};
      sqlite3_bind_text(up, 1, g, 1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(up, 2, k.bucket_ms);
      sqlite3_bind_text(up, 3, k.kind, -1, SQLITE_STATIC);
      sqlite3_bind_int(up, 4, k.bin);
      sqlite3_bind_int64(up, 5, n);
      if (sqlite3_step(up) != SQLITE_DONE) return false;
    }
    return true;
  }

  // reads::SqlReader: $N parameters bound by name.
  std::optional<std::string> each(const std::string& sql, const std::vector<reads::SqlValue>& params,
                                  const std::string& doing,
                                  const std::function<void(const reads::SqlRow&)>& row) override {
    std::lock_guard lock(mu_);
    Stmt s;
    if (!sqlite::prepare(db_.get(), sql.c_str(), s)) return failure("preparing " + doing);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int at = sqlite3_bind_parameter_index(s.get(), ("$" + std::to_string(i + 1)).c_str());
      if (at == 0) continue;
      const auto& v = params[i];
      if (auto* n = std::get_if<std::int64_t>(&v)) {
        sqlite3_bind_int64(s.get(), at, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        sqlite3_bind_double(s.get(), at, *d);
      } else if (auto* text = std::get_if<std::string>(&v)) {
        bind_text(s.get(), at, *text);
      } else {
        sqlite3_bind_null(s.get(), at);
      }
    }
    SqliteRow r(s.get());
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) row(r);
    if (rc != SQLITE_DONE) return failure(doing);
    return std::nullopt;
  }

  bool insert_inference(const InferenceRecord& r) {
    Use ins(insert_inference_);
    bind_text(ins, 1, r.request_id);
    sqlite3_bind_int64(ins, 2, r.request_time_ms);
    bind_text(ins, 3, r.requester);
    bind_text(ins, 4, r.key_name);
    bind_text(ins, 5, r.user);
    bind_text(ins, 6, r.project);
    bind_text(ins, 7, r.model);
    bind_text(ins, 8, r.served_model);
    bind_text(ins, 9, r.provider);
    sqlite3_bind_int(ins, 10, r.status_code);
    sqlite3_bind_double(ins, 11, r.execution_duration_ms);
    sqlite3_bind_double(ins, 12, r.upstream_duration_ms);
    if (r.time_to_first_token_ms >= 0) {
      sqlite3_bind_double(ins, 13, r.time_to_first_token_ms);
    } else {
      sqlite3_bind_null(ins, 13);
    }
    sqlite3_bind_int64(ins, 14, r.input_tokens);
    sqlite3_bind_int64(ins, 15, r.output_tokens);
    sqlite3_bind_double(ins, 16, r.cost_usd);
    sqlite3_bind_int(ins, 17, r.streaming ? 1 : 0);
    bind_text(ins, 18, r.error_code);
    bind_text(ins, 19, r.request_body);
    bind_text(ins, 20, r.response_body);
    sqlite3_bind_int(ins, 21, r.payload_truncated ? 1 : 0);
    bind_text(ins, 22, r.decisions.empty() ? std::string("{}") : r.decisions);
    return sqlite3_step(ins) == SQLITE_DONE;
  }

  bool insert_mcp_call(const McpCallRecord& r) {
    Use ins(insert_mcp_);
    // Payloads not kept are NULL (as the inference log's bodies), not ''.
    auto text_or_null = [&](int i, const std::string& v) {
      if (v.empty()) {
        sqlite3_bind_null(ins, i);
      } else {
        bind_text(ins, i, v);
      }
    };
    bind_text(ins, 1, r.request_id);
    sqlite3_bind_int64(ins, 2, r.time_ms);
    bind_text(ins, 3, r.requester);
    bind_text(ins, 4, r.key_name);
    bind_text(ins, 5, r.user);
    bind_text(ins, 6, r.project);
    bind_text(ins, 7, r.endpoint);
    bind_text(ins, 8, r.server);
    bind_text(ins, 9, r.tool);
    bind_text(ins, 10, r.outcome);
    bind_text(ins, 11, r.error);
    sqlite3_bind_double(ins, 12, r.duration_ms);
    text_or_null(13, r.arguments);
    text_or_null(14, r.result);
    sqlite3_bind_int(ins, 15, r.payload_truncated ? 1 : 0);
    bind_text(ins, 16, r.guardrails);
    bind_text(ins, 17, r.approval_id);
    bind_text(ins, 18, r.trace_id);
    return sqlite3_step(ins) == SQLITE_DONE;
  }

  Stmt begin_, commit_, rollback_, insert_, last_audit_, insert_audit_, set_head_, insert_inference_, insert_mcp_,
      upsert_figures_, upsert_latency_;
};

}  // namespace

std::variant<std::unique_ptr<RecordStore>, std::string> open_sqlite_records(const std::string& path) {
  if (path.empty()) return std::string("record store: no file named (store.sqlite is empty)");
  const std::string what = "record store " + path;
  auto opened = sqlite::open(path, what, "NORMAL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  if (auto e = sqlite::migrate(db.get(), what, schema::kRecords.version_name, schema::kRecords.steps)) return *e;
  auto store = std::make_unique<SqliteRecordStore>(path, std::move(db));
  if (auto e = store->prepare()) return *e;
  return std::unique_ptr<RecordStore>(std::move(store));
}

}  // namespace gatehouse::store
