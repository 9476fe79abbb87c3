#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "record/metrics.h"

namespace gatehouse::record {
namespace {

// The value of the sample `series` (name and labels exactly as rendered), or -1 when absent.
double sample(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// The count of the bucket of `histogram` (series "name_bucket{labels") whose bound reads as `le`,
// however the bound is spelt ("0.0005" or "5e-04"); -1 when absent.
double bucket(const std::string& page, const std::string& series, double le) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(series + ",le=\"")) continue;
    const std::size_t at = series.size() + 5;
    const std::string bound = line.substr(at, line.find('"', at) - at);
    if (bound != "+Inf" && std::stod(bound) == le) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// Every sample line starting with `prefix`, in page order.
std::vector<std::string> lines_starting(const std::string& page, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) out.push_back(line);
  }
  return out;
}

RequestObservation request(std::string_view model, int status, double total_s, double upstream_s) {
  RequestObservation o;
  o.model = model;
  o.provider = "openai";
  o.shape = "openai";
  o.status = status;
  o.total_s = total_s;
  o.upstream_s = upstream_s;
  o.input_tokens = 10;
  o.output_tokens = 4;
  o.cost_usd = 0.5;
  return o;
}

constexpr const char* kLabels = "model=\"chat-small\",provider=\"openai\"";

// Requests observed on several threads add up in one page.
TEST(Metrics, CountersAddUpAcrossThreads) {
  Metrics m;
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&m] {
      for (int i = 0; i < 250; ++i) m.observe(request("chat-small", i % 5 == 0 ? 502 : 200, 0.2, 0.1997));
    });
  }
  for (auto& w : workers) w.join();
  m.observe(request("chat-big", 200, 1.0, 0.5));
  const std::string page = m.render({});
  EXPECT_EQ(sample(page, "gatehouse_requests_total{model=\"chat-small\",provider=\"openai\",shape=\"openai\",status=\"200\"}"), 800);
  EXPECT_EQ(sample(page, "gatehouse_requests_total{model=\"chat-small\",provider=\"openai\",shape=\"openai\",status=\"502\"}"), 200);
  EXPECT_EQ(sample(page, "gatehouse_requests_total{model=\"chat-big\",provider=\"openai\",shape=\"openai\",status=\"200\"}"), 1);
  EXPECT_EQ(sample(page, std::string("gatehouse_input_tokens_total{") + kLabels + "}"), 10'000);
  EXPECT_EQ(sample(page, std::string("gatehouse_output_tokens_total{") + kLabels + "}"), 4'000);
  EXPECT_DOUBLE_EQ(sample(page, std::string("gatehouse_cost_usd_total{") + kLabels + "}"), 500);
  EXPECT_EQ(sample(page, std::string("gatehouse_request_duration_seconds_count{") + kLabels + "}"), 1000);
  EXPECT_NEAR(sample(page, std::string("gatehouse_request_duration_seconds_sum{") + kLabels + "}"), 200, 1e-6);
  // A render does not reset anything.
  EXPECT_EQ(m.render({}), page);
}

// Histogram buckets are cumulative and end with le="+Inf" equal to _count.
TEST(Metrics, HistogramBucketsAreCumulativeAndEndWithInf) {
  Metrics m;
  m.observe(request("chat-small", 200, 0.003, 0));   // le 0.005
  m.observe(request("chat-small", 200, 0.003, 0));   // le 0.005
  m.observe(request("chat-small", 200, 0.7, 0));     // le 1
  m.observe(request("chat-small", 200, 500.0, 0));   // past the last bound
  const std::string page = m.render({});
  const std::string name = "gatehouse_request_duration_seconds";
  const std::string l = std::string("{") + kLabels;
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"0.001\"}"), 0);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"0.0025\"}"), 0);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"0.005\"}"), 2);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"0.5\"}"), 2);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"1\"}"), 3);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"120\"}"), 3);
  EXPECT_EQ(sample(page, name + "_bucket" + l + ",le=\"+Inf\"}"), 4);
  EXPECT_EQ(sample(page, name + "_count" + l + "}"), 4);
  EXPECT_NEAR(sample(page, name + "_sum" + l + "}"), 500.706, 1e-9);

  const auto buckets = lines_starting(page, name + "_bucket" + l);
  ASSERT_FALSE(buckets.empty());
  EXPECT_NE(buckets.back().find("le=\"+Inf\""), std::string::npos) << buckets.back();
  double previous = 0;
  for (const auto& b : buckets) {
    const double v = std::stod(b.substr(b.rfind(' ') + 1));
    EXPECT_GE(v, previous) << b;
    previous = v;
  }
}

