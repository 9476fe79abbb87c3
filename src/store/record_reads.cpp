#include "store/record_reads.h"

#include <algorithm>
#include <array>
#include <map>

#include "store/record_columns.h"
#include "store/usage_rollup.h"

namespace gatehouse::store::reads {

namespace {

constexpr std::int64_t kMinute = 60'000, kHour = 3'600'000, kDay = 86'400'000;
constexpr const char* kOther = "(other)";

std::string p(std::size_t n) { return "$" + std::to_string(n); }

// Adds `v` to `params` and returns its placeholder.
std::string add(std::vector<SqlValue>& params, SqlValue v) {
  params.push_back(std::move(v));
  return p(params.size());
}

void read_figures(const SqlRow& r, int first, UsageFigures& f) {
  f.requests = r.i64(first);
  f.errors = r.i64(first + 1);
  f.input_tokens = r.i64(first + 2);
  f.output_tokens = r.i64(first + 3);
  f.cost_usd = r.f64(first + 4);
}

// The coarsest rollup whose buckets tile the series' buckets.
char granularity_for(std::int64_t from_ms, std::int64_t bucket_ms) {
  if (bucket_ms % kDay == 0 && from_ms % kDay == 0) return 'd';
  if (bucket_ms % kHour == 0 && from_ms % kHour == 0) return 'h';
  return 'm';
}

constexpr const char* kSums =
    "sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd)";

// The list columns of the inference log (no bodies, no decisions), and how a row is read.
constexpr const char* kInferenceListColumns =
    "id, request_id, request_time, requester, key_name, user_name, project, model, served_model, "
    "provider, status_code, execution_duration_ms, upstream_duration_ms, time_to_first_token_ms, "
    "input_token_count, output_token_count, cost_usd, request_streaming, error_code, payload_truncated";

InferenceRow read_inference(const SqlRow& q, bool whole) {
  InferenceRow r;
  r.id = q.i64(0);
  r.request_id = q.text(1);
  r.request_time_ms = q.i64(2);
  r.requester = q.text(3);
  r.key_name = q.text(4);
  r.user = q.text(5);
  r.project = q.text(6);
  r.model = q.text(7);
  r.served_model = q.text(8);
  r.provider = q.text(9);
  r.status_code = static_cast<int>(q.i64(10));
  r.execution_duration_ms = q.f64(11);
  r.upstream_duration_ms = q.f64(12);
  r.time_to_first_token_ms = q.null(13) ? -1 : q.f64(13);
  r.input_tokens = q.i64(14);
  r.output_tokens = q.i64(15);
  r.cost_usd = q.f64(16);
  r.streaming = q.i64(17) != 0;
  r.error_code = q.text(18);
  if (whole) {  // kInferenceColumns
    r.request_body = q.text(19);
    r.response_body = q.text(20);
    r.payload_truncated = q.i64(21) != 0;
    r.decisions = q.text(22);
  } else {
    r.payload_truncated = q.i64(19) != 0;
  }
  return r;
}

// "request_time >= from AND request_time < to", and for a keyset position "(request_time, id) <
// (t, i)" with `to` lowered to t + 1: one upper bound, so that an index on (..., request_time)
// starts at the cursor, not at `to`.
std::string time_window(std::vector<SqlValue>& params, std::int64_t from_ms, std::int64_t to_ms,
                        const std::optional<RowCursor>& c) {
  const std::int64_t hi = c && c->time_ms < to_ms ? c->time_ms + 1 : to_ms;
  std::string sql = "request_time >= " + add(params, from_ms) + " AND request_time < " + add(params, hi);
  if (c) {
    const std::string t = add(params, c->time_ms);
    sql += " AND (request_time < " + t + " OR id < " + add(params, c->id) + ")";
  }
  return sql;
}

}  // namespace

std::variant<UsageSeries, std::string> usage_series(SqlReader& db, const UsageSeriesQuery& q) {
  UsageSeries out;
  if (q.bucket_ms < kMinute || q.bucket_ms % kMinute != 0 || q.to_ms <= q.from_ms) return out;
  const std::string g(1, granularity_for(q.from_ms, q.bucket_ms));
  // $1 bucket, $2 granularity, $3 from, $4 to.
  const std::vector<SqlValue> base{q.bucket_ms, g, q.from_ms, q.to_ms};
  const std::string t = "bucket_ms / $1 * $1";
  const std::string range = " WHERE granularity = $2 AND bucket_ms >= $3 AND bucket_ms < $4";

  std::map<std::int64_t, std::size_t> at;  // bucket -> index in totals
  auto e = db.each("SELECT " + t + ", " + kSums + " FROM usage_rollup" + range +
                       " AND dim = 'all' GROUP BY 1 ORDER BY 1",
                   base, "reading the usage series", [&](const SqlRow& r) {
                     UsagePoint pt;
                     pt.t_ms = r.i64(0);
                     read_figures(r, 1, pt);
                     at[pt.t_ms] = out.totals.size();
                     out.totals.push_back(std::move(pt));
                   });
  if (e) return *e;

  // Histograms per bucket: [0] latency, [1] overhead.
  using Hist = std::array<std::int64_t, rollup::kBinUpper.size()>;
  std::map<std::int64_t, std::array<Hist, 2>> hists;
  e = db.each("SELECT " + t + ", kind, bin, sum(requests) FROM usage_latency" + range + " GROUP BY 1, 2, 3", base,
              "reading the latency histograms", [&](const SqlRow& r) {
                const std::int64_t bin = r.i64(2);
                if (bin < 0 || bin >= static_cast<std::int64_t>(rollup::kBinUpper.size())) return;
                auto& h = hists[r.i64(0)];
                h[r.text(1) == "latency" ? 0 : 1][static_cast<std::size_t>(bin)] += r.i64(3);
              });
  if (e) return *e;
  for (auto& pt : out.totals) {
    auto it = hists.find(pt.t_ms);
    if (it == hists.end()) continue;
    pt.p50_ms = rollup::quantile(it->second[0], 0.5);
    pt.p99_ms = rollup::quantile(it->second[0], 0.99);
    pt.overhead_p50_ms = rollup::quantile(it->second[1], 0.5);
    pt.overhead_p99_ms = rollup::quantile(it->second[1], 0.99);
  }

  // (A dimension without minute rows has no groups at minute buckets: the admin API offers
  // series by model, project and key only.)
  if (!q.by || q.max_groups == 0) return out;
  // (Its own parameters: PostgreSQL cannot type one the statement does not use.)
  std::vector<SqlValue> params;
  const std::string rank_range = " WHERE granularity = " + add(params, g) + " AND bucket_ms >= " +
                                 add(params, q.from_ms) + " AND bucket_ms < " + add(params, q.to_ms);
  const std::string dim = add(params, std::string(rollup::dim_name(*q.by)));
  const std::string limit = add(params, static_cast<std::int64_t>(q.max_groups + 1));
  std::vector<std::string> top;
  e = db.each("SELECT value, sum(requests) FROM usage_rollup" + rank_range + " AND dim = " + dim +
                  " GROUP BY value ORDER BY 2 DESC, value LIMIT " + limit,
              params, "ranking the usage groups", [&](const SqlRow& r) { top.push_back(r.text(0)); });
  if (e) return *e;
  const bool other = top.size() > q.max_groups;
  if (other) top.resize(q.max_groups);
  if (top.empty()) return out;

  params = base;
  const std::string dim2 = add(params, std::string(rollup::dim_name(*q.by)));
  std::string group = "value";
  if (other) {
    std::string in;
    for (const auto& v : top) in += (in.empty() ? "" : ", ") + add(params, v);
    group = "CASE WHEN value IN (" + in + ") THEN value ELSE '" + kOther + "' END";
  }
  std::map<std::string, std::vector<UsagePoint>> points;
  e = db.each("SELECT " + t + ", " + group + ", " + kSums + " FROM usage_rollup" + range + " AND dim = " + dim2 +
                  " GROUP BY 1, 2 ORDER BY 1",
              params, "reading the usage groups' series", [&](const SqlRow& r) {
                UsagePoint pt;
                pt.t_ms = r.i64(0);
                read_figures(r, 2, pt);
                points[r.text(1)].push_back(std::move(pt));
              });
  if (e) return *e;
  if (other) top.push_back(kOther);
  for (auto& name : top) {
    auto it = points.find(name);
    if (it == points.end()) continue;
    out.groups.push_back(UsageGroupSeries{name, std::move(it->second)});
  }
  return out;
}

std::variant<UsageGroupsPage, std::string> usage_groups(SqlReader& db, const UsageGroupsQuery& q) {
  UsageGroupsPage out;
  if (q.to_ms <= q.from_ms || q.limit == 0) return out;
  std::vector<SqlValue> params;
  const std::string dim = add(params, std::string(rollup::dim_name(q.by)));
  const std::string col = group_column(q.by);
  std::vector<std::string> parts;
  // [lo, hi) read from the raw usage rows (the unaligned edges, under a minute each).
  auto raw = [&](std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return;
    parts.push_back("SELECT " + col +
                    " AS value, 1 AS requests, CASE WHEN status_code >= 400 THEN 1 ELSE 0 END AS errors, "
                    "input_token_count AS input_tokens, output_token_count AS output_tokens, cost_usd "
                    "FROM usage WHERE request_time >= " + add(params, lo) + " AND request_time < " +
                    add(params, hi));
  };
  const bool minutes = rollup::has_minutes(rollup::dim_name(q.by));
  auto rolled = [&](char g, std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return;
    if (g == 'm' && !minutes) return raw(lo, hi);  // (under an hour at each edge)
    parts.push_back(std::string("SELECT value, requests, errors, input_tokens, output_tokens, cost_usd "
                                "FROM usage_rollup WHERE granularity = '") +
                    g + "' AND dim = " + dim + " AND bucket_ms >= " + add(params, lo) + " AND bucket_ms < " +
                    add(params, hi));
  };
  auto up = [](std::int64_t v, std::int64_t unit) {
    const std::int64_t f = v / unit * unit;
    return f < v ? f + unit : f;
  };
  auto down = [](std::int64_t v, std::int64_t unit) { return v / unit * unit; };
  // The range as the coarsest buckets that fit inside it, finer ones towards its edges.
  const std::int64_t m1 = up(q.from_ms, kMinute), m2 = down(q.to_ms, kMinute);
  if (m1 >= m2) {
    raw(q.from_ms, q.to_ms);
  } else {
    raw(q.from_ms, m1);
    raw(m2, q.to_ms);
    const std::int64_t h1 = up(m1, kHour), h2 = down(m2, kHour);
    if (h1 >= h2) {
      rolled('m', m1, m2);
    } else {
      rolled('m', m1, h1);
      rolled('m', h2, m2);
      const std::int64_t d1 = up(h1, kDay), d2 = down(h2, kDay);
      if (d1 >= d2) {
        rolled('h', h1, h2);
      } else {
        rolled('h', h1, d1);
        rolled('h', d2, h2);
        rolled('d', d1, d2);
      }
    }
  }
  std::string all;
  for (const auto& part : parts) all += (all.empty() ? "" : " UNION ALL ") + part;
  std::string sql =
      "SELECT value, requests, errors, input_tokens, output_tokens, cost_usd FROM (SELECT value, "
      "sum(requests) AS requests, sum(errors) AS errors, sum(input_tokens) AS input_tokens, "
      "sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd FROM (" +
      all + ") u GROUP BY value) g";
  if (q.after) {
    const std::string c = add(params, q.after->first);
    const std::string v = add(params, q.after->second);
    sql += " WHERE cost_usd < " + c + " OR (cost_usd = " + c + " AND value > " + v + ")";
  }
  sql += " ORDER BY cost_usd DESC, value LIMIT " + add(params, static_cast<std::int64_t>(q.limit + 1));
  auto e = db.each(sql, params, "reading the usage groups", [&](const SqlRow& r) {
    UsageSummary s;
    s.group = r.text(0);
    s.requests = r.i64(1);
    s.errors = r.i64(2);
    s.input_tokens = r.i64(3);
    s.output_tokens = r.i64(4);
    s.cost_usd = r.f64(5);
    out.rows.push_back(std::move(s));
  });
  if (e) return *e;
  out.has_more = out.rows.size() > q.limit;
  if (out.has_more) out.rows.resize(q.limit);
  return out;
}

std::variant<InferencePage, std::string> inference_page(SqlReader& db, const InferencePageQuery& q) {
  std::vector<SqlValue> params;
  std::string sql = std::string("SELECT ") + kInferenceListColumns + " FROM inference_log WHERE " +
                    time_window(params, q.from_ms, q.to_ms, q.before);
  if (!q.model.empty()) sql += " AND model = " + add(params, q.model);
  if (!q.key_name.empty()) sql += " AND key_name = " + add(params, q.key_name);
  if (q.status_code) sql += " AND status_code = " + add(params, static_cast<std::int64_t>(q.status_code));
  if (q.status_class) sql += " AND status_code / 100 = " + add(params, static_cast<std::int64_t>(q.status_class));
  sql += " ORDER BY request_time DESC, id DESC LIMIT " + add(params, static_cast<std::int64_t>(q.limit + 1));
  InferencePage out;
  auto e = db.each(sql, params, "reading the inference log",
                   [&](const SqlRow& r) { out.rows.push_back(read_inference(r, false)); });
  if (e) return *e;
  out.has_more = out.rows.size() > q.limit;
  if (out.has_more) out.rows.resize(q.limit);
  return out;
}

std::variant<std::optional<InferenceRow>, std::string> inference_row(SqlReader& db, const std::string& request_id) {
  std::optional<InferenceRow> out;
  auto e = db.each(std::string("SELECT ") + kInferenceColumns +
                       " FROM inference_log WHERE request_id = $1 ORDER BY request_time DESC, id DESC LIMIT 1",
                   {request_id}, "reading an inference log row",
                   [&](const SqlRow& r) { out = read_inference(r, true); });
  if (e) return *e;
  return out;
}

std::variant<McpCallPage, std::string> mcp_call_page(SqlReader& db, const McpCallPageQuery& q) {
  std::vector<SqlValue> params;
  std::string sql =
      "SELECT id, request_id, request_time, requester, key_name, user_name, project, endpoint, server, tool, "
      "outcome, error, duration_ms, payload_truncated, guardrails, approval_id, trace_id FROM mcp_calls "
      "WHERE " +
      time_window(params, q.from_ms, q.to_ms, q.before);
  if (!q.server.empty()) sql += " AND server = " + add(params, q.server);
  if (!q.tool.empty()) sql += " AND tool = " + add(params, q.tool);
  if (!q.outcome.empty()) sql += " AND outcome = " + add(params, q.outcome);
  sql += " ORDER BY request_time DESC, id DESC LIMIT " + add(params, static_cast<std::int64_t>(q.limit + 1));
  McpCallPage out;
  auto e = db.each(sql, params, "reading the MCP tool calls", [&](const SqlRow& r) {
    McpCallRow row;
    row.id = r.i64(0);
    row.request_id = r.text(1);
    row.time_ms = r.i64(2);
    row.requester = r.text(3);
    row.key_name = r.text(4);
    row.user = r.text(5);
    row.project = r.text(6);
    row.endpoint = r.text(7);
    row.server = r.text(8);
    row.tool = r.text(9);
    row.outcome = r.text(10);
    row.error = r.text(11);
    row.duration_ms = r.f64(12);
    row.payload_truncated = r.i64(13) != 0;
    row.guardrails = r.text(14);
    row.approval_id = r.text(15);
    row.trace_id = r.text(16);
    out.rows.push_back(std::move(row));
  });
  if (e) return *e;
  out.has_more = out.rows.size() > q.limit;
  if (out.has_more) out.rows.resize(q.limit);
  return out;
}

std::variant<AuditPage, std::string> audit_page(SqlReader& db, const AuditPageQuery& q) {
  std::vector<SqlValue> params;
  std::string sql =
      "SELECT id, time, kind, actor, subject, detail, request_id, prev_hash, hash FROM audit WHERE id > 0";
  if (!q.kind.empty()) sql += " AND kind = " + add(params, q.kind);
  if (q.before_id > 0) sql += " AND id < " + add(params, q.before_id);
  sql += " ORDER BY id DESC LIMIT " + add(params, static_cast<std::int64_t>(q.limit + 1));
  AuditPage out;
  auto e = db.each(sql, params, "reading the audit chain", [&](const SqlRow& r) {
    AuditRow row;
    row.id = r.i64(0);
    row.time_ms = r.i64(1);
    row.kind = r.text(2);
    row.actor = r.text(3);
    row.subject = r.text(4);
    row.detail = r.text(5);
    row.request_id = r.text(6);
    row.prev_hash = r.text(7);
    row.hash = r.text(8);
    out.rows.push_back(std::move(row));
  });
  if (e) return *e;
  out.has_more = out.rows.size() > q.limit;
  if (out.has_more) out.rows.resize(q.limit);
  return out;
}

}  // namespace gatehouse::store::reads
