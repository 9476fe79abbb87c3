// billing: the config (each mistake refused with its place), the Statement Execution API's
// request and answers, the query's rows as stored rows, and the SQLite billing table (an import
// replaces its days in one transaction; a failure keeps them; the daily claim; model spend per
// day and project).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "billing/statement.h"
#include "config/load.h"
#include "diagnostics_util.h"
#include "store/billing_table.h"
#include "store/record_store.h"
#include "temp_dir.h"

namespace gatehouse::billing {
namespace {

using test_util::all;
using test_util::no_env;
using test_util::only;

constexpr const char* kProviders = R"(providers:
  dbx:
    kind: databricks
    host: https://adb-1.azuredatabricks.net
    auth: {token: dapi-secret}
  oa:
    kind: openai-compatible
    base_url: https://api.openai.com/v1
    auth: {token: sk-x}
)";

config::LoadResult load(const std::string& billing, const std::string& providers = kProviders,
                        const std::string& store = "store: {sqlite: ./gh.db}\n") {
  return config::load_string(providers + store + billing, "b.yaml", no_env());
}

TEST(BillingConfig, ReadsTheSettingsAndTheDefaults) {
  auto r = load("billing:\n  databricks: {warehouse_id: abc123, tag: team, provider: dbx, days: 7, at: \"03:30\"}\n");
  ASSERT_TRUE(r.config) << all(r);
  const auto& b = *r.config->billing.databricks;
  EXPECT_EQ(b.warehouse_id, "abc123");
  EXPECT_EQ(b.tag, "team");
  EXPECT_EQ(b.provider, "dbx");
  EXPECT_EQ(b.days, 7);
  EXPECT_EQ(b.at_minute, 3 * 60 + 30);

  auto d = load("billing:\n  databricks: {warehouse_id: abc123}\n");
  ASSERT_TRUE(d.config) << all(d);
  const auto& dd = *d.config->billing.databricks;
  EXPECT_EQ(dd.tag, "project");
  EXPECT_EQ(dd.provider, "dbx");  // the only databricks provider
  EXPECT_EQ(dd.days, 30);
  EXPECT_EQ(dd.at_minute, 120);

  auto none = load("");
  ASSERT_TRUE(none.config);
  EXPECT_FALSE(none.config->billing.databricks);
}

TEST(BillingConfig, RefusesEachMistakeWithItsPlace) {
  auto unknown = load("billing:\n  databricks: {warehouse_id: abc, tags: team}\n");
  EXPECT_FALSE(unknown.config);
  auto u = only(unknown, "unknown key 'tags' in billing.databricks");
  EXPECT_EQ(u.line, 12);
  EXPECT_EQ(u.column, 35);

  auto top = load("billing:\n  snowflake: {}\n");
  EXPECT_FALSE(top.config);
  only(top, "unknown key 'snowflake' in billing");

  auto empty = load("billing:\n  databricks: {warehouse_id: \"\"}\n");
  EXPECT_FALSE(empty.config);
  EXPECT_EQ(only(empty, "warehouse_id must not be empty").line, 12);

  auto missing = load("billing:\n  databricks: {tag: team}\n");
  EXPECT_FALSE(missing.config);
  only(missing, "needs a warehouse_id");

  auto no_dbx = load("billing:\n  databricks: {warehouse_id: abc}\n",
                     "providers:\n  oa: {kind: openai-compatible, base_url: https://api.openai.com/v1, auth: {token: x}}\n");
  EXPECT_FALSE(no_dbx.config);
  only(no_dbx, "needs a provider of kind databricks");

  auto wrong_kind = load("billing:\n  databricks: {warehouse_id: abc, provider: oa}\n");
  EXPECT_FALSE(wrong_kind.config);
  only(wrong_kind, "provider 'oa' is of kind openai");

  auto unknown_provider = load("billing:\n  databricks: {warehouse_id: abc, provider: nope}\n");
  EXPECT_FALSE(unknown_provider.config);
  only(unknown_provider, "no provider named 'nope'");

  auto two = load("billing:\n  databricks: {warehouse_id: abc}\n",
                  std::string(kProviders) +
                      "  dbx2: {kind: databricks, host: https://adb-2.azuredatabricks.net, auth: {token: t}}\n");
  EXPECT_FALSE(two.config);
  only(two, "several databricks providers (dbx, dbx2)");

  auto at = load("billing:\n  databricks: {warehouse_id: abc, at: \"25:00\"}\n");
  EXPECT_FALSE(at.config);
  only(at, "billing.databricks.at must be a time of day in UTC as HH:MM");

  auto days = load("billing:\n  databricks: {warehouse_id: abc, days: 400}\n");
  EXPECT_FALSE(days.config);
  only(days, "billing.databricks.days must be between 1 and 92");

  auto id = load("billing:\n  databricks: {warehouse_id: \"abc/../x\"}\n");
  EXPECT_FALSE(id.config);
  only(id, "warehouse_id must be a warehouse id");

  auto no_store = load("billing:\n  databricks: {warehouse_id: abc}\n", kProviders, "");
  EXPECT_FALSE(no_store.config);
  EXPECT_EQ(only(no_store, "billing needs a store").line, 11);
}

TEST(BillingConfig, RefusesAProviderWithoutItsOwnCredential) {
  auto r = load("billing:\n  databricks: {warehouse_id: abc}\nauth:\n  jwt: {issuer: https://i, audience: a, jwks_file: ./j.json}\n",
                "providers:\n  dbx: {kind: databricks, host: https://adb-1.azuredatabricks.net, auth: {passthrough: true}}\n");
  EXPECT_FALSE(r.config);
  only(r, "has no credential of its own");
}

std::string text(const boost::json::value& v) { return v.is_string() ? std::string(v.get_string()) : "(not a string)"; }

TEST(Statement, TheRequestPassesEveryValueAsAParameter) {
  config::DatabricksBillingConfig cfg;
  cfg.warehouse_id = "wh1";
  cfg.tag = "team'; DROP TABLE x; --";
  auto body = boost::json::parse(statement_body(cfg, "2026-11-06", "2026-12-05")).as_object();
  EXPECT_EQ(text(body.at("warehouse_id")), "wh1");
  EXPECT_EQ(text(body.at("format")), "JSON_ARRAY");
  EXPECT_EQ(text(body.at("disposition")), "INLINE");
  EXPECT_EQ(text(body.at("on_wait_timeout")), "CONTINUE");
  const std::string sql(body.at("statement").as_string());
  EXPECT_EQ(sql, kDbuQuery);
  EXPECT_EQ(sql.find("DROP"), std::string::npos);
  EXPECT_EQ(sql.find("2026"), std::string::npos);
  for (const char* marker : {":tag", ":from_day", ":to_day"}) EXPECT_NE(sql.find(marker), std::string::npos) << marker;
  const auto& params = body.at("parameters").as_array();
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(text(params[0].as_object().at("name")), "tag");
  EXPECT_EQ(text(params[0].as_object().at("value")), cfg.tag);
  EXPECT_EQ(text(params[1].as_object().at("name")), "from_day");
  EXPECT_EQ(text(params[1].as_object().at("value")), "2026-11-06");
  EXPECT_EQ(text(params[1].as_object().at("type")), "DATE");
  EXPECT_EQ(text(params[2].as_object().at("value")), "2026-12-05");
}

TEST(Statement, ParsesEachStateAndTheResult) {
  auto pending = parse_statement(R"({"statement_id":"01ef-aa","status":{"state":"PENDING"}})");
  ASSERT_TRUE(std::holds_alternative<StatementAnswer>(pending)) << std::get<std::string>(pending);
  EXPECT_EQ(std::get<StatementAnswer>(pending).state, State::kPending);
  EXPECT_FALSE(std::get<StatementAnswer>(pending).result);

  auto failed = parse_statement(
      R"({"statement_id":"01ef-aa","status":{"state":"FAILED","error":{"error_code":"BAD_REQUEST","message":"[TABLE_OR_VIEW_NOT_FOUND] system.billing.usage"}}})");
  ASSERT_TRUE(std::holds_alternative<StatementAnswer>(failed));
  EXPECT_EQ(std::get<StatementAnswer>(failed).state, State::kFailed);
  EXPECT_EQ(std::get<StatementAnswer>(failed).error, "BAD_REQUEST: [TABLE_OR_VIEW_NOT_FOUND] system.billing.usage");

  auto ok = parse_statement(R"({"statement_id":"01ef-aa","status":{"state":"SUCCEEDED"},
    "manifest":{"format":"JSON_ARRAY","schema":{"column_count":2,"columns":[{"name":"day","position":0},{"name":"dbus","position":1}]},
                "total_chunk_count":2,"truncated":false},
    "result":{"chunk_index":0,"row_offset":0,"row_count":2,"data_array":[["2026-12-01","1.5"],["2026-12-02",null]],
              "next_chunk_index":1,"next_chunk_internal_link":"/api/2.0/sql/statements/01ef-aa/result/chunks/1?row_offset=2"}})");
  ASSERT_TRUE(std::holds_alternative<StatementAnswer>(ok)) << std::get<std::string>(ok);
  const auto& a = std::get<StatementAnswer>(ok);
  EXPECT_EQ(a.state, State::kSucceeded);
  EXPECT_EQ(a.columns, (std::vector<std::string>{"day", "dbus"}));
  EXPECT_EQ(a.total_chunk_count, 2);
  ASSERT_TRUE(a.result);
  ASSERT_EQ(a.result->rows.size(), 2u);
  EXPECT_EQ(a.result->rows[0][1], "1.5");
  EXPECT_FALSE(a.result->rows[1][1]);
  EXPECT_EQ(a.result->next_chunk_index, 1);
  EXPECT_EQ(a.result->next_chunk_internal_link, "/api/2.0/sql/statements/01ef-aa/result/chunks/1?row_offset=2");

