// The record tables in PostgreSQL: usage, the inference log, the audit chain, the MCP tool calls.
// One connection per store object (the record writer's thread, or a CLI), under a mutex; every
// batch is one transaction.
//
// The audit chain is one chain, whatever the number of writers (gateway replicas, CLIs): a batch
// with audit rows takes pg_advisory_xact_lock(pg::kAuditLock) inside its transaction, then reads
// the chain's head and appends after it. The lock is held until the commit, so the next writer
// reads a head that includes these rows; under READ COMMITTED each statement after the lock sees
// every append committed before it was granted.
#include <vector>

#include "store/audit_chain.h"
#include "store/pg_db.h"
#include "store/record_columns.h"
#include "store/record_reads.h"
#include "store/usage_rollup.h"
#include "store/record_store.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

using pg::num;

std::string flag(bool b) { return b ? "1" : "0"; }
pg::Param text_or_null(const std::string& v) { return v.empty() ? pg::Param() : pg::Param(v); }

// The columns both logs' reads start with (kInferenceColumns, kMcpCallColumns): the row's id,
// request id, time, and who made it.
template <class Row>
void read_caller(const PGresult* q, int i, Row& row) {
  row.id = pg::i64(q, i, 0);
  row.request_id = pg::text(q, i, 1);
  if constexpr (requires { row.time_ms; }) {
    row.time_ms = pg::i64(q, i, 2);
  } else {
    row.request_time_ms = pg::i64(q, i, 2);
  }
  row.requester = pg::text(q, i, 3);
  row.key_name = pg::text(q, i, 4);
  row.user = pg::text(q, i, 5);
  row.project = pg::text(q, i, 6);
}

// One result row of a reads:: query.
class PgRow final : public reads::SqlRow {
 public:
  PgRow(const PGresult* r, int i) : r_(r), i_(i) {}
  std::int64_t i64(int c) const override { return pg::i64(r_, i_, c); }
  double f64(int c) const override { return pg::f64(r_, i_, c); }
  std::string text(int c) const override { return pg::text(r_, i_, c); }
  bool null(int c) const override { return pg::is_null(r_, i_, c); }

 private:
  const PGresult* r_;
  int i_;
};

class PgRecordStore final : public RecordStore, private reads::SqlReader {
 public:
  explicit PgRecordStore(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::optional<std::string> write(const RecordBatch& batch) override {
    return c_->call([&]() -> std::optional<std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      for (const auto& r : batch.usage) {
        if (auto e = insert_usage(r)) return e;
      }
      if (!batch.usage.empty()) {
        if (auto e = add_rollups(batch.usage)) return e;
      }
      for (const auto& r : batch.inference) {
        if (auto e = insert_inference(r)) return e;
      }
      for (const auto& r : batch.mcp_calls) {
        if (auto e = insert_mcp_call(r)) return e;
      }
      if (!batch.audit.empty()) {
        if (auto e = append_audit(batch.audit)) return e;
      }
      return tx.commit();
    });
  }

  std::variant<std::vector<UsageSummary>, std::string> summarize_usage(
      UsageGroup by, std::int64_t since_ms) override {
    const std::string col = group_column(by);
    const std::string sql =
        "SELECT " + col +
        ", count(*), count(*) FILTER (WHERE status_code >= 400), sum(input_token_count), "
        "sum(output_token_count), sum(cost_usd) FROM usage WHERE request_time >= $1 GROUP BY " +
        col + " ORDER BY sum(cost_usd) DESC, count(*) DESC, " + col;
    return c_->rows<UsageSummary>(
        sql.c_str(), {num(since_ms)}, "reading the summary", [](const PGresult* q, int i) {
          return UsageSummary{pg::text(q, i, 0), pg::i64(q, i, 1), pg::i64(q, i, 2),
                              pg::i64(q, i, 3),  pg::i64(q, i, 4), pg::f64(q, i, 5)};
        });
  }

  std::variant<std::map<std::string, double>, std::string> spend_since(
      UsageGroup by, std::int64_t since_ms) override {
    const std::string col = group_column(by);
    const std::string sql = "SELECT " + col +
                            ", sum(cost_usd) FROM usage WHERE request_time >= $1 AND " + col +
                            " <> '' GROUP BY " + col;
    auto rows = c_->rows<std::pair<std::string, double>>(
        sql.c_str(), {num(since_ms)}, "reading spend", [](const PGresult* q, int i) {
          return std::pair{pg::text(q, i, 0), pg::f64(q, i, 1)};
        });
    if (auto* e = std::get_if<std::string>(&rows)) return *e;
    auto& spent = std::get<0>(rows);
    return std::map<std::string, double>(spent.begin(), spent.end());
  }