// The gateway's overhead is the total minus the upstream wait; no upstream histogram without one.
TEST(Metrics, OverheadIsTotalMinusUpstream) {
  Metrics m;
  m.observe(request("chat-small", 200, 0.2, 0.1997));  // overhead 0.0003 s: le 0.0005
  m.observe(request("chat-small", 200, 0.2, 0.1997));
  m.observe(request("cached", 200, 0.004, 0));  // no upstream: all overhead (le 0.005)
  const std::string page = m.render({});
  const std::string l = std::string("{") + kLabels;
  EXPECT_EQ(bucket(page, "gatehouse_overhead_seconds_bucket" + l, 0.00025), 0);
  EXPECT_EQ(bucket(page, "gatehouse_overhead_seconds_bucket" + l, 0.0005), 2);
  EXPECT_EQ(bucket(page, "gatehouse_overhead_seconds_bucket" + l, 0.1), 2);
  EXPECT_NEAR(sample(page, "gatehouse_overhead_seconds_sum" + l + "}"), 0.0006, 1e-9);
  EXPECT_EQ(sample(page, "gatehouse_upstream_duration_seconds_count" + l + "}"), 2);
  EXPECT_NEAR(sample(page, "gatehouse_upstream_duration_seconds_sum" + l + "}"), 0.3994, 1e-9);

  const std::string cached = "{model=\"cached\",provider=\"openai\"";
  EXPECT_EQ(sample(page, "gatehouse_overhead_seconds_bucket" + cached + ",le=\"0.005\"}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_overhead_seconds_bucket" + cached + ",le=\"0.0025\"}"), 0);
  EXPECT_EQ(sample(page, "gatehouse_upstream_duration_seconds_count" + cached + "}"), -1)
      << "a request that reached no provider has no upstream sample";
}

TEST(Metrics, TimeToFirstTokenOnlyForStreams) {
  Metrics m;
  RequestObservation stream = request("chat-small", 200, 1.0, 0.9);
  stream.stream = true;
  stream.ttft_s = 0.2;
  m.observe(stream);
  m.observe(request("chat-small", 200, 1.0, 0.9));  // ttft -1: not observed
  const std::string page = m.render({});
  const std::string l = std::string("{") + kLabels;
  EXPECT_EQ(sample(page, "gatehouse_time_to_first_token_seconds_count" + l + "}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_time_to_first_token_seconds_bucket" + l + ",le=\"0.25\"}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_time_to_first_token_seconds_bucket" + l + ",le=\"0.1\"}"), 0);
}

// Unknown model and provider are reported as "-".
TEST(Metrics, EmptyModelAndProviderAreDashes) {
  Metrics m;
  RequestObservation o = request("", 401, 0.001, 0);
  o.provider = "";
  m.observe(o);
  const std::string page = m.render({});
  EXPECT_EQ(sample(page, "gatehouse_requests_total{model=\"-\",provider=\"-\",shape=\"openai\",status=\"401\"}"), 1);
}

// Label values are escaped: backslash, quote and newline.
TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(label_value("plain"), "plain");
  EXPECT_EQ(label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(label_value("a\nb"), "a\\nb");
  EXPECT_EQ(label_value("\\\"\n"), "\\\\\\\"\\n");
  Metrics m;
  m.observe(request("we\"ird\\mo\ndel", 200, 0.01, 0.005));
  m.rate_limited("to\"kens");
  const std::string page = m.render({});
  EXPECT_EQ(sample(page, "gatehouse_requests_total{model=\"we\\\"ird\\\\mo\\ndel\",provider=\"openai\",shape=\"openai\",status=\"200\"}"), 1)
      << page;
  EXPECT_EQ(sample(page, "gatehouse_rate_limit_rejections_total{limit=\"to\\\"kens\"}"), 1);
  EXPECT_EQ(page.find("mo\ndel"), std::string::npos) << "a raw newline inside a label breaks the page";
}

TEST(Metrics, AttemptsRateLimitsAndBudgetsAreCounted) {
  Metrics m;
  m.observe(AttemptObservation{"chat-small", "openai", "ok"});
  m.observe(AttemptObservation{"chat-small", "openai", "upstream_timeout"});
  m.observe(AttemptObservation{"chat-small", "openai", "upstream_timeout"});
  m.rate_limited("requests");
  m.rate_limited("requests");
  m.rate_limited("tokens");
  m.budget_exceeded("project");
  m.budget_warning("key");
  m.budget_warning("key");
  const std::string page = m.render({});
  EXPECT_EQ(sample(page, "gatehouse_upstream_attempts_total{model=\"chat-small\",provider=\"openai\",outcome=\"ok\"}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_upstream_attempts_total{model=\"chat-small\",provider=\"openai\",outcome=\"upstream_timeout\"}"), 2);
  EXPECT_EQ(sample(page, "gatehouse_rate_limit_rejections_total{limit=\"requests\"}"), 2);
  EXPECT_EQ(sample(page, "gatehouse_rate_limit_rejections_total{limit=\"tokens\"}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_rate_limit_rejections_total{limit=\"concurrency\"}"), -1);
  EXPECT_EQ(sample(page, "gatehouse_budget_rejections_total{scope=\"project\"}"), 1);
  EXPECT_EQ(sample(page, "gatehouse_budget_warnings_total{scope=\"key\"}"), 2);
}