  auto chunk = parse_chunk(R"({"chunk_index":1,"row_offset":2,"row_count":1,"data_array":[["2026-12-03","2"]]})");
  ASSERT_TRUE(std::holds_alternative<Chunk>(chunk));
  EXPECT_EQ(std::get<Chunk>(chunk).rows.size(), 1u);
  EXPECT_FALSE(std::get<Chunk>(chunk).next_chunk_index);

  EXPECT_TRUE(std::holds_alternative<std::string>(parse_statement("not json")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_statement(R"({"status":{"state":"PENDING"}})")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_statement(R"({"statement_id":"a/../b","status":{"state":"PENDING"}})")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_statement(R"({"statement_id":"a","status":{"state":"DONE"}})")));
  EXPECT_EQ(api_error(R"({"error_code":"PERMISSION_DENIED","message":"no USE on warehouse"})"),
            "PERMISSION_DENIED: no USE on warehouse");
  EXPECT_EQ(api_error("<html>"), "");
}

const std::vector<std::string> kColumns = {"day", "project", "dbus", "cost", "currency", "currencies"};

TEST(Statement, RowsBecomeStoredRows) {
  Rows rows = {{"2026-12-01", "search", "10.5", "5.25", "USD", "1"},
               {"2026-12-01", "", "2", "1", "USD", "1"},
               {"2026-12-02", "search", "4", std::nullopt, std::nullopt, "0"},
               {"2026-12-02", "search", "1", "0.5", "USD", "1"}};
  auto out = dbu_rows(kColumns, rows, "2026-11-06", "2026-12-05", 1765000000);
  ASSERT_TRUE(std::holds_alternative<std::vector<store::DbuRow>>(out)) << std::get<std::string>(out);
  const auto& r = std::get<std::vector<store::DbuRow>>(out);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].day, "2026-12-01");
  EXPECT_EQ(r[0].project, "");
  EXPECT_EQ(r[1].project, "search");
  EXPECT_DOUBLE_EQ(r[1].dbus, 10.5);
  EXPECT_DOUBLE_EQ(*r[1].cost_usd, 5.25);
  EXPECT_EQ(r[1].imported_at, 1765000000);
  // Part of the day's usage had no price: its cost is not measured, not a partial sum.
  EXPECT_DOUBLE_EQ(r[2].dbus, 5);
  EXPECT_FALSE(r[2].cost_usd);

  auto outside = dbu_rows(kColumns, {{"2026-10-01", "a", "1", "1", "USD", "1"}}, "2026-11-06", "2026-12-05", 0);
  EXPECT_TRUE(std::holds_alternative<std::string>(outside));
  auto eur = dbu_rows(kColumns, {{"2026-12-01", "a", "1", "1", "EUR", "1"}}, "2026-11-06", "2026-12-05", 0);
  ASSERT_TRUE(std::holds_alternative<std::string>(eur));
  EXPECT_NE(std::get<std::string>(eur).find("not USD"), std::string::npos);
  auto nan = dbu_rows(kColumns, {{"2026-12-01", "a", "many", "1", "USD", "1"}}, "2026-11-06", "2026-12-05", 0);
  EXPECT_TRUE(std::holds_alternative<std::string>(nan));
  auto lacking = dbu_rows({"day", "dbus"}, {}, "2026-11-06", "2026-12-05", 0);
  EXPECT_TRUE(std::holds_alternative<std::string>(lacking));
}

