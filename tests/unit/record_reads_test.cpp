// The admin API's reads of the record store (store/record_reads.cpp) on SQLite: series and
// groups from the rollups (checked against totals computed here from the rows), the schema's
// backfill (the same rollups as the write path), keyset pages over the logs and the audit chain.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <random>
#include <set>

#include "records_util.h"
#include "store/record_store.h"
#include "store/usage_rollup.h"
#include "temp_dir.h"

namespace gatehouse::store {
namespace {

using test_util::open_records;

constexpr std::int64_t kMin = 60'000, kHour = 3'600'000, kDay = 86'400'000;
// 2025-12-01T00:00:00Z
constexpr std::int64_t kT0 = 1'764'547'200'000;

template <class T>
T ok(std::variant<T, std::string> r) {
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *e;
    return T{};
  }
  return std::get<T>(std::move(r));
}

UsageRecord usage(std::int64_t at, std::string key, std::string model, double cost, int status = 200,
                  double duration = 100, double upstream = 90) {
  UsageRecord r;
  r.request_id = "r" + std::to_string(at);
  r.request_time_ms = at;
  r.key_name = std::move(key);
  r.requester = r.key_name;
  r.project = r.key_name == "k1" ? "p1" : "p2";
  r.user = "u-" + r.key_name;
  r.end_user = at % 2 ? "alice" : "bob";
  r.model = std::move(model);
  r.input_tokens = 10;
  r.output_tokens = 3;
  r.cost_usd = cost;
  r.status_code = status;
  r.duration_ms = duration;
  r.upstream_duration_ms = upstream;
  return r;
}

// Random rows over three days: 12 keys, 3 models, some errors.
std::vector<UsageRecord> random_rows(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<UsageRecord> rows;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t at = kT0 + static_cast<std::int64_t>(rng() % (3 * kDay));
    rows.push_back(usage(at, "k" + std::to_string(rng() % 12), "m" + std::to_string(rng() % 3),
                         double(rng() % 1000) / 1000.0, rng() % 10 == 0 ? 500 : 200, double(rng() % 2000) / 10.0,
                         double(rng() % 100) / 10.0));
  }
  return rows;
}

void write_all(RecordStore& s, const std::vector<UsageRecord>& rows, std::size_t batch = 97) {
  for (std::size_t i = 0; i < rows.size(); i += batch) {
    RecordBatch b;
    for (std::size_t j = i; j < rows.size() && j < i + batch; ++j) b.usage.push_back(rows[j]);
    ASSERT_FALSE(s.write(b).has_value());
  }
}

TEST(RecordReads, BinsMatchTheBounds) {
  EXPECT_EQ(rollup::bin_of(0), 0);
  EXPECT_EQ(rollup::bin_of(0.05), 0);
  EXPECT_EQ(rollup::bin_of(0.1), 1);  // [0.1, 0.15)
  EXPECT_EQ(rollup::bin_of(210), 21);  // [200, 300)
  EXPECT_EQ(rollup::bin_of(1e9), 42);
  std::vector<std::int64_t> h(rollup::kBinUpper.size());
  EXPECT_FALSE(rollup::quantile(h, 0.5).has_value());
  h[21] = 10;  // ten requests in [200, 300)
  EXPECT_NEAR(*rollup::quantile(h, 0.5), 250, 1e-9);
  EXPECT_NEAR(*rollup::quantile(h, 1.0), 300, 1e-9);
}

