#include "cli/records_cli.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "cli/cli_common.h"
#include "limit/clock.h"
#include "store/key_rules.h"
#include "store/record_store.h"
#include "store/store_open.h"

namespace gatehouse::cli {

namespace json = boost::json;

namespace {

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}


}  // namespace

void LogsCommand::add_to(CLI::App& logs) {
  logs.add_option("-c,--config", config_path_, "The gateway's YAML configuration (its store: sqlite or postgres)")->required();
  auto* model = logs.add_option("--model", model_, "Only requests for this model (the name clients use)");
  logs.add_option("--since", since_, "Requests of the last 90m, 12h, 7d, ... (default 1h)");
  logs.add_option("--limit", limit_, "At most this many rows, newest first (default 20)")->check(CLI::Range(1, 100000));
  logs.add_option("--format", format_, "table (default) or json (with the bodies)")->check(CLI::IsMember({"table", "json"}));
  auto* mcp = logs.add_flag("--mcp", mcp_, "MCP tool calls instead of model requests");
  mcp->excludes(model);
  logs.add_option("--server", server_, "With --mcp: only calls to this upstream MCP server")->needs(mcp);
  logs.add_option("--tool", tool_, "With --mcp: only calls of this tool (its name on the server)")->needs(mcp);
  logs.add_option("--requester", requester_, "With --mcp: only calls by this key or user")->needs(mcp);
  logs.add_option("--request-id", request_id_, "With --mcp: only calls of this request id")->needs(mcp);
  logs.add_option("--outcome", outcome_, "With --mcp: only calls with this outcome (ok, tool_error, denied, ...)")
      ->needs(mcp);
}

int LogsCommand::run_mcp(store::RecordStore& records, std::int64_t since_ms, std::ostream& out,
                         std::ostream& err) const {
  store::McpCallQuery q;
  q.since_ms = since_ms;
  q.limit = std::size_t(limit_);
  q.server = server_;
  q.tool = tool_;
  q.requester = requester_;
  q.request_id = request_id_;
  q.outcome = outcome_;
  auto rows = records.mcp_calls(q);
  if (auto* e = std::get_if<std::string>(&rows)) {
    err << *e << '\n';
    return 1;
  }
  const auto& list = std::get<0>(rows);
  if (format_ == "json") {
    json::array arr;
    for (const auto& r : list) {
      arr.push_back(json::object{
          {"request_id", r.request_id},
          {"time", store::format_utc(r.time_ms / 1000)},
          {"time_ms", r.time_ms},
          {"requester", r.requester},
          {"key", r.key_name},
          {"user", r.user},
          {"project", r.project},
          {"endpoint", r.endpoint},
          {"server", r.server},
          {"tool", r.tool},
          {"outcome", r.outcome},
          {"error", r.error},
          {"duration_ms", r.duration_ms},
          {"arguments", json_or_text(r.arguments)},
          {"result", json_or_text(r.result)},
          {"payload_truncated", r.payload_truncated},
          {"guardrails", r.guardrails},
          {"approval_id", r.approval_id},
          {"trace_id", r.trace_id},
      });
    }
    out << json_text(arr) << '\n';
    return 0;
  }
  if (list.empty()) {
    const std::pair<const char*, const std::string*> given[] = {{"server", &server_},
                                                                {"tool", &tool_},
                                                                {"requester", &requester_},
                                                                {"request id", &request_id_},
                                                                {"outcome", &outcome_}};
    std::string filters;
    for (const auto& [name, value] : given) {
      if (!value->empty()) filters += std::string(filters.empty() ? " for " : ", ") + name + " " + *value;
    }
    out << "no MCP tool calls in the last " << since_ << filters << '\n';
    return 0;
  }
  auto dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  std::vector<std::vector<std::string>> table;
  table.push_back({"TIME", "REQUEST_ID", "REQUESTER", "SERVER", "TOOL", "OUTCOME", "MS"});
  for (const auto& r : list) {
    table.push_back({store::format_utc(r.time_ms / 1000), dash(r.request_id), dash(r.requester), dash(r.server),
                     dash(r.tool), dash(r.outcome), fixed(r.duration_ms, 1)});
  }
  print_table(table, out);
  return 0;
}

