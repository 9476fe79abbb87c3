// The records of MCP tool calls: mcp::record_tool_call through the record writer into the
// mcp_calls table and back (filters, retention), `gatehouse logs --mcp` in both formats, the
// Prometheus counter and histogram (and their label caps), and the call's span.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/records_cli.h"
#include "config/config.h"
#include "core/trace_context.h"
#include "fake_collector.h"
#include "mcp/call_record.h"
#include "record/metrics.h"
#include "record/trace.h"
#include "record/writer.h"
#include "records_util.h"
#include "runtime/services.h"
#include "store/key_rules.h"
#include "temp_dir.h"

namespace gatehouse::mcp {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ToolCallRecord call(std::string request_id, std::string server, std::string tool, std::string outcome,
                    std::int64_t time_ms) {
  ToolCallRecord c;
  c.request_id = std::move(request_id);
  c.time_ms = time_ms;
  c.requester = "alice";
  c.key_name = "alice-key";
  c.user = "alice@example.com";
  c.project = "p1";
  c.endpoint = "/mcp/data-team";
  c.server = std::move(server);
  c.tool = std::move(tool);
  c.outcome = std::move(outcome);
  c.duration_ms = 12.5;
  return c;
}

// Tool calls since `since_ms`; with() adds a filter.
store::McpCallQuery since(std::int64_t since_ms, std::size_t limit = 20) {
  store::McpCallQuery q;
  q.since_ms = since_ms;
  q.limit = limit;
  return q;
}
store::McpCallQuery with(store::McpCallQuery q, std::string store::McpCallQuery::*field, std::string value) {
  q.*field = std::move(value);
  return q;
}
using Q = store::McpCallQuery;

// A record store in a temporary file, written through a record writer.
struct Records {
  test_util::TempDir dir{"gh-mcp-records"};
  std::string db = dir.file("gatehouse.db");
  std::shared_ptr<store::RecordStore> store = test_util::open_records(db);
  runtime::Services services;
  Records() {
    services.records = store;
    services.writer = std::make_shared<record::RecordWriter>(store, 1h);
    services.metrics = std::make_shared<record::Metrics>();
  }
  std::vector<store::McpCallRow> read(store::McpCallQuery q) {
    auto rows = store->mcp_calls(q);
    if (auto* e = std::get_if<std::string>(&rows)) {
      ADD_FAILURE() << *e;
      return {};
    }
    return std::get<0>(rows);
  }
  std::vector<std::string> ids(store::McpCallQuery q) {
    std::vector<std::string> out;
    for (const auto& r : read(q)) out.push_back(r.request_id);
    return out;
  }
};

// A row handed to record_tool_call is written by the writer and read back whole by the store.
TEST(McpRecords, ARecordedCallIsReadBackFromTheStore) {
  Records r;
  ASSERT_TRUE(r.store);
  ToolCallRecord c = call("req_1", "crm", "search_accounts", "tool_error", now_ms() - 1000);
  c.error = "the tool answered isError: true";
  c.arguments = R"({"query":"acme"})";
  c.result = R"({"content":[{"type":"text","text":"no such table"}],"isError":true})";
  c.guardrails = "pii/EMAIL_ADDRESS:mask:input";
  c.approval_id = "appr_7";
  c.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  record_tool_call(r.services, c);
  r.services.writer->flush();

  const auto rows = r.read({});
  ASSERT_EQ(rows.size(), 1u);
  const auto& row = rows[0];
  EXPECT_GT(row.id, 0);
  EXPECT_EQ(row.request_id, "req_1");
  EXPECT_EQ(row.time_ms, c.time_ms);
  EXPECT_EQ(row.requester, "alice");
  EXPECT_EQ(row.key_name, "alice-key");
  EXPECT_EQ(row.user, "alice@example.com");
  EXPECT_EQ(row.project, "p1");
  EXPECT_EQ(row.endpoint, "/mcp/data-team");
  EXPECT_EQ(row.server, "crm");
  EXPECT_EQ(row.tool, "search_accounts");
  EXPECT_EQ(row.outcome, "tool_error");
  EXPECT_EQ(row.error, "the tool answered isError: true");
  EXPECT_DOUBLE_EQ(row.duration_ms, 12.5);
  EXPECT_EQ(row.arguments, c.arguments);
  EXPECT_EQ(row.result, c.result);
  EXPECT_FALSE(row.payload_truncated);
  EXPECT_EQ(row.guardrails, "pii/EMAIL_ADDRESS:mask:input");
  EXPECT_EQ(row.approval_id, "appr_7");
  EXPECT_EQ(row.trace_id, "0af7651916cd43dd8448eb211c80319c") << "the client request's trace";
  EXPECT_EQ(r.services.writer->stats().written_mcp_calls, 1u);
}

// Newest first; --since, --limit and every filter.
TEST(McpRecords, QueryFiltersAndOrdersNewestFirst) {
  Records r;
  ASSERT_TRUE(r.store);
  const std::int64_t t = now_ms();
  record_tool_call(r.services, call("old", "crm", "search", "ok", t - 3 * 3'600'000));
  record_tool_call(r.services, call("a", "crm", "search", "ok", t - 3000));
  record_tool_call(r.services, call("b", "crm", "delete", "denied", t - 2000));
  auto c = call("c", "files", "read", "ok", t - 1000);
  c.requester = "bob";
  record_tool_call(r.services, c);
  r.services.writer->flush();

  EXPECT_EQ(r.ids(since(t - 3'600'000)), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(r.ids(since(0)), (std::vector<std::string>{"c", "b", "a", "old"}));
  EXPECT_EQ(r.ids(since(0, 2)), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(r.ids(with(since(0), &Q::server, "crm")), (std::vector<std::string>{"b", "a", "old"}));
  EXPECT_EQ(r.ids(with(with(since(0), &Q::server, "crm"), &Q::tool, "search")), (std::vector<std::string>{"a", "old"}));
  EXPECT_EQ(r.ids(with(since(0), &Q::requester, "bob")), std::vector<std::string>{"c"});
  EXPECT_EQ(r.ids(with(since(0), &Q::request_id, "b")), std::vector<std::string>{"b"});
  EXPECT_EQ(r.ids(with(since(0), &Q::outcome, "denied")), std::vector<std::string>{"b"});
  EXPECT_TRUE(r.ids(with(since(0), &Q::server, "nope")).empty());
}

// Retention deletes rows older than the cutoff, and only those.
TEST(McpRecords, ExpireDeletesOlderRows) {
  Records r;
  ASSERT_TRUE(r.store);
  const std::int64_t t = now_ms();
  record_tool_call(r.services, call("old", "crm", "search", "ok", t - 10 * 86'400'000LL));
  record_tool_call(r.services, call("new", "crm", "search", "ok", t));
  r.services.writer->flush();
  auto removed = r.store->expire_mcp_calls(t - 86'400'000LL);
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(removed)) << std::get<std::string>(removed);
  EXPECT_EQ(std::get<std::int64_t>(removed), 1);
  EXPECT_EQ(r.ids(since(0)), std::vector<std::string>{"new"});
}

// The table survives a reopen of the file (the migration runs once).
TEST(McpRecords, RowsPersistAcrossReopen) {
  Records r;
  ASSERT_TRUE(r.store);
  record_tool_call(r.services, call("kept", "crm", "search", "ok", now_ms()));
  r.services.writer->flush();
  auto again = test_util::open_records(r.db);
  ASSERT_TRUE(again);
  auto rows = again->mcp_calls({});
  ASSERT_TRUE(std::holds_alternative<std::vector<store::McpCallRow>>(rows));
  ASSERT_EQ(std::get<0>(rows).size(), 1u);
  EXPECT_EQ(std::get<0>(rows)[0].request_id, "kept");
}

// --- metrics ---

std::string render(const record::Metrics& m) { return m.render({}); }

bool has_line(const std::string& page, const std::string& line) {
  std::istringstream in(page);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

TEST(McpRecords, MetricsCountCallsByServerToolAndOutcome) {
  runtime::Services services;
  services.metrics = std::make_shared<record::Metrics>();
  auto ok = call("1", "crm", "search", "ok", now_ms());
  ok.duration_ms = 200;  // 0.2 s
  record_tool_call(services, ok);
  record_tool_call(services, ok);
  auto bad = call("2", "crm", "delete", "denied", now_ms());
  bad.duration_ms = 0.5;
  record_tool_call(services, bad);
  const std::string page = render(*services.metrics);
  EXPECT_TRUE(has_line(page, "# TYPE gatehouse_mcp_tool_calls_total counter")) << page;
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"search\",outcome=\"ok\"} 2"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"delete\",outcome=\"denied\"} 1"));
  EXPECT_TRUE(has_line(page, "# TYPE gatehouse_mcp_tool_call_duration_seconds histogram"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_bucket{server=\"crm\",le=\"0.001\"} 1"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_bucket{server=\"crm\",le=\"0.1\"} 1"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_bucket{server=\"crm\",le=\"0.25\"} 3"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_bucket{server=\"crm\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_count{server=\"crm\"} 3"));
  const std::string sum = "gatehouse_mcp_tool_call_duration_seconds_sum{server=\"crm\"} ";
  const std::size_t at = page.find(sum);
  ASSERT_NE(at, std::string::npos) << page;
  EXPECT_NEAR(std::stod(page.substr(at + sum.size())), 0.4005, 1e-9);
}

// Counts from several threads (each its own shard) add up in one scrape.
TEST(McpRecords, MetricsMergeThreads) {
  record::Metrics m;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) m.observe(record::McpToolCallObservation{"crm", "search", "ok", 0.01});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(has_line(render(m), "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"search\",outcome=\"ok\"} 400"));
}

// Tool names come from upstream servers (and from clients, for refused calls): past the cap,
// new tools count as tool="other", new servers as server="other"; labels already given stay.
TEST(McpRecords, MetricsCapToolAndServerLabels) {
  record::Metrics m;
  for (std::size_t i = 0; i < record::Metrics::kMaxMcpTools; ++i) {
    m.observe(record::McpToolCallObservation{"crm", "tool_" + std::to_string(i), "ok", 0.01});
  }
  m.observe(record::McpToolCallObservation{"crm", "one_too_many", "ok", 0.01});
  m.observe(record::McpToolCallObservation{"crm", "another", "denied", 0.01});
  m.observe(record::McpToolCallObservation{"crm", "tool_7", "ok", 0.01});
  std::string page = render(m);
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"other\",outcome=\"ok\"} 1"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"other\",outcome=\"denied\"} 1"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"crm\",tool=\"tool_7\",outcome=\"ok\"} 2"));
  EXPECT_EQ(page.find("one_too_many"), std::string::npos);

  record::Metrics servers;
  for (std::size_t i = 0; i < record::Metrics::kMaxMcpServers; ++i) {
    servers.observe(record::McpToolCallObservation{"s" + std::to_string(i), "t", "ok", 0.01});
  }
  servers.observe(record::McpToolCallObservation{"s_new", "t", "ok", 0.01});
  page = render(servers);
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_calls_total{server=\"other\",tool=\"t\",outcome=\"ok\"} 1"));
  EXPECT_TRUE(has_line(page, "gatehouse_mcp_tool_call_duration_seconds_count{server=\"other\"} 1"));
  EXPECT_EQ(page.find("s_new"), std::string::npos);
}

// Label values are escaped; empty ones read "-".
TEST(McpRecords, MetricsEscapeLabels) {
  record::Metrics m;
  m.observe(record::McpToolCallObservation{"", "say \"hi\"\n", "ok", 0.01});
  EXPECT_TRUE(has_line(render(m), "gatehouse_mcp_tool_calls_total{server=\"-\",tool=\"say \\\"hi\\\"\\n\",outcome=\"ok\"} 1"));
}

// --- the span ---

config::TracingConfig tracing(const std::string& endpoint) {
  config::TracingConfig c;
  c.enabled = true;
  c.otlp_endpoint = endpoint;
  c.service_name = "gatehouse-test";
  c.export_every = 20ms;
  return c;
}

template <class Fn>
bool eventually(Fn done) {
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

json::value attribute(const json::value& span, const std::string& key) {
  for (const auto& a : span.at("attributes").as_array()) {
    if (a.at("key") == key.c_str()) return a.at("value");
  }
  return nullptr;
}

json::value text(const char* s) { return json::object{{"stringValue", s}}; }

// One span per call: a child of the client request's span, MCP-convention names, ERROR status
// for anything but ok. The row keeps the trace id.
TEST(McpRecords, ASpanPerCallUnderTheClientRequestsSpan) {
  test_util::FakeCollector collector(200);
  Records r;
  ASSERT_TRUE(r.store);
  r.services.tracer = std::make_shared<record::TraceExporter>(tracing(collector.url()));
  auto ok = call("req_ok", "crm", "search", "ok", 1'700'000'000'000);
  ok.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  record_tool_call(r.services, ok);
  auto denied = call("req_denied", "crm", "delete_account", "approval_denied", 1'700'000'000'000);
  denied.error = "an administrator denied the call";
  record_tool_call(r.services, denied);  // no traceparent: a trace of its own
  auto unsampled = call("req_unsampled", "crm", "search", "ok", 1'700'000'000'000);
  unsampled.traceparent = "00-11111111111111111111111111111111-2222222222222222-00";
  record_tool_call(r.services, unsampled);  // the client did not sample: no span
  ASSERT_TRUE(eventually([&] { return r.services.tracer->exported() == 2; }))
      << "exported " << r.services.tracer->exported();

  std::vector<json::value> spans;
  for (const auto& req : collector.requests()) {
    const json::value body = json::parse(req.body);
    for (const auto& s : test_util::spans_of(body)) spans.push_back(s);
  }
  ASSERT_EQ(spans.size(), 2u);
  const json::value& a = spans[0];
  EXPECT_EQ(a.at("name"), "tools/call search");
  EXPECT_EQ(a.at("kind").as_int64(), 2);
  EXPECT_EQ(a.at("traceId"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(a.at("parentSpanId"), "b7ad6b7169203331");
  EXPECT_EQ(a.at("startTimeUnixNano"), "1700000000000000000");
  EXPECT_EQ(a.at("endTimeUnixNano"), "1700000000012500000");
  EXPECT_EQ(attribute(a, "mcp.method.name"), text("tools/call"));
  EXPECT_EQ(attribute(a, "gen_ai.operation.name"), text("execute_tool"));
  EXPECT_EQ(attribute(a, "gen_ai.tool.name"), text("search"));
  EXPECT_EQ(attribute(a, "gatehouse.mcp.server"), text("crm"));
  EXPECT_EQ(attribute(a, "gatehouse.mcp.outcome"), text("ok"));
  EXPECT_EQ(attribute(a, "gatehouse.mcp.endpoint"), text("/mcp/data-team"));
  EXPECT_EQ(attribute(a, "gatehouse.requester"), text("alice"));
  EXPECT_EQ(attribute(a, "gatehouse.request_id"), text("req_ok"));
  EXPECT_TRUE(attribute(a, "error.type").is_null());
  EXPECT_FALSE(a.as_object().contains("status"));

  const json::value& d = spans[1];
  EXPECT_EQ(d.at("name"), "tools/call delete_account");
  EXPECT_FALSE(d.as_object().contains("parentSpanId")) << "no traceparent: a root span";
  EXPECT_EQ(attribute(d, "error.type"), text("approval_denied"));
  EXPECT_EQ(d.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(d.at("status").at("message"), "an administrator denied the call");

  r.services.writer->flush();
  const auto rows = r.read({});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].request_id, "req_ok");  // same time: by id, newest first
  EXPECT_EQ(rows[2].trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(rows[1].trace_id, d.at("traceId").as_string().c_str()) << "the row names its new trace";
  EXPECT_EQ(rows[0].trace_id, "11111111111111111111111111111111") << "an unsampled client trace is still named";
}

// --- gatehouse logs --mcp ---

// Runs `gatehouse logs ARGS...`; the exit code, stdout and stderr.
struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun logs(std::vector<std::string> args) {
  CLI::App app;
  auto* sub = app.add_subcommand("logs");
  cli::LogsCommand cmd;
  cmd.add_to(*sub);
  args.insert(args.begin(), {"gatehouse", "logs"});
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  CliRun run;
  try {
    app.parse(int(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    run.code = 2;
    run.err = e.what();
    return run;
  }
  std::ostringstream out, err;
  run.code = cmd.run(out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

struct CliFixture {
  Records r;
  std::string config = r.dir.file("gatehouse.yaml");
  std::int64_t t = now_ms();
  CliFixture() {
    std::ofstream(config) << "providers:\n  local: {kind: openai-compatible, base_url: \"http://127.0.0.1:9911/v1\"}\n"
                             "models:\n  chat-small: {provider: local}\n"
                             "store: {sqlite: \"" + r.db + "\"}\n";
    auto a = call("req_a", "crm", "search", "ok", t - 2000);
    a.arguments = R"({"query":"acme"})";
    a.result = R"({"content":[{"type":"text","text":"3 accounts"}]})";
    record_tool_call(r.services, a);
    auto b = call("req_b", "uc-functions", "query_sales", "upstream_error", t - 1000);
    b.requester = "ci-bot";
    b.error = "the upstream answered HTTP 502";
    b.duration_ms = 1234.56;
    record_tool_call(r.services, b);
    r.services.writer->flush();
  }
};

TEST(McpRecords, LogsMcpTable) {
  CliFixture f;
  auto run = logs({"--config", f.config, "--mcp"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::istringstream in(run.out);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    for (std::string w; words >> w;) cells.push_back(w);
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), 3u) << run.out;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"TIME", "REQUEST_ID", "REQUESTER", "SERVER", "TOOL", "OUTCOME", "MS"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{store::format_utc((f.t - 1000) / 1000), "req_b", "ci-bot",
                                               "uc-functions", "query_sales", "upstream_error", "1234.6"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{store::format_utc((f.t - 2000) / 1000), "req_a", "alice", "crm",
                                               "search", "ok", "12.5"}));
  EXPECT_EQ(run.err, "") << "no note about the inference log for tool calls";
}

TEST(McpRecords, LogsMcpJsonHasEveryField) {
  CliFixture f;
  auto run = logs({"--config", f.config, "--mcp", "--format", "json", "--server", "crm"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::value v = json::parse(run.out);
  ASSERT_EQ(v.as_array().size(), 1u);
  const auto& o = v.at(0).as_object();
  for (const char* k : {"request_id", "time", "time_ms", "requester", "key", "user", "project", "endpoint", "server",
                        "tool", "outcome", "error", "duration_ms", "arguments", "result", "payload_truncated",
                        "guardrails", "approval_id", "trace_id"}) {
    EXPECT_TRUE(o.contains(k)) << k;
  }
  EXPECT_EQ(o.at("request_id"), "req_a");
  EXPECT_EQ(o.at("time_ms").as_int64(), f.t - 2000);
  EXPECT_EQ(o.at("requester"), "alice");
  EXPECT_EQ(o.at("key"), "alice-key");
  EXPECT_EQ(o.at("server"), "crm");
  EXPECT_EQ(o.at("tool"), "search");
  EXPECT_EQ(o.at("outcome"), "ok");
  EXPECT_EQ(o.at("duration_ms").as_double(), 12.5);
  EXPECT_EQ(o.at("arguments").at("query"), "acme") << "payloads as JSON, not strings";
  EXPECT_EQ(o.at("result").at("content").at(0).at("text"), "3 accounts");
  EXPECT_FALSE(o.at("payload_truncated").as_bool());
}

TEST(McpRecords, LogsMcpFiltersAndEmptyAnswer) {
  CliFixture f;
  auto run = logs({"--config", f.config, "--mcp", "--format", "json", "--requester", "ci-bot"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::value v = json::parse(run.out);
  ASSERT_EQ(v.as_array().size(), 1u);
  EXPECT_EQ(v.at(0).at("request_id"), "req_b");
  EXPECT_TRUE(v.at(0).at("arguments").is_null()) << "payloads not kept read null";

  run = logs({"--config", f.config, "--mcp", "--request-id", "req_a", "--tool", "search", "--limit", "5"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("req_a"), std::string::npos);
  EXPECT_EQ(run.out.find("req_b"), std::string::npos);

  run = logs({"--config", f.config, "--mcp", "--tool", "nope"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "no MCP tool calls in the last 1h for tool nope\n");

  run = logs({"--config", f.config, "--mcp", "--format", "json", "--tool", "nope"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "[]\n");
}

// The MCP filters need --mcp, and --model is for model requests only: usage errors.
TEST(McpRecords, LogsMcpOptionsAreUsageErrorsWithoutMcp) {
  CliFixture f;
  EXPECT_EQ(logs({"--config", f.config, "--server", "crm"}).code, 2);
  EXPECT_EQ(logs({"--config", f.config, "--mcp", "--model", "chat-small"}).code, 2);
  EXPECT_EQ(logs({"--config", f.config}).code, 0) << "the inference log as before";
}

}  // namespace
}  // namespace gatehouse::mcp
