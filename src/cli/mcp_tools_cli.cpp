#include "cli/mcp_tools_cli.h"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <exception>
#include <ostream>

#include "cli/cli_common.h"
#include "cli/records_cli.h"
#include "limit/clock.h"
#include "mcp/pins.h"
#include "store/key_rules.h"
#include "store/mcp_tables.h"
#include "store/store_open.h"

namespace gatehouse::cli {

namespace {

namespace json = boost::json;

std::unique_ptr<store::PinTable> open_table(const config::Config& c, const std::string& path,
                                            std::ostream& err) {
  if (!c.store.configured()) {
    err << path
        << " names no store: tool definitions are pinned in the gateway's memory only; they are "
           "kept "
        << "(and managed here) with\n  store:\n    sqlite: \"./gatehouse.db\"\n(or store: {postgres: URL})\n";
    return nullptr;
  }
  auto opened = store::open_pins(c.store);
  if (auto* e = std::get_if<std::string>(&opened)) {
    err << *e << '\n';
    return nullptr;
  }
  return std::move(std::get<0>(opened));
}

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

}  // namespace

void McpCommand::add_to(CLI::App& mcp) {
  mcp.require_subcommand(1);
  CLI::App* tools =
      mcp.add_subcommand("tools", "The pinned MCP tool definitions: list, accept a changed one");
  tools->require_subcommand(1);
  auto config_option = [this](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path_,
                    "YAML configuration file (its store: sqlite or postgres)")
        ->required();
  };
  list_cmd_ = tools->add_subcommand(
      "list", "List the pinned definitions and the changed ones waiting (withheld)");
  config_option(list_cmd_);
  list_cmd_->add_option("--format", format_, "table (default) or json (with the definitions)")
      ->check(CLI::IsMember({"table", "json"}));

  accept_cmd_ = tools->add_subcommand(
      "accept", "Accept a tool's changed definition: it is pinned, and the tool served again");
  config_option(accept_cmd_);
  accept_cmd_->add_option("tool", name_, "SERVER/TOOL")->required();
  accept_cmd_->add_option(
      "--sha256", sha256_,
      "Accept only if the waiting definition is this one (its digest, or the start of it, as "
      "list shows): a definition that changed again since you read it is not accepted unseen");
}

int McpCommand::run(std::ostream& out, std::ostream& err) const {
  try {
    if (*list_cmd_) return list(out, err);
    if (*accept_cmd_) return accept(out, err);
  } catch (const std::exception& e) {
    err << "gatehouse mcp: " << e.what() << '\n';
    return 1;
  }
  return 2;
}

int McpCommand::list(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto table = open_table(*c, config_path_, err);
  if (!table) return 1;
  auto listed = table->list();
  if (auto* e = std::get_if<std::string>(&listed)) {
    err << *e << '\n';
    return 1;
  }
  const auto& pins = std::get<0>(listed);
  if (format_ == "json") {
    json::array arr;
    for (const auto& p : pins) {
      json::value pending = nullptr;
      if (!p.pending_sha256.empty()) {
        pending = json::object{{"sha256", p.pending_sha256},
                               {"since", utc_ms(p.pending_since_ms)},
                               {"definition", json_or_text(p.pending_definition)}};
      }
      arr.push_back(json::object{{"server", p.server},
                                 {"tool", p.tool},
                                 {"sha256", p.sha256},
                                 {"pinned_at", utc_ms(p.pinned_at_ms)},
                                 {"pending", std::move(pending)},
                                 {"definition", json_or_text(p.definition)}});
    }
    out << json::serialize(arr) << '\n';
    return 0;
  }
  if (pins.empty()) {
    out << "no tool definitions are pinned in " << c->store.shown() << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TOOL", "PINNED", "PINNED AT", "CHANGED TO", "CHANGED SINCE"});
  std::size_t changed = 0;
  for (const auto& p : pins) {
    const bool waiting = !p.pending_sha256.empty();
    changed += waiting;
    rows.push_back({p.server + "/" + p.tool, short_sha(p.sha256), utc_ms(p.pinned_at_ms),
                    waiting ? short_sha(p.pending_sha256) + " (withheld)" : "-",
                    waiting ? utc_ms(p.pending_since_ms) : "-"});
  }
  print_table(rows, out);
  if (changed) {
    out << changed << (changed == 1 ? " tool is" : " tools are")
        << " withheld until a changed definition is accepted; review it (--format json shows both "
           "definitions), "
           "then: gatehouse mcp tools accept SERVER/TOOL --config "
        << config_path_ << '\n';
  }
  return 0;
}

int McpCommand::accept(std::ostream& out, std::ostream& err) const {
  const auto slash = name_.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name_.size()) {
    err << "name the tool as SERVER/TOOL (e.g. crm/delete_contact), as `gatehouse mcp tools list` "
           "shows it\n";
    return 1;
  }
  const std::string server = name_.substr(0, slash), tool = name_.substr(slash + 1);
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto table = open_table(*c, config_path_, err);
  if (!table) return 1;

  auto listed = table->list();
  if (auto* e = std::get_if<std::string>(&listed)) {
    err << *e << '\n';
    return 1;
  }
  const store::PinRow* pin = nullptr;
  for (const auto& p : std::get<0>(listed)) {
    if (p.server == server && p.tool == tool) pin = &p;
  }
  if (!pin) {
    err << "no tool " << name_ << " is pinned in " << c->store.shown()
        << " (gatehouse mcp tools list shows the pinned ones)\n";
    return 1;
  }
  if (pin->pending_sha256.empty()) {
    err << "tool " << name_ << " has no changed definition waiting: its pinned one ("
        << short_sha(pin->sha256) << ") is the one served\n";
    return 1;
  }
  if (!sha256_.empty() && !pin->pending_sha256.starts_with(sha256_)) {
    err << "the changed definition of " << name_ << " waiting now is "
        << short_sha(pin->pending_sha256) << ", not " << sha256_
        << ": it changed again; review it (gatehouse mcp tools list --format json) and accept that "
           "one\n";
    return 1;
  }
  // Exactly the definition checked above: one arriving in between is not accepted unseen.
  auto done = table->accept(server, tool, limit::system_now_ms(), pin->pending_sha256);
  if (auto* e = std::get_if<std::string>(&done)) {
    err << *e << '\n';
    return 1;
  }
  const auto& accepted = std::get<0>(done);
  if (!accepted) {
    err << "the definition of " << name_
        << " changed while this ran (or was accepted elsewhere); run list again\n";
    return 1;
  }
  out << "accepted the changed definition of " << name_ << " (" << short_sha(accepted->from_sha256)
      << " -> " << short_sha(accepted->to_sha256) << "); gateways using " << c->store.shown()
      << " serve the tool again within about a second\n";
  if (auto e =
          audit_from_cli(*c, "mcp.tool.accepted", mcp::tool_audit_subject(server, tool),
                         mcp::accepted_audit_detail(accepted->from_sha256, accepted->to_sha256));
      !e.empty()) {
    err << "the definition is accepted, but the audit chain could not record it: " << e << '\n';
    return 1;
  }
  return 0;
}

}  // namespace gatehouse::cli