int LogsCommand::run(std::ostream& out, std::ostream& err) const {
  const auto since_ms = since_start_ms(since_, err);
  if (!since_ms) return 1;
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto records = open_records(*c, config_path_, "records are kept", err);
  if (!records) return 1;
  if (mcp_) return run_mcp(*records, *since_ms, out, err);
  if (!c->records.inference_log.enabled) {
    err << "note: the inference log is off in " << config_path_
        << " (no records.inference_log): requests are not being logged; rows shown are from when it was on\n";
  }
  auto rows = records->inference(model_, *since_ms, std::size_t(limit_));
  if (auto* e = std::get_if<std::string>(&rows)) {
    err << *e << '\n';
    return 1;
  }
  const auto& list = std::get<0>(rows);
  if (format_ == "json") {
    json::array arr;
    for (const auto& r : list) {
      arr.push_back(json::object{
          {"request_id", r.request_id},
          {"request_time", store::format_utc(r.request_time_ms / 1000)},
          {"request_time_ms", r.request_time_ms},
          {"requester", r.requester},
          {"key", r.key_name},
          {"user", r.user},
          {"project", r.project},
          {"model", r.model},
          {"served_model", r.served_model},
          {"provider", r.provider},
          {"status_code", r.status_code},
          {"execution_duration_ms", r.execution_duration_ms},
          {"upstream_duration_ms", r.upstream_duration_ms},
          {"time_to_first_token_ms", r.time_to_first_token_ms < 0 ? json::value(nullptr) : json::value(r.time_to_first_token_ms)},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cost_usd", r.cost_usd},
          {"streaming", r.streaming},
          {"error_code", r.error_code},
          {"request", json_or_text(r.request_body)},
          {"response", json_or_text(r.response_body)},
          {"payload_truncated", r.payload_truncated},
          {"decisions", json_or_text(r.decisions)},
      });
    }
    out << json_text(arr) << '\n';
    return 0;
  }
  if (list.empty()) {
    out << "no logged requests in the last " << since_ << (model_.empty() ? "" : " for model " + model_) << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> table;
  table.push_back({"TIME", "REQUEST_ID", "REQUESTER", "MODEL", "SERVED_BY", "STATUS", "MS", "TTFT_MS", "IN", "OUT",
                   "COST_USD"});
  for (const auto& r : list) {
    table.push_back({store::format_utc(r.request_time_ms / 1000), r.request_id, r.requester.empty() ? "-" : r.requester,
                     r.model, r.served_model.empty() ? "-" : r.served_model + "/" + r.provider,
                     std::to_string(r.status_code), fixed(r.execution_duration_ms, 1),
                     r.time_to_first_token_ms < 0 ? "-" : fixed(r.time_to_first_token_ms, 1),
                     std::to_string(r.input_tokens), std::to_string(r.output_tokens), fixed(r.cost_usd, 6)});
  }
  print_table(table, out);
  return 0;
}

void AuditCommand::add_to(CLI::App& audit) {
  audit.require_subcommand(1);
  verify_cmd_ = audit.add_subcommand("verify", "Check the audit chain: exit 0 when intact, 1 naming the first bad row");
  verify_cmd_->add_option("-c,--config", config_path_, "The gateway's YAML configuration (its store: sqlite or postgres)")->required();
}

int AuditCommand::run(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto records = open_records(*c, config_path_, "records are kept", err);
  if (!records) return 1;
  auto verdict = records->verify_audit();
  if (auto* e = std::get_if<std::string>(&verdict)) {
    err << *e << '\n';
    return 1;
  }
  const auto& v = std::get<store::AuditVerdict>(verdict);
  if (v.intact) {
    out << "audit chain intact: " << v.rows << " rows, each chained to the one before\n";
    return 0;
  }
  err << "audit chain BROKEN at row " << v.first_bad_id << ": " << v.problem << '\n';
  return 1;
}

namespace {
// The user this process runs as, from the system's user database by its real uid: $USER is the
// shell's to set, and anyone can claim to be someone else with it. The uid when it has no name.
std::string process_user() {
  const uid_t uid = ::getuid();
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name && *found->pw_name) {
    return found->pw_name;
  }
  return "uid " + std::to_string(uid);
}
}  // namespace

std::string cli_actor() { return "cli (" + process_user() + ")"; }

std::string audit_from_cli(const config::Config& config, std::string kind, std::string subject, std::string detail,
                           std::string request_id) {
  auto opened = store::open_records(config.store);
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  store::RecordBatch batch;
  store::AuditRecord r;
  r.time_ms = limit::system_now_ms();
  r.kind = std::move(kind);
  r.actor = cli_actor();
  r.request_id = std::move(request_id);
  r.subject = std::move(subject);
  r.detail = std::move(detail);
  batch.audit.push_back(std::move(r));
  auto e = std::get<0>(opened)->write(batch);
  return e ? *e : std::string();
}

}  // namespace gatehouse::cli