  std::variant<std::vector<InferenceRow>, std::string> inference(const std::string& model,
                                                                 std::int64_t since_ms,
                                                                 std::size_t limit) override {
    const std::string sql = std::string("SELECT ") + kInferenceColumns +
                            " FROM inference_log WHERE request_time >= $1" +
                            (model.empty() ? " AND $3::text IS NULL" : " AND model = $3") +
                            " ORDER BY request_time DESC, id DESC LIMIT $2";
    return c_->rows<InferenceRow>(
        sql.c_str(), {num(since_ms), num(static_cast<std::int64_t>(limit)), text_or_null(model)},
        "reading the inference log", [](const PGresult* q, int i) {
          InferenceRow row;
          read_caller(q, i, row);
          row.model = pg::text(q, i, 7);
          row.served_model = pg::text(q, i, 8);
          row.provider = pg::text(q, i, 9);
          row.status_code = static_cast<int>(pg::i64(q, i, 10));
          row.execution_duration_ms = pg::f64(q, i, 11);
          row.upstream_duration_ms = pg::f64(q, i, 12);
          row.time_to_first_token_ms = pg::is_null(q, i, 13) ? -1 : pg::f64(q, i, 13);
          row.input_tokens = pg::i64(q, i, 14);
          row.output_tokens = pg::i64(q, i, 15);
          row.cost_usd = pg::f64(q, i, 16);
          row.streaming = pg::i64(q, i, 17) != 0;
          row.error_code = pg::text(q, i, 18);
          row.request_body = pg::text(q, i, 19);
          row.response_body = pg::text(q, i, 20);
          row.payload_truncated = pg::i64(q, i, 21) != 0;
          row.decisions = pg::text(q, i, 22);
          return row;
        });
  }

  std::variant<std::int64_t, std::string> expire_inference(std::int64_t before_ms) override {
    return expire("DELETE FROM inference_log WHERE request_time < $1", before_ms, "inference log");
  }

  std::variant<std::vector<McpCallRow>, std::string> mcp_calls(const McpCallQuery& q) override {
    // Every filter has its parameter ($3..$7); an empty one is NULL and matches every row.
    const std::string sql =
        std::string("SELECT ") + kMcpCallColumns +
        " FROM mcp_calls WHERE request_time >= $1 AND ($3::text IS NULL OR server = $3) "
        "AND ($4::text IS NULL OR tool = $4) AND ($5::text IS NULL OR requester = $5) "
        "AND ($6::text IS NULL OR request_id = $6) AND ($7::text IS NULL OR outcome = $7) "
        "ORDER BY request_time DESC, id DESC LIMIT $2";
    return c_->rows<McpCallRow>(
        sql.c_str(),
        {num(q.since_ms), num(static_cast<std::int64_t>(q.limit)), text_or_null(q.server),
         text_or_null(q.tool), text_or_null(q.requester), text_or_null(q.request_id),
         text_or_null(q.outcome)},
        "reading the MCP tool calls", [](const PGresult* s, int i) {
          McpCallRow row;
          read_caller(s, i, row);
          row.endpoint = pg::text(s, i, 7);
          row.server = pg::text(s, i, 8);
          row.tool = pg::text(s, i, 9);
          row.outcome = pg::text(s, i, 10);
          row.error = pg::text(s, i, 11);
          row.duration_ms = pg::f64(s, i, 12);
          row.arguments = pg::text(s, i, 13);
          row.result = pg::text(s, i, 14);
          row.payload_truncated = pg::i64(s, i, 15) != 0;
          row.guardrails = pg::text(s, i, 16);
          row.approval_id = pg::text(s, i, 17);
          row.trace_id = pg::text(s, i, 18);
          return row;
        });
  }