TEST(RecordReads, TheSchemaBinsAreTheCodes) {
  test_util::TempDir dir;
  ASSERT_TRUE(open_records(dir.file("r.db")));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("r.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT bin, upper FROM latency_bins ORDER BY bin", -1, &s, nullptr), SQLITE_OK);
  std::size_t n = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    EXPECT_EQ(sqlite3_column_int(s, 0), static_cast<int>(n));
    EXPECT_DOUBLE_EQ(sqlite3_column_double(s, 1), rollup::kBinUpper[n]);
    ++n;
  }
  EXPECT_EQ(n, rollup::kBinUpper.size());
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// Series totals per bucket and the busiest groups, with the rest as "(other)".
TEST(RecordReads, SeriesSumsBucketsAndFoldsTheRestIntoOther) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("r.db"));
  ASSERT_TRUE(s);
  std::vector<UsageRecord> rows;
  // Minute 0: ten models with 10 - i requests each; minute 2: one k1 request, an error.
  for (int m = 0; m < 10; ++m) {
    for (int i = 0; i < 10 - m; ++i) rows.push_back(usage(kT0 + i * 100 + m, "k1", "model" + std::to_string(m), 0.01));
  }
  rows.push_back(usage(kT0 + 2 * kMin + 5, "k1", "model0", 1.0, 502, 1800, 1790));
  write_all(*s, rows);

  UsageSeriesQuery q;
  q.from_ms = kT0;
  q.to_ms = kT0 + 5 * kMin;
  q.bucket_ms = kMin;
  q.by = UsageGroup::kModel;
  auto series = ok(s->usage_series(q));
  ASSERT_EQ(series.totals.size(), 2u);  // empty buckets omitted
  EXPECT_EQ(series.totals[0].t_ms, kT0);
  EXPECT_EQ(series.totals[0].requests, 55);
  EXPECT_EQ(series.totals[0].errors, 0);
  EXPECT_EQ(series.totals[0].input_tokens, 550);
  EXPECT_NEAR(series.totals[0].cost_usd, 0.55, 1e-9);
  // Every request took 100 ms ([100, 150)) with 90 upstream: 10 ms overhead ([10, 15)).
  ASSERT_TRUE(series.totals[0].p50_ms && series.totals[0].p99_ms);
  EXPECT_GE(*series.totals[0].p50_ms, 100);
  EXPECT_LE(*series.totals[0].p99_ms, 150);
  ASSERT_TRUE(series.totals[0].overhead_p50_ms);
  EXPECT_GE(*series.totals[0].overhead_p50_ms, 10);
  EXPECT_LE(*series.totals[0].overhead_p50_ms, 15);
  EXPECT_EQ(series.totals[1].t_ms, kT0 + 2 * kMin);
  EXPECT_EQ(series.totals[1].errors, 1);
  EXPECT_GE(*series.totals[1].p50_ms, 1500);
  EXPECT_LE(*series.totals[1].p50_ms, 2000);

  ASSERT_EQ(series.groups.size(), 9u);
  EXPECT_EQ(series.groups[0].group, "model0");
  ASSERT_EQ(series.groups[0].points.size(), 2u);
  EXPECT_EQ(series.groups[0].points[0].requests, 10);
  EXPECT_EQ(series.groups[0].points[1].requests, 1);
  EXPECT_EQ(series.groups[7].group, "model7");
  EXPECT_EQ(series.groups[8].group, "(other)");
  ASSERT_EQ(series.groups[8].points.size(), 1u);
  EXPECT_EQ(series.groups[8].points[0].requests, 2 + 1);  // model8 and model9

  // Hour buckets over a day read the hour rollups: the same totals.
  q.from_ms = kT0;
  q.to_ms = kT0 + kDay;
  q.bucket_ms = 2 * kHour;
  q.by.reset();
  series = ok(s->usage_series(q));
  ASSERT_EQ(series.totals.size(), 1u);
  EXPECT_EQ(series.totals[0].requests, 56);
  EXPECT_TRUE(series.groups.empty());
}

// Groups over ranges that cut minutes, hours and days anywhere equal the rows' own totals, and
// pages walk every group once.
TEST(RecordReads, GroupsOverAnyRangeEqualTheRows) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("r.db"));
  ASSERT_TRUE(s);
  const auto rows = random_rows(3000, 7);
  write_all(*s, rows);
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 30; ++trial) {
    // Keys have minute rollups; users and end users hours and days only (raw rows at the edges).
    const UsageGroup by = trial % 3 == 0 ? UsageGroup::kKey : trial % 3 == 1 ? UsageGroup::kUser : UsageGroup::kEndUser;
    auto name_of = [&](const UsageRecord& r) {
      return by == UsageGroup::kKey ? r.key_name : by == UsageGroup::kUser ? r.user : r.end_user;
    };
    std::int64_t a = kT0 - kHour + static_cast<std::int64_t>(rng() % (3 * kDay + 2 * kHour));
    std::int64_t b = kT0 - kHour + static_cast<std::int64_t>(rng() % (3 * kDay + 2 * kHour));
    if (a > b) std::swap(a, b);
    std::map<std::string, UsageSummary> want;
    for (const auto& r : rows) {
      if (r.request_time_ms < a || r.request_time_ms >= b) continue;
      auto& w = want[name_of(r)];
      w.group = name_of(r);
      w.requests += 1;
      w.errors += r.status_code >= 400;
      w.input_tokens += r.input_tokens;
      w.output_tokens += r.output_tokens;
      w.cost_usd += r.cost_usd;
    }
    UsageGroupsQuery q;
    q.by = by;
    q.from_ms = a;
    q.to_ms = b;
    q.limit = 5;
    std::map<std::string, UsageSummary> got;
    double last_cost = 1e300;
    for (int page = 0; page < 10; ++page) {
      auto p = ok(s->usage_groups(q));
      for (const auto& g : p.rows) {
        EXPECT_LE(g.cost_usd, last_cost + 1e-12);
        last_cost = g.cost_usd;
        EXPECT_TRUE(got.emplace(g.group, g).second) << "group " << g.group << " twice";
      }
      if (!p.has_more) break;
      q.after = std::pair{p.rows.back().cost_usd, p.rows.back().group};
    }
    ASSERT_EQ(got.size(), want.size()) << "range " << a << ".." << b;
    for (const auto& [name, w] : want) {
      const auto& g = got[name];
      EXPECT_EQ(g.requests, w.requests) << name;
      EXPECT_EQ(g.errors, w.errors) << name;
      EXPECT_EQ(g.input_tokens, w.input_tokens) << name;
      EXPECT_NEAR(g.cost_usd, w.cost_usd, 1e-9) << name;
    }
  }
  // The end-user dimension (usage_context.end_user).
  UsageGroupsQuery q;
  q.by = UsageGroup::kEndUser;
  q.from_ms = kT0;
  q.to_ms = kT0 + 3 * kDay;
  auto p = ok(s->usage_groups(q));
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0].requests + p.rows[1].requests, 3000);
}

