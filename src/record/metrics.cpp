#include "record/metrics.h"

#include <charconv>
#include <cstdio>
#include <tuple>
#include <unordered_map>

namespace gatehouse::record {

namespace {

// Seconds. Requests and time to first token: from a millisecond to two minutes.
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1, 2.5, 5, 10, 30, 60, 120};
// The gateway's own overhead: from 25 µs to 100 ms.
const std::vector<double> kOverheadBounds = {0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                             0.0025, 0.005, 0.01, 0.025, 0.1};

std::atomic<std::uint64_t> next_registry_id{1};

// The shortest text that reads back as `v`, in %g style as Prometheus's own clients write bounds
// ("0.0005", "2.5e-05"; not "0.00050000000000000001").
std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void histogram(std::string& out, std::string_view name, const std::string& labels,
               const std::vector<double>& bounds, const Histogram& h) {
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < h.counts.size() ? h.counts[i] : 0;
    out += name;
    out += "_bucket{" + labels + sep + "le=\"" + (i < bounds.size() ? number(bounds[i]) : "+Inf") + "\"} ";
    out += std::to_string(cumulative) + "\n";
  }
  out += std::string(name) + "_sum{" + labels + "} " + number(h.sum) + "\n";
  out += std::string(name) + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

}  // namespace

void Histogram::observe(const std::vector<double>& bounds, double v) {
  if (counts.empty()) counts.assign(bounds.size() + 1, 0);
  std::size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;
  ++counts[i];
  sum += v;
  ++count;
}

void Histogram::add(const Histogram& o) {
  if (o.counts.empty()) return;
  if (counts.empty()) counts.assign(o.counts.size(), 0);
  for (std::size_t i = 0; i < counts.size() && i < o.counts.size(); ++i) counts[i] += o.counts[i];
  sum += o.sum;
  count += o.count;
}

std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// The counts, keyed by label tuples joined by '\x1f': one thread's in a shard, every thread's
// merged in a scrape.
struct Counts {
  std::map<std::string, std::uint64_t> requests;  // model, provider, shape, status
  struct PerModel {
    Histogram total, upstream, overhead, ttft;
    std::uint64_t input_tokens = 0, output_tokens = 0;
    double cost = 0;
  };
  std::map<std::string, PerModel> per_model;      // model, provider
  std::map<std::string, std::uint64_t> attempts;  // model, provider, outcome
  std::map<std::string, std::uint64_t> rate_limited, budget_exceeded, budget_warnings;
  std::map<std::string, std::uint64_t> guardrail_hits;  // guardrail \x1f entity \x1f action \x1f direction
  std::map<std::string, std::uint64_t> mcp_calls;       // server \x1f tool \x1f outcome
  std::map<std::string, Histogram> mcp_durations;       // server

