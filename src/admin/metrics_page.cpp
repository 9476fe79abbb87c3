#include "admin/metrics_page.h"

#include "record/metrics.h"
#include "record/trace.h"
#include "record/writer.h"
#include "route/health.h"
#include "route/router.h"
#include "state/shared_state.h"

namespace gatehouse::admin {

namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string render_metrics(const runtime::Snapshot& snapshot) {
  const auto& services = snapshot.services;
  std::vector<record::Metrics::Collector> extra;
  extra.push_back([&](std::string& out) {
    // Every route target, whether or not a request has tried it yet.
    std::map<std::string, route::TargetState> states;
    // Shared health, judged by the thresholds of the routes that use each target; what a single
    // route holds against a target alone (its stricter timeouts) is in the admin API only.
    for (auto& s : services.health->states(route::policies_of(*snapshot.config))) {
      if (s.route.empty()) states[s.model] = s;
    }
    for (const auto& [name, m] : snapshot.config->models) {
      if (!m.route) continue;
      for (const auto& t : m.route->targets) {
        if (!states.contains(t.model)) {
          route::TargetState fresh;
          fresh.model = t.model;
          fresh.state = "healthy";
          states[t.model] = fresh;
        }
      }
    }
    family(out, "gatehouse_target_healthy", "gauge", "1 when a route target is healthy, 0 while it cools down or is probed.");
    for (const auto& [name, s] : states) {
      out += "gatehouse_target_healthy{model=\"" + record::label_value(name) + "\"} " + (s.state == "healthy" ? "1" : "0") + "\n";
    }
    family(out, "gatehouse_target_consecutive_failures", "gauge", "Failures in a row of a route target.");
    for (const auto& [name, s] : states) {
      out += "gatehouse_target_consecutive_failures{model=\"" + record::label_value(name) + "\"} " +
             std::to_string(s.consecutive_failures) + "\n";
    }
    family(out, "gatehouse_target_cooldown_seconds", "gauge", "Seconds a route target still cools down (0: none).");
    for (const auto& [name, s] : states) {
      out += "gatehouse_target_cooldown_seconds{model=\"" + record::label_value(name) + "\"} " +
             std::to_string(double(s.cooldown_remaining_ms) / 1000.0) + "\n";
    }
  });
  if (services.shared) extra.push_back([&](std::string& out) { services.shared->render_metrics(out); });
  extra.push_back([&](std::string& out) {
    record::RecordWriter::Stats st;
    if (services.writer) st = services.writer->stats();
    family(out, "gatehouse_records_queue_rows", "gauge", "Records waiting to be written to the store.");
    out += "gatehouse_records_queue_rows " + std::to_string(st.queued) + "\n";
    family(out, "gatehouse_records_written_total", "counter", "Records written to the store, by kind.");
    out += "gatehouse_records_written_total{kind=\"usage\"} " + std::to_string(st.written_usage) + "\n";
    out += "gatehouse_records_written_total{kind=\"inference\"} " + std::to_string(st.written_inference) + "\n";
    out += "gatehouse_records_written_total{kind=\"audit\"} " + std::to_string(st.written_audit) + "\n";
    out += "gatehouse_records_written_total{kind=\"mcp_call\"} " + std::to_string(st.written_mcp_calls) + "\n";
    family(out, "gatehouse_records_shed_total", "counter",
           "Rows dropped because the record queue was full (inference log rows; MCP tool calls past twice its size).");
    out += "gatehouse_records_shed_total{kind=\"inference\"} " + std::to_string(st.shed_inference) + "\n";
    out += "gatehouse_records_shed_total{kind=\"mcp_call\"} " + std::to_string(st.shed_mcp_calls) + "\n";
    family(out, "gatehouse_records_mcp_payloads_dropped_total", "counter",
           "MCP tool calls queued without their arguments and result because the record queue was full.");
    out += "gatehouse_records_mcp_payloads_dropped_total " + std::to_string(st.mcp_payloads_dropped) + "\n";
    family(out, "gatehouse_records_write_failures_total", "counter", "Batch writes the store refused (the rows are retried).");
    out += "gatehouse_records_write_failures_total " + std::to_string(st.failures) + "\n";
    family(out, "gatehouse_trace_spans_exported_total", "counter", "Spans the OTLP collector accepted.");
    out += "gatehouse_trace_spans_exported_total " + std::to_string(services.tracer ? services.tracer->exported() : 0) + "\n";
    family(out, "gatehouse_trace_spans_dropped_total", "counter", "Spans dropped (queue full, or the export failed).");
    out += "gatehouse_trace_spans_dropped_total " + std::to_string(services.tracer ? services.tracer->dropped() : 0) + "\n";
    family(out, "gatehouse_build_info", "gauge", "Always 1; the labels say which build is running.");
    out += std::string("gatehouse_build_info{version=\"") + GATEHOUSE_VERSION + "\"} 1\n";
  });
  return services.metrics->render(extra);
}

}  // namespace gatehouse::admin