// Rollups built by the schema step from rows already stored equal those the writes built.
TEST(RecordReads, TheSchemaBackfillsRollupsFromStoredRows) {
  test_util::TempDir dir;
  const auto rows = random_rows(2000, 3);
  UsageSeriesQuery q;
  q.from_ms = kT0;
  q.to_ms = kT0 + 3 * kDay;
  q.bucket_ms = 6 * kHour;
  q.by = UsageGroup::kModel;
  UsageSeries written;
  {
    auto s = open_records(dir.file("r.db"));
    ASSERT_TRUE(s);
    write_all(*s, rows);
    written = ok(s->usage_series(q));
  }
  {  // Back to version 5: no rollups, no step-6 indexes.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("r.db").c_str(), &db), SQLITE_OK);
    const char* sql =
        "DROP TABLE usage_rollup; DROP TABLE usage_latency; DROP TABLE latency_bins;"
        "DROP INDEX inference_by_request; DROP INDEX inference_by_model; DROP INDEX inference_by_key;"
        "DROP INDEX inference_by_status; DROP INDEX inference_by_class; DROP INDEX mcp_calls_by_server;"
        "DROP INDEX mcp_calls_by_tool; DROP INDEX mcp_calls_by_outcome; DROP INDEX audit_by_kind;"
        "UPDATE meta SET value = '5' WHERE name = 'records.schema_version';";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto s = open_records(dir.file("r.db"));
  ASSERT_TRUE(s);
  auto again = ok(s->usage_series(q));
  ASSERT_EQ(again.totals.size(), written.totals.size());
  ASSERT_FALSE(again.totals.empty());
  for (std::size_t i = 0; i < again.totals.size(); ++i) {
    EXPECT_EQ(again.totals[i].t_ms, written.totals[i].t_ms);
    EXPECT_EQ(again.totals[i].requests, written.totals[i].requests);
    EXPECT_EQ(again.totals[i].errors, written.totals[i].errors);
    EXPECT_NEAR(again.totals[i].cost_usd, written.totals[i].cost_usd, 1e-9);
    EXPECT_EQ(again.totals[i].p50_ms, written.totals[i].p50_ms);
    EXPECT_EQ(again.totals[i].p99_ms, written.totals[i].p99_ms);
    EXPECT_EQ(again.totals[i].overhead_p99_ms, written.totals[i].overhead_p99_ms);
  }
  ASSERT_EQ(again.groups.size(), written.groups.size());
  for (std::size_t i = 0; i < again.groups.size(); ++i) {
    EXPECT_EQ(again.groups[i].group, written.groups[i].group);
    EXPECT_EQ(again.groups[i].points.size(), written.groups[i].points.size());
  }
}

InferenceRecord inference(std::int64_t at, std::string model, std::string key, int status) {
  InferenceRecord r;
  r.request_id = "req-" + std::to_string(at) + "-" + model + "-" + std::to_string(status);
  r.request_time_ms = at;
  r.model = std::move(model);
  r.key_name = std::move(key);
  r.status_code = status;
  r.execution_duration_ms = 50;
  r.upstream_duration_ms = 45;
  r.request_body = R"({"messages":[]})";
  r.response_body = R"({"choices":[]})";
  return r;
}

// Keyset pages over the inference log: newest first, every row once, filters applied.
TEST(RecordReads, InferencePagesWalkEveryRowOnceWithFilters) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("r.db"));
  ASSERT_TRUE(s);
  RecordBatch b;
  const int statuses[] = {200, 200, 429, 500, 201};
  for (int i = 0; i < 120; ++i) {
    // Pairs of rows share a millisecond: the id breaks the tie.
    b.inference.push_back(inference(kT0 + (i / 2) * 1000, i % 3 ? "chat" : "embed", i % 4 ? "k1" : "k2",
                                    statuses[i % 5]));
  }
  ASSERT_FALSE(s->write(b).has_value());
  auto walk = [&](InferencePageQuery q) {
    std::vector<InferenceRow> all;
    for (int page = 0; page < 100; ++page) {
      auto p = ok(s->inference_page(q));
      for (auto& r : p.rows) {
        EXPECT_TRUE(r.request_body.empty());
        all.push_back(r);
      }
      if (!p.has_more) break;
      q.before = RowCursor{p.rows.back().request_time_ms, p.rows.back().id};
    }
    return all;
  };
  InferencePageQuery q;
  q.limit = 7;
  auto all = walk(q);
  ASSERT_EQ(all.size(), 120u);
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < all.size(); ++i) {
    ids.insert(all[i].id);
    if (i) {
      EXPECT_TRUE(all[i].request_time_ms < all[i - 1].request_time_ms ||
                  (all[i].request_time_ms == all[i - 1].request_time_ms && all[i].id < all[i - 1].id));
    }
  }
  EXPECT_EQ(ids.size(), 120u);

  q.model = "embed";
  q.status_class = 2;
  auto some = walk(q);
  int want = 0;
  for (int i = 0; i < 120; ++i) want += (i % 3 == 0 && statuses[i % 5] / 100 == 2);
  EXPECT_EQ(static_cast<int>(some.size()), want);
  for (const auto& r : some) {
    EXPECT_EQ(r.model, "embed");
    EXPECT_EQ(r.status_code / 100, 2);
  }
  InferencePageQuery exact;
  exact.status_code = 429;
  exact.key_name = "k2";
  exact.from_ms = kT0 + 10'000;
  exact.to_ms = kT0 + 50'000;
  for (const auto& r : walk(exact)) {
    EXPECT_EQ(r.status_code, 429);
    EXPECT_EQ(r.key_name, "k2");
    EXPECT_GE(r.request_time_ms, kT0 + 10'000);
    EXPECT_LT(r.request_time_ms, kT0 + 50'000);
  }
  auto one = ok(s->inference_row(all[5].request_id));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->id, all[5].id);
  EXPECT_EQ(one->request_body, R"({"messages":[]})");
  EXPECT_FALSE(ok(s->inference_row("nope")).has_value());
}