  void add(const Counts& o) {
    for (const auto& [k, v] : o.requests) requests[k] += v;
    for (const auto& [k, v] : o.attempts) attempts[k] += v;
    for (const auto& [k, v] : o.rate_limited) rate_limited[k] += v;
    for (const auto& [k, v] : o.budget_exceeded) budget_exceeded[k] += v;
    for (const auto& [k, v] : o.budget_warnings) budget_warnings[k] += v;
    for (const auto& [k, v] : o.guardrail_hits) guardrail_hits[k] += v;
    for (const auto& [k, v] : o.mcp_calls) mcp_calls[k] += v;
    for (const auto& [k, h] : o.mcp_durations) mcp_durations[k].add(h);
    for (const auto& [k, m] : o.per_model) {
      auto& t = per_model[k];
      t.total.add(m.total);
      t.upstream.add(m.upstream);
      t.overhead.add(m.overhead);
      t.ttft.add(m.ttft);
      t.input_tokens += m.input_tokens;
      t.output_tokens += m.output_tokens;
      t.cost += m.cost;
    }
  }
};

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  for (;;) {
    std::size_t next = key.find('\x1f', at);
    parts.push_back(key.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return parts;
}

std::string model_labels(const std::string& key) {
  auto p = split_key(key);
  return "model=\"" + label_value(p[0]) + "\",provider=\"" + label_value(p[1]) + "\"";
}

void render_requests(std::string& out, const std::map<std::string, std::uint64_t>& requests) {
  family(out, "gatehouse_requests_total", "counter", "Model requests answered, by model, provider, API shape and status.");
  for (const auto& [k, v] : requests) {
    auto p = split_key(k);
    out += "gatehouse_requests_total{model=\"" + label_value(p[0]) + "\",provider=\"" + label_value(p[1]) +
           "\",shape=\"" + label_value(p[2]) + "\",status=\"" + p[3] + "\"} " + std::to_string(v) + "\n";
  }
}

// Per model and provider: the latency histograms, then tokens and cost.
void render_per_model(std::string& out, const std::map<std::string, Counts::PerModel>& per_model) {
  family(out, "gatehouse_request_duration_seconds", "histogram", "Time from a request's arrival to its end.");
  for (const auto& [k, m] : per_model) histogram(out, "gatehouse_request_duration_seconds", model_labels(k), kLatencyBounds, m.total);
  family(out, "gatehouse_upstream_duration_seconds", "histogram", "Time spent waiting on providers, per request that reached one.");
  for (const auto& [k, m] : per_model) {
    if (m.upstream.count) histogram(out, "gatehouse_upstream_duration_seconds", model_labels(k), kLatencyBounds, m.upstream);
  }
  family(out, "gatehouse_overhead_seconds", "histogram", "The gateway's own time per request: total minus upstream wait.");
  for (const auto& [k, m] : per_model) histogram(out, "gatehouse_overhead_seconds", model_labels(k), kOverheadBounds, m.overhead);
  family(out, "gatehouse_time_to_first_token_seconds", "histogram", "Streams: time from arrival to the first event relayed.");
  for (const auto& [k, m] : per_model) {
    if (m.ttft.count) histogram(out, "gatehouse_time_to_first_token_seconds", model_labels(k), kLatencyBounds, m.ttft);
  }
  family(out, "gatehouse_input_tokens_total", "counter", "Input (prompt) tokens the providers reported.");
  for (const auto& [k, m] : per_model) out += "gatehouse_input_tokens_total{" + model_labels(k) + "} " + std::to_string(m.input_tokens) + "\n";
  family(out, "gatehouse_output_tokens_total", "counter", "Output (completion) tokens the providers reported.");
  for (const auto& [k, m] : per_model) out += "gatehouse_output_tokens_total{" + model_labels(k) + "} " + std::to_string(m.output_tokens) + "\n";
  family(out, "gatehouse_cost_usd_total", "counter", "Cost of requests in US dollars, at the models' prices.");
  for (const auto& [k, m] : per_model) out += "gatehouse_cost_usd_total{" + model_labels(k) + "} " + number(m.cost) + "\n";
}

void render_attempts(std::string& out, const std::map<std::string, std::uint64_t>& attempts) {
  family(out, "gatehouse_upstream_attempts_total", "counter", "Upstream attempts (retries and fallbacks included), by outcome.");
  for (const auto& [k, v] : attempts) {
    auto p = split_key(k);
    out += "gatehouse_upstream_attempts_total{model=\"" + label_value(p[0]) + "\",provider=\"" + label_value(p[1]) +
           "\",outcome=\"" + label_value(p[2]) + "\"} " + std::to_string(v) + "\n";
  }
}

// Requests refused by rate limits and budgets, and budget warnings.
void render_refusals(std::string& out, const Counts& c) {
  family(out, "gatehouse_rate_limit_rejections_total", "counter", "Requests refused by a rate limit, by limit.");
  for (const auto& [k, v] : c.rate_limited) out += "gatehouse_rate_limit_rejections_total{limit=\"" + label_value(k) + "\"} " + std::to_string(v) + "\n";
  family(out, "gatehouse_budget_rejections_total", "counter", "Requests refused by a spent budget, by scope.");
  for (const auto& [k, v] : c.budget_exceeded) out += "gatehouse_budget_rejections_total{scope=\"" + label_value(k) + "\"} " + std::to_string(v) + "\n";
  family(out, "gatehouse_budget_warnings_total", "counter", "Budgets whose warn_at fraction was crossed, by scope.");
  for (const auto& [k, v] : c.budget_warnings) out += "gatehouse_budget_warnings_total{scope=\"" + label_value(k) + "\"} " + std::to_string(v) + "\n";
  family(out, "gatehouse_guardrail_hits_total", "counter",
         "Guardrail matches, by guardrail, entity or pattern, action and direction (input or output).");
  for (const auto& [k, v] : c.guardrail_hits) {
    auto p = split_key(k);
    if (p.size() != 4) continue;
    out += "gatehouse_guardrail_hits_total{guardrail=\"" + label_value(p[0]) + "\",entity=\"" + label_value(p[1]) +
           "\",action=\"" + label_value(p[2]) + "\",direction=\"" + label_value(p[3]) + "\"} " + std::to_string(v) + "\n";
  }
}

void render_mcp(std::string& out, const Counts& c) {
  family(out, "gatehouse_mcp_tool_calls_total", "counter",
         "MCP tool calls answered, by upstream server, tool and outcome (ok, tool_error, denied, ...).");
  for (const auto& [k, v] : c.mcp_calls) {
    auto p = split_key(k);
    if (p.size() != 3) continue;
    out += "gatehouse_mcp_tool_calls_total{server=\"" + label_value(p[0]) + "\",tool=\"" + label_value(p[1]) +
           "\",outcome=\"" + label_value(p[2]) + "\"} " + std::to_string(v) + "\n";
  }
  family(out, "gatehouse_mcp_tool_call_duration_seconds", "histogram",
         "Time from an MCP tool call's arrival to its answer, by upstream server.");
  for (const auto& [k, h] : c.mcp_durations) {
    histogram(out, "gatehouse_mcp_tool_call_duration_seconds", "server=\"" + label_value(k) + "\"", kLatencyBounds, h);
  }
}

}  // namespace

// One thread's counts, under its own lock.
struct Metrics::Shard : Counts {
  std::mutex mu;
  // MCP label pairs this thread has been given as they are (server \x1f tool), so that a known
  // tool takes only the shard's lock.
  std::unordered_set<std::string> mcp_admitted;
};