  std::variant<std::int64_t, std::string> expire_mcp_calls(std::int64_t before_ms) override {
    return expire("DELETE FROM mcp_calls WHERE request_time < $1", before_ms, "MCP tool call");
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

  std::variant<AuditVerdict, std::string> verify_audit() override {
    return c_->call([&]() -> std::variant<AuditVerdict, std::string> {
      // One REPEATABLE READ transaction: the rows and the head from the same snapshot.
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a read");
      if (auto e =
              c_->run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", {}, "starting a read"))
        return *e;
      auto rows = c_->exec(
          "SELECT id, time, kind, actor, subject, detail, request_id, prev_hash, hash FROM audit "
          "ORDER BY id",
          {}, "reading the audit chain");
      if (auto* e = std::get_if<std::string>(&rows)) return *e;
      auto head = c_->exec("SELECT value FROM meta WHERE name = 'audit.head'", {},
                           "reading the chain's head");
      if (auto* e = std::get_if<std::string>(&head)) return *e;
      const PGresult* q = std::get<pg::Result>(rows).get();
      AuditCheck check;
      for (int i = 0; i < PQntuples(q); ++i) {
        AuditRecord r;
        r.time_ms = pg::i64(q, i, 1);
        r.kind = pg::text(q, i, 2);
        r.actor = pg::text(q, i, 3);
        r.subject = pg::text(q, i, 4);
        r.detail = pg::text(q, i, 5);
        r.request_id = pg::text(q, i, 6);
        if (!check.add(pg::i64(q, i, 0), r, pg::text(q, i, 7), pg::text(q, i, 8)))
          return check.finish({});
      }
      const PGresult* h = std::get<pg::Result>(head).get();
      std::optional<std::string> recorded;
      if (PQntuples(h) > 0) recorded = pg::text(h, 0, 0);
      tx.commit();
      return check.finish(recorded);
    });
  }

 private:
  // Retention: `sql` deletes the rows older than $1; the number deleted, or what failed.
  std::variant<std::int64_t, std::string> expire(const char* sql, std::int64_t before_ms,
                                                 const std::string& what) {
    return c_->change(sql, {num(before_ms)}, "deleting old " + what + " rows");
  }

  // Inside write()'s transaction: the chain's lock, its head, the new rows, the new head.
  std::optional<std::string> append_audit(const std::vector<AuditRecord>& rows) {
    if (auto e = c_->run("SELECT pg_advisory_xact_lock($1)", {num(pg::kAuditLock)},
                         "locking the audit chain"))
      return *e;
    auto last = c_->exec("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", {},
                         "reading the audit chain's head");
    if (auto* e = std::get_if<std::string>(&last)) return *e;
    std::int64_t id = 0;
    std::string prev = kAuditZeroHash;
    if (const PGresult* l = std::get<pg::Result>(last).get(); PQntuples(l) > 0) {
      id = pg::i64(l, 0, 0);
      prev = pg::text(l, 0, 1);
    }
    auto recorded = c_->exec("SELECT value FROM meta WHERE name = 'audit.head'", {},
                             "reading the audit chain's head");
    if (auto* e = std::get_if<std::string>(&recorded)) return *e;
    if (const PGresult* h = std::get<pg::Result>(recorded).get(); PQntuples(h) > 0) {
      audit_continue_from(pg::text(h, 0, 0), id, prev);
    }
    for (const auto& original : rows) {
      ++id;
      AuditRecord r = original;  // hashed exactly as stored (an empty detail is stored as "{}")
      if (r.detail.empty()) r.detail = "{}";
      std::string h = audit_hash(id, r, prev);
      if (auto e = c_->run("INSERT INTO audit (id, time, kind, actor, subject, detail, request_id, "
                           "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                           {num(id), num(r.time_ms), r.kind, r.actor, r.subject, r.detail,
                            r.request_id, prev, h},
                           "appending to the audit chain"))
        return *e;
      prev = std::move(h);
    }
    return c_->run(
        "INSERT INTO meta (name, value) VALUES ('audit.head', $1) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        {std::to_string(id) + ":" + prev}, "recording the audit chain's head");
  }

  // reads::SqlReader: one statement as a whole call.
  std::optional<std::string> each(const std::string& sql, const std::vector<reads::SqlValue>& params,
                                  const std::string& doing,
                                  const std::function<void(const reads::SqlRow&)>& row) override {
    std::vector<pg::Param> text;
    text.reserve(params.size());
    for (const auto& v : params) {
      if (auto* n = std::get_if<std::int64_t>(&v)) {
        text.emplace_back(num(*n));
      } else if (auto* d = std::get_if<double>(&v)) {
        text.emplace_back(num(*d));
      } else if (auto* s = std::get_if<std::string>(&v)) {
        text.emplace_back(*s);
      } else {
        text.emplace_back(std::nullopt);
      }
    }
    return c_->call([&]() -> std::optional<std::string> {
      pg::Result r = c_->query(sql.c_str(), std::span<const pg::Param>(text));
      if (!pg::Connection::ok(r.get())) return c_->failure(doing, r.get());
      for (int i = 0; i < PQntuples(r.get()); ++i) row(PgRow(r.get(), i));
      return std::nullopt;
    });
  }

  // Inside write()'s transaction: the batch's usage added to the rollups (in key order: two
  // replicas' batches lock the rows they share in the same order).
  std::optional<std::string> add_rollups(const std::vector<UsageRecord>& rows) {
    const rollup::BatchRollup add = rollup::of(rows);
    for (const auto& [k, f] : add.figures) {
      if (auto e = c_->run(rollup::kUpsertFigures,
                           {std::string(1, k.granularity), num(k.bucket_ms), k.dim, k.value, num(f.requests),
                            num(f.errors), num(f.input_tokens), num(f.output_tokens), num(f.cost_usd)},
                           "updating the usage rollups"))
        return e;
    }
    for (const auto& [k, n] : add.latency) {
      if (auto e = c_->run(rollup::kUpsertLatency,
                           {std::string(1, k.granularity), num(k.bucket_ms), std::string(k.kind),
                            std::to_string(k.bin), num(n)},
                           "updating the latency histograms"))
        return e;
    }
    return std::nullopt;
  }

  std::optional<std::string> insert_usage(const UsageRecord& r) {
    return c_->run(
        "INSERT INTO usage (request_id, request_time, requester, key_name, user_name, project, "
        "end_user, usage_project, model, served_model, provider, input_token_count, "
        "cached_input_token_count, output_token_count, usage_estimated, cost_usd, status_code, "
        "execution_duration_ms, request_streaming, error_code, attempts, upstream_duration_ms) VALUES ($1, "
        "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        {r.request_id, num(r.request_time_ms), r.requester, r.key_name, r.user, r.project,
         r.end_user, r.usage_project, r.model, r.served_model, r.provider, num(r.input_tokens),
         num(r.cached_input_tokens), num(r.output_tokens), flag(r.usage_estimated), num(r.cost_usd),
         std::to_string(r.status_code), num(r.duration_ms), flag(r.streaming), r.error_code,
         std::to_string(r.attempts), num(r.upstream_duration_ms)},
        "inserting a usage row");
  }

  std::optional<std::string> insert_inference(const InferenceRecord& r) {
    const pg::Param ttft =
        r.time_to_first_token_ms >= 0 ? pg::Param(num(r.time_to_first_token_ms)) : pg::Param();
    return c_->run(
        "INSERT INTO inference_log (request_id, request_time, requester, key_name, user_name, "
        "project, model, served_model, provider, status_code, execution_duration_ms, "
        "upstream_duration_ms, time_to_first_token_ms, input_token_count, output_token_count, "
        "cost_usd, request_streaming, error_code, request, response, payload_truncated, decisions) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
        "$19, $20, $21, $22)",
        {r.request_id, num(r.request_time_ms), r.requester, r.key_name, r.user, r.project, r.model,
         r.served_model, r.provider, std::to_string(r.status_code), num(r.execution_duration_ms),
         num(r.upstream_duration_ms), ttft, num(r.input_tokens), num(r.output_tokens),
         num(r.cost_usd), flag(r.streaming), r.error_code, r.request_body, r.response_body,
         flag(r.payload_truncated), r.decisions.empty() ? std::string("{}") : r.decisions},
        "inserting an inference log row");
  }

  std::optional<std::string> insert_mcp_call(const McpCallRecord& r) {
    // Payloads not kept are NULL (as the inference log's bodies), not ''.
    return c_->run(
        "INSERT INTO mcp_calls (request_id, request_time, requester, key_name, user_name, project, "
        "endpoint, server, tool, outcome, error, duration_ms, arguments, result, "
        "payload_truncated, guardrails, approval_id, trace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        {r.request_id, num(r.time_ms), r.requester, r.key_name, r.user, r.project, r.endpoint,
         r.server, r.tool, r.outcome, r.error, num(r.duration_ms), text_or_null(r.arguments),
         text_or_null(r.result), flag(r.payload_truncated), r.guardrails, r.approval_id,
         r.trace_id},
        "inserting an MCP tool call row");
  }

  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

std::variant<std::unique_ptr<RecordStore>, std::string> open_postgres_records(
    const std::string& url) {
  return pg::open_as<RecordStore, PgRecordStore>(url, "record store", schema::kRecords);
}

}  // namespace gatehouse::store