TEST(Metrics, InFlightGaugeFollowsDeltas) {
  Metrics m;
  EXPECT_EQ(sample(m.render({}), "gatehouse_in_flight_requests"), 0);
  m.in_flight(+1);
  m.in_flight(+1);
  m.in_flight(+1);
  m.in_flight(-1);
  EXPECT_EQ(sample(m.render({}), "gatehouse_in_flight_requests"), 2);
}

// Collectors write their own families after everything else.
TEST(Metrics, CollectorOutputIsAppended) {
  Metrics m;
  m.observe(request("chat-small", 200, 0.01, 0.005));
  const std::string page = m.render({
      [](std::string& out) { out += "# HELP gatehouse_records_queued Rows waiting.\n# TYPE gatehouse_records_queued gauge\ngatehouse_records_queued 7\n"; },
      [](std::string& out) { out += "# HELP gatehouse_target_up Targets.\n# TYPE gatehouse_target_up gauge\ngatehouse_target_up{target=\"a\"} 1\n"; },
  });
  EXPECT_EQ(sample(page, "gatehouse_records_queued"), 7);
  EXPECT_EQ(sample(page, "gatehouse_target_up{target=\"a\"}"), 1);
  EXPECT_LT(page.find("gatehouse_in_flight_requests"), page.find("gatehouse_records_queued"));
  EXPECT_LT(page.find("gatehouse_records_queued"), page.find("gatehouse_target_up"));
  EXPECT_TRUE(page.ends_with("gatehouse_target_up{target=\"a\"} 1\n"));
}

// Bounds are printed as the shortest text that reads back.
TEST(Metrics, BucketBoundsArePrintedShortest) {
  Metrics m;
  m.observe(request("chat-small", 200, 0.1, 0.05));
  const std::string page = m.render({});
  EXPECT_NE(page.find("le=\"0.0025\""), std::string::npos);
  EXPECT_NE(page.find("le=\"0.1\""), std::string::npos);
  EXPECT_EQ(page.find("0.0025000000000000001"), std::string::npos);
  EXPECT_EQ(page.find("0.10000000000000001"), std::string::npos);
  EXPECT_EQ(page.find("0.001000"), std::string::npos) << "no fixed six-decimal formatting";
  for (const auto& line : lines_starting(page, "gatehouse_overhead_seconds_bucket")) {
    const auto at = line.find("le=\"") + 4;
    const std::string bound = line.substr(at, line.find('"', at) - at);
    if (bound == "+Inf") continue;
    EXPECT_LE(bound.size(), 8u) << line;
    EXPECT_NO_THROW((void)std::stod(bound)) << line;
  }
}

// Every family is announced once with HELP and TYPE before its samples.
TEST(Metrics, FamiliesHaveHelpAndType) {
  Metrics m;
  m.observe(request("chat-small", 200, 0.1, 0.05));
  const std::string page = m.render({});
  for (const char* family : {"gatehouse_requests_total counter", "gatehouse_request_duration_seconds histogram",
                             "gatehouse_overhead_seconds histogram", "gatehouse_in_flight_requests gauge",
                             "gatehouse_cost_usd_total counter"}) {
    EXPECT_NE(page.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;
  }
  EXPECT_TRUE(page.ends_with("\n"));
}

// promtool (installed by scripts/setup.sh) accepts a full page.
TEST(Metrics, PromtoolAcceptsTheRenderedPage) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed";
  Metrics m;
  RequestObservation s = request("chat-small", 200, 0.8, 0.6);
  s.stream = true;
  s.ttft_s = 0.3;
  m.observe(s);
  m.observe(request("odd \"model\"\\x", 429, 0.001, 0));
  m.observe(AttemptObservation{"chat-small", "openai", "ok"});
  m.observe(McpToolCallObservation{"crm", "search", "tool_error", 0.2});
  m.rate_limited("requests");
  m.budget_exceeded("key");
  m.budget_warning("project");
  m.in_flight(1);
  const std::string page = m.render({[](std::string& out) {
    out += "# HELP gatehouse_records_queued Rows waiting for the store.\n# TYPE gatehouse_records_queued gauge\n"
           "gatehouse_records_queued 0\n";
  }});
  const std::string out_file =
      (std::filesystem::temp_directory_path() / ("gh-promtool-" + std::to_string(::getpid()) + ".txt")).string();
  FILE* p = ::popen(("/usr/bin/promtool check metrics > " + out_file + " 2>&1").c_str(), "w");
  ASSERT_NE(p, nullptr);
  std::fwrite(page.data(), 1, page.size(), p);
  const int status = ::pclose(p);
  std::string report;
  if (FILE* f = std::fopen(out_file.c_str(), "r")) {
    char buf[512];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) report.append(buf, n);
    std::fclose(f);
  }
  std::filesystem::remove(out_file);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool check metrics:\n" << report << "\npage:\n" << page;
}

}  // namespace
}  // namespace gatehouse::record