Metrics::Metrics() : id_(next_registry_id.fetch_add(1)) {}
Metrics::~Metrics() = default;

Metrics::Shard& Metrics::shard() {
  // Each thread keeps the shard it uses for each registry it has seen (a reload's registry is the
  // same object, so this is one entry in practice).
  thread_local std::unordered_map<std::uint64_t, Shard*> mine;
  if (auto it = mine.find(id_); it != mine.end()) return *it->second;
  std::lock_guard lock(shards_mu_);
  shards_.push_back(std::make_unique<Shard>());
  Shard* s = shards_.back().get();
  mine[id_] = s;
  return *s;
}

void Metrics::observe(const RequestObservation& o) {
  const std::string model = o.model.empty() ? "-" : std::string(o.model);
  const std::string provider = o.provider.empty() ? "-" : std::string(o.provider);
  std::string rkey = model + '\x1f' + provider + '\x1f' + std::string(o.shape) + '\x1f' + std::to_string(o.status);
  std::string mkey = model + '\x1f' + provider;
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.requests[rkey];
  auto& m = s.per_model[mkey];
  m.total.observe(kLatencyBounds, o.total_s);
  if (o.upstream_s > 0) m.upstream.observe(kLatencyBounds, o.upstream_s);
  m.overhead.observe(kOverheadBounds, std::max(0.0, o.total_s - o.upstream_s));
  if (o.ttft_s >= 0) m.ttft.observe(kLatencyBounds, o.ttft_s);
  m.input_tokens += std::uint64_t(std::max(0LL, o.input_tokens));
  m.output_tokens += std::uint64_t(std::max(0LL, o.output_tokens));
  m.cost += o.cost_usd;
}

void Metrics::observe(const AttemptObservation& o) {
  std::string key = std::string(o.model) + '\x1f' + std::string(o.provider) + '\x1f' + std::string(o.outcome);
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.attempts[key];
}

std::pair<std::string, std::string> Metrics::mcp_labels(Shard& s, std::string_view server, std::string_view tool) {
  std::string key = std::string(server) + '\x1f' + std::string(tool);
  {
    std::lock_guard lock(s.mu);
    if (s.mcp_admitted.contains(key)) return {std::string(server), std::string(tool)};
  }
  std::pair<std::string, std::string> labels{"other", "other"};
  {
    std::lock_guard lock(mcp_labels_mu_);
    const auto admit = [](std::unordered_set<std::string>& seen, const std::string& v, std::size_t cap) {
      if (seen.contains(v)) return true;
      if (seen.size() >= cap) return false;
      seen.insert(v);
      return true;
    };
    if (admit(mcp_servers_, std::string(server), kMaxMcpServers)) labels.first = server;
    if (admit(mcp_tools_, labels.first + '\x1f' + std::string(tool), kMaxMcpTools)) labels.second = tool;
  }
  if (labels.first == server && labels.second == tool) {
    std::lock_guard lock(s.mu);
    s.mcp_admitted.insert(std::move(key));
  }
  return labels;
}

void Metrics::observe(const McpToolCallObservation& o) {
  Shard& s = shard();
  auto [server, tool] = mcp_labels(s, o.server.empty() ? "-" : o.server, o.tool.empty() ? "-" : o.tool);
  std::string key = server + '\x1f' + tool + '\x1f' + std::string(o.outcome.empty() ? "-" : o.outcome);
  std::lock_guard lock(s.mu);
  ++s.mcp_calls[key];
  s.mcp_durations[server].observe(kLatencyBounds, std::max(0.0, o.duration_s));
}

void Metrics::rate_limited(std::string_view limit) {
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.rate_limited[std::string(limit)];
}

void Metrics::guardrail_hits(std::string_view guardrail, std::string_view entity, std::string_view action,
                             std::string_view direction, std::uint64_t count) {
  std::string key;
  for (auto part : {guardrail, entity, action, direction}) {
    if (!key.empty()) key += '\x1f';
    key += part;
  }
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  s.guardrail_hits[key] += count;
}

void Metrics::budget_exceeded(std::string_view scope) {
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.budget_exceeded[std::string(scope)];
}

void Metrics::budget_warning(std::string_view scope) {
  Shard& s = shard();
  std::lock_guard lock(s.mu);
  ++s.budget_warnings[std::string(scope)];
}

std::string Metrics::render(const std::vector<Collector>& extra) const {
  Counts all;
  {
    std::lock_guard lock(shards_mu_);
    for (const auto& sp : shards_) {
      std::lock_guard sl(sp->mu);
      all.add(*sp);
    }
  }
  std::string out;
  out.reserve(8192);
  render_requests(out, all.requests);
  render_per_model(out, all.per_model);
  render_attempts(out, all.attempts);
  render_refusals(out, all);
  render_mcp(out, all);
  family(out, "gatehouse_in_flight_requests", "gauge", "Requests being answered now.");
  out += "gatehouse_in_flight_requests " + std::to_string(in_flight_.load()) + "\n";
  for (const auto& c : extra) c(out);
  return out;
}

}  // namespace gatehouse::record
