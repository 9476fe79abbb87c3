#include "cli/approvals_cli.h"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <exception>
#include <ostream>

#include "cli/cli_common.h"
#include "cli/records_cli.h"
#include "limit/clock.h"
#include "mcp/approvals.h"
#include "mcp/pins.h"
#include "store/key_rules.h"
#include "store/mcp_tables.h"
#include "store/store_open.h"

namespace gatehouse::cli {

namespace {

namespace json = boost::json;

// The approvals table of the store `c` names, or null after a message.
std::unique_ptr<store::ApprovalTable> open_table(const config::Config& c, const std::string& path,
                                                 std::ostream& err) {
  if (!c.store.configured()) {
    err << path
        << " names no store: held MCP calls are kept only with\n  store:\n    sqlite: "
           "\"./gatehouse.db\"\n"
        << "or store: {postgres: URL} (mcp.approvals needs one)\n";
    return nullptr;
  }
  auto opened = store::open_approvals(c.store);
  if (auto* e = std::get_if<std::string>(&opened)) {
    err << *e << '\n';
    return nullptr;
  }
  return std::move(std::get<0>(opened));
}

// At most `n` characters of `s` on one line.
std::string clipped(std::string s, std::size_t n) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() <= n) return s;
  return s.substr(0, n - 3) + "...";
}

}  // namespace

void ApprovalsCommand::add_to(CLI::App& approvals) {
  approvals.require_subcommand(1);
  auto config_option = [this](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path_,
                    "YAML configuration file (its store: sqlite or postgres)")
        ->required();
  };
  list_cmd_ = approvals.add_subcommand(
      "list", "List the MCP tool calls waiting for a decision (every gateway's)");
  config_option(list_cmd_);
  list_cmd_->add_option("--format", format_, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));

  approve_cmd_ = approvals.add_subcommand("approve", "Let a held call go on to its server");
  config_option(approve_cmd_);
  approve_cmd_->add_option("id", id_, "The approval's id (apr_...)")->required();
  approve_cmd_->add_option("--reason", reason_, "Why (kept in the store and the audit chain)");

  deny_cmd_ = approvals.add_subcommand("deny", "Refuse a held call: it never reaches its server");
  config_option(deny_cmd_);
  deny_cmd_->add_option("id", id_, "The approval's id (apr_...)")->required();
  deny_cmd_->add_option("--reason", reason_, "Why (the caller is told; kept in the audit chain)")
      ->required();
}

int ApprovalsCommand::run(std::ostream& out, std::ostream& err) const {
  try {
    if (*list_cmd_) return list(out, err);
    if (*approve_cmd_) return decide(true, out, err);
    if (*deny_cmd_) return decide(false, out, err);
  } catch (const std::exception& e) {
    err << "gatehouse approvals: " << e.what() << '\n';
    return 1;
  }
  return 2;
}

int ApprovalsCommand::list(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto table = open_table(*c, config_path_, err);
  if (!table) return 1;
  const std::int64_t now = limit::system_now_ms();
  auto listed = table->pending(now);
  if (auto* e = std::get_if<std::string>(&listed)) {
    err << *e << '\n';
    return 1;
  }
  const auto& rows = std::get<0>(listed);
  if (format_ == "json") {
    json::array arr;
    for (const auto& r : rows) {
      arr.push_back(json::object{{"id", r.id},
                                 {"request_id", r.request_id},
                                 {"requester", r.requester},
                                 {"key_name", r.key_name},
                                 {"server", r.server},
                                 {"tool", r.tool},
                                 {"arguments", json_or_text(r.arguments)},
                                 {"status", r.status},
                                 {"created", utc_ms(r.created_ms)},
                                 {"expires", utc_ms(r.expires_ms)}});
    }
    out << json::serialize(arr) << '\n';
    return 0;
  }
  if (rows.empty()) {
    out << "no calls wait for approval in " << c->store.shown() << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> lines;
  lines.push_back({"ID", "CREATED", "REQUESTER", "TOOL", "ARGUMENTS", "TIME LEFT"});
  for (const auto& r : rows) {
    lines.push_back({r.id, utc_ms(r.created_ms), r.requester.empty() ? "-" : r.requester,
                     r.server + "/" + r.tool, clipped(r.arguments, 60),
                     std::to_string((r.expires_ms - now + 999) / 1000) + " s"});
  }
  print_table(lines, out);
  return 0;
}

int ApprovalsCommand::decide(bool approve, std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto table = open_table(*c, config_path_, err);
  if (!table) return 1;
  const std::string status = approve ? "approved" : "denied";
  const std::string by = cli_actor();
  auto done = table->decide(id_, status, reason_, by, limit::system_now_ms());
  if (auto* e = std::get_if<std::string>(&done)) {
    err << *e << '\n';
    return 1;
  }
  auto got = table->get(id_);
  if (auto* e = std::get_if<std::string>(&got)) {
    err << *e << '\n';
    return 1;
  }
  const auto& row = std::get<0>(got);
  if (!row) {
    err << "no approval with id '" << id_ << "' in " << c->store.shown()
        << " (gatehouse approvals list --config " << config_path_ << " shows the pending ones)\n";
    return 1;
  }
  if (!std::get<bool>(done)) {
    if (row->status == "pending") {
      err << "approval " << id_ << " ran out of time (" << utc_ms(row->expires_ms)
          << "): the gateway is ending the call; it is no longer yours to decide\n";
    } else {
      err << "approval " << id_ << " was already " << row->status;
      if (!row->decided_by.empty()) err << " by " << row->decided_by;
      if (row->decided_ms) err << " at " << utc_ms(row->decided_ms);
      if (!row->reason.empty()) err << " (" << row->reason << ")";
      err << '\n';
    }
    return 1;
  }
  out << status << ' ' << id_ << ": " << row->requester << "'s call to " << row->server << "/"
      << row->tool << (approve ? " goes on" : " is refused") << " within about a second\n";
  const std::string audit_error =
      audit_from_cli(*c, "mcp.approval." + status, mcp::tool_audit_subject(row->server, row->tool),
                     mcp::approval_audit_detail(id_, reason_, row->requester), row->request_id);
  if (!audit_error.empty()) {
    err << "the call is " << status << ", but the audit chain could not record it: " << audit_error
        << '\n';
    return 1;
  }
  return 0;
}

}  // namespace gatehouse::cli
