// Prometheus metrics: what the stages observe per request, kept in per-thread shards (a worker
// only ever locks its own shard, uncontended; a scrape locks each in turn), rendered in the text
// exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/). There is no
// Debian package of a C++ Prometheus client; the format is small and tested with promtool.
// Lives in pipeline::Services: a reload never resets a counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace gatehouse::record {

// A histogram with fixed bucket bounds (seconds).
struct Histogram {
  std::vector<std::uint64_t> counts;  // one per bound, plus +Inf
  double sum = 0;
  std::uint64_t count = 0;
  void observe(const std::vector<double>& bounds, double v);
  void add(const Histogram& o);
};

// One finished request, as the metrics stage sees it.
struct RequestObservation {
  std::string_view model;     // a configured model name, or "" (unknown: reported as "-")
  std::string_view provider;  // "" when no provider was reached
  std::string_view shape;     // openai | anthropic | databricks
  int status = 0;
  bool stream = false;
  double total_s = 0;
  double upstream_s = 0;      // waiting on providers (0: none)
  double ttft_s = -1;         // streams: time to the first event; -1 none
  long long input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  std::string_view error_code;  // rate_limit_exceeded, budget_exceeded, ...
};

struct AttemptObservation {
  std::string_view model, provider;
  std::string_view outcome;  // "ok" or the error code
};

// One MCP tool call (mcp/call_record.h).
struct McpToolCallObservation {
  std::string_view server, tool;  // the upstream server and the tool's own name there
  std::string_view outcome;       // ok, tool_error, denied, ...
  double duration_s = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void observe(const RequestObservation& o);
  void observe(const AttemptObservation& o);
  // gatehouse_mcp_tool_calls_total{server,tool,outcome} and
  // gatehouse_mcp_tool_call_duration_seconds{server}. Tool names come from upstream servers (and,
  // for a refused call, from the client), so labels are capped: past kMaxMcpServers distinct
  // servers a new one counts as server="other", past kMaxMcpTools distinct server/tool pairs a
  // new tool as tool="other" (for the life of the process).
  void observe(const McpToolCallObservation& o);
  static constexpr std::size_t kMaxMcpServers = 100, kMaxMcpTools = 1000;
  void rate_limited(std::string_view limit);  // "requests", "tokens", "concurrency"
  void budget_exceeded(std::string_view scope);
  void budget_warning(std::string_view scope);
  // A guardrail's matches in one request (labels: configured names and fixed words only).
  void guardrail_hits(std::string_view guardrail, std::string_view entity, std::string_view action,
                      std::string_view direction, std::uint64_t count);
  void in_flight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }

  // Gauges sampled at scrape time by whoever owns them (target health, the record queue...):
  // each writes complete families (# HELP, # TYPE, samples) to `out`.
  using Collector = std::function<void(std::string& out)>;
  // The text exposition of everything, then `extra`.
  std::string render(const std::vector<Collector>& extra) const;

 private:
  struct Shard;
  Shard& shard();
  // The server and tool labels a call counts under (see observe).
  std::pair<std::string, std::string> mcp_labels(Shard& s, std::string_view server, std::string_view tool);

  std::atomic<int> in_flight_{0};
  std::mutex mcp_labels_mu_;
  std::unordered_set<std::string> mcp_servers_, mcp_tools_;  // labels given out (tools: server \x1f tool)
  mutable std::mutex shards_mu_;
  std::vector<std::unique_ptr<Shard>> shards_;
  const std::uint64_t id_;  // tells this registry's thread-local shard from another's
};

// A label value escaped for the exposition format (backslash, quote, newline).
std::string label_value(std::string_view v);

}  // namespace gatehouse::record