TEST(BillingDays, RoundTrip) {
  EXPECT_EQ(store::day_of(0), "1970-01-01");
  EXPECT_EQ(store::days_of("1970-01-02"), 1);
  EXPECT_EQ(store::day_of(*store::days_of("2026-12-05")), "2026-12-05");
  EXPECT_EQ(*store::days_of("2026-03-01") - *store::days_of("2026-02-28"), 1);
  EXPECT_FALSE(store::days_of("2026-02-30"));
  EXPECT_FALSE(store::days_of("2026-12-5"));
}

store::DbuRow row(std::string day, std::string project, double dbus, std::optional<double> cost) {
  store::DbuRow r;
  r.day = std::move(day);
  r.project = std::move(project);
  r.dbus = dbus;
  r.cost_usd = cost;
  r.imported_at = 100;
  return r;
}

TEST(BillingTable, AnImportReplacesItsDaysAndAFailureKeepsThem) {
  test_util::TempDir dir;
  auto opened = store::open_sqlite_billing(dir.file("gh.db"));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<store::BillingTable>>(opened)) << std::get<std::string>(opened);
  auto& t = *std::get<0>(opened);
  EXPECT_FALSE(std::get<0>(t.last_run()));

  std::vector<store::DbuRow> first = {row("2026-11-30", "a", 1, 0.5), row("2026-12-01", "a", 2, 1),
                                      row("2026-12-01", "b", 3, std::nullopt)};
  store::ImportRun run{100, true, 3, "", "2026-11-30", "2026-12-01"};
  ASSERT_FALSE(t.replace_days("2026-11-30", "2026-12-01", first, run));
  ASSERT_FALSE(t.replace_days("2026-11-30", "2026-12-01", first, run));  // idempotent
  auto rows = std::get<0>(t.dbu("2026-11-01", "2026-12-31"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_FALSE(rows[2].cost_usd);

  // The next import covers 2026-12-01..02: 11-30 stays, 12-01 is replaced (b gone).
  std::vector<store::DbuRow> second = {row("2026-12-01", "a", 5, 2.5), row("2026-12-02", "c", 1, 1)};
  store::ImportRun run2{200, true, 2, "", "2026-12-01", "2026-12-02"};
  ASSERT_FALSE(t.replace_days("2026-12-01", "2026-12-02", second, run2));
  rows = std::get<0>(t.dbu("2026-11-01", "2026-12-31"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].day, "2026-11-30");
  EXPECT_EQ(rows[1].project, "a");
  EXPECT_DOUBLE_EQ(rows[1].dbus, 5);
  EXPECT_EQ(rows[2].project, "c");

  // A row outside the days in one transaction with the rest: nothing changes when one fails.
  std::vector<store::DbuRow> clash = {row("2026-12-01", "a", 9, 9), row("2026-12-01", "a", 9, 9)};
  EXPECT_TRUE(t.replace_days("2026-12-01", "2026-12-02", clash, store::ImportRun{300, true, 2, "", "2026-12-01", "2026-12-02"}));
  EXPECT_EQ(std::get<0>(t.dbu("2026-11-01", "2026-12-31")).size(), 3u);
  EXPECT_EQ(std::get<0>(t.last_run())->at, 200);

  ASSERT_FALSE(t.record_failure(store::ImportRun{400, false, 0, "FAILED: no", "2026-12-01", "2026-12-02"}));
  EXPECT_EQ(std::get<0>(t.dbu("2026-11-01", "2026-12-31")).size(), 3u);
  auto last = *std::get<0>(t.last_run());
  EXPECT_FALSE(last.ok);
  EXPECT_EQ(last.error, "FAILED: no");
  EXPECT_EQ(last.at, 400);
}

TEST(BillingTable, OneReplicaTakesTheDailyImport) {
  test_util::TempDir dir;
  auto a = std::move(std::get<0>(store::open_sqlite_billing(dir.file("gh.db"))));
  auto b = std::move(std::get<0>(store::open_sqlite_billing(dir.file("gh.db"))));
  EXPECT_TRUE(std::get<bool>(a->claim(10'000, 10'000 - 86'400, 10'000 - 3'600)));
  EXPECT_FALSE(std::get<bool>(b->claim(10'001, 10'001 - 86'400, 10'001 - 3'600)));  // taken, not stale
  ASSERT_FALSE(a->replace_days("2026-12-01", "2026-12-01", {}, store::ImportRun{10'050, true, 0, "", "2026-12-01", "2026-12-01"}));
  // Done within the day: nobody takes it again, however stale the claim.
  EXPECT_FALSE(std::get<bool>(b->claim(20'000, 20'000 - 86'400, 20'000)));
  // A day later it is due again.
  EXPECT_TRUE(std::get<bool>(b->claim(100'000, 100'000 - 86'400, 100'000 - 3'600)));
}

TEST(BillingTable, ModelSpendPerDayAndProject) {
  test_util::TempDir dir;
  auto records = std::move(std::get<0>(store::open_sqlite_records(dir.file("gh.db"))));
  auto usage = [](std::int64_t ms, std::string project, double cost) {
    store::UsageRecord u;
    u.request_id = "r" + std::to_string(ms);
    u.request_time_ms = ms;
    u.project = std::move(project);
    u.cost_usd = cost;
    u.status_code = 200;
    return u;
  };
  const std::int64_t day = *store::days_of("2026-12-01") * 86'400'000;
  std::vector<store::UsageRecord> rows = {usage(day + 1, "a", 0.25), usage(day + 2, "a", 0.5), usage(day + 3, "b", 1),
                                          usage(day + 86'400'000, "a", 2), usage(day - 1, "a", 100)};
  ASSERT_FALSE(records->append_usage(rows));
  auto t = std::move(std::get<0>(store::open_sqlite_billing(dir.file("gh.db"))));
  auto got = std::get<0>(t->model_cost(day, day + 2 * 86'400'000));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].day, "2026-12-01");
  EXPECT_EQ(got[0].project, "a");
  EXPECT_DOUBLE_EQ(got[0].cost_usd, 0.75);
  EXPECT_EQ(got[1].project, "b");
  EXPECT_EQ(got[2].day, "2026-12-02");
  EXPECT_DOUBLE_EQ(got[2].cost_usd, 2);
}

}  // namespace
}  // namespace gatehouse::billing