TEST(RecordReads, AuditAndMcpPagesAreNewestFirstByKeyset) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("r.db"));
  ASSERT_TRUE(s);
  RecordBatch b;
  for (int i = 0; i < 30; ++i) {
    AuditRecord a;
    a.time_ms = kT0 + i;
    a.kind = i % 3 ? "key.create" : "kill.add";
    a.actor = "test";
    b.audit.push_back(a);
    McpCallRecord c;
    c.request_id = "m" + std::to_string(i);
    c.time_ms = kT0 + i / 3;
    c.server = i % 2 ? "files" : "git";
    c.tool = "read";
    c.outcome = i % 5 ? "ok" : "denied";
    c.arguments = "{}";
    b.mcp_calls.push_back(c);
  }
  ASSERT_FALSE(s->write(b).has_value());
  AuditPageQuery aq;
  aq.kind = "kill.add";
  aq.limit = 4;
  std::vector<std::int64_t> ids;
  for (;;) {
    auto p = ok(s->audit_page(aq));
    for (const auto& r : p.rows) {
      EXPECT_EQ(r.kind, "kill.add");
      ids.push_back(r.id);
    }
    if (!p.has_more) break;
    aq.before_id = p.rows.back().id;
  }
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));

  McpCallPageQuery mq;
  mq.server = "git";
  mq.limit = 4;
  std::set<std::string> seen;
  for (;;) {
    auto p = ok(s->mcp_call_page(mq));
    for (const auto& r : p.rows) {
      EXPECT_EQ(r.server, "git");
      EXPECT_TRUE(r.arguments.empty());
      EXPECT_TRUE(seen.insert(r.request_id).second);
    }
    if (!p.has_more) break;
    mq.before = RowCursor{p.rows.back().time_ms, p.rows.back().id};
  }
  EXPECT_EQ(seen.size(), 15u);
}

}  // namespace
}  // namespace gatehouse::store
