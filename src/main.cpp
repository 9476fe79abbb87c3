// gatehouse: the command line. Each subcommand is one call: `serve` into the composition root
// (app/), the others into cli/.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "app/serve.h"
#include "cli/approvals_cli.h"
#include "cli/billing_cli.h"
#include "cli/check_config.h"
#include "cli/guardrails_cli.h"
#include "cli/keys_cli.h"
#include "cli/mcp_tools_cli.h"
#include "cli/records_cli.h"
#include "cli/store_cli.h"
#include "cli/usage_cli.h"
#include "cli/usage_errors.h"

int main(int argc, char** argv) {
  namespace cli = gatehouse::cli;
  CLI::App app{"Gatehouse: an AI gateway. One endpoint in front of every model provider."};
  app.set_version_flag("--version", std::string("gatehouse ") + GATEHOUSE_VERSION);
  app.require_subcommand(1);

  std::string serve_path;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the gateway with a configuration file");
  serve_cmd->add_option("-c,--config", serve_path, "YAML configuration file")->required();
  std::string check_path;
  auto* check_cmd =
      app.add_subcommand("check-config", "Validate a configuration file; prints FILE:LINE:COL: message per problem");
  check_cmd->add_option("file", check_path, "YAML configuration file")->required();
  cli::KeysCommand keys;
  keys.add_to(*app.add_subcommand("keys", "Create, list and revoke the keys kept in the store (store.sqlite or store.postgres)"));
  cli::LogsCommand logs;
  logs.add_to(*app.add_subcommand("logs", "The inference log: requests and answers of the logged models; --mcp: MCP tool calls (from the store)"));
  cli::AuditCommand audit;
  audit.add_to(*app.add_subcommand("audit", "The audit chain: gatehouse audit verify --config FILE"));
  cli::GuardrailsCommand guardrails;
  guardrails.add_to(*app.add_subcommand("guardrails", "Try a guardrail: gatehouse guardrails test --config FILE --guardrail NAME TEXT"));
  cli::UsageCommand usage;
  usage.add_to(*app.add_subcommand("usage", "Requests, tokens and cost per project, key, user or model (from the store)"));
  cli::ApprovalsCommand approvals;
  approvals.add_to(*app.add_subcommand("approvals", "MCP tool calls held for approval: list, approve, deny (in the store)"));
  cli::StoreCommand store;
  store.add_to(*app.add_subcommand("store", "The store itself: gatehouse store migrate --from sqlite:FILE --to postgresql://..."));
  cli::BillingCommand billing;
  billing.add_to(*app.add_subcommand("billing", "Databricks spend beside model spend: gatehouse billing import --config FILE"));
  cli::McpCommand mcp;
  mcp.add_to(*app.add_subcommand("mcp", "The MCP gateway's pinned tool definitions: gatehouse mcp tools list|accept"));

  // Usage errors exit 2, naming what was not understood (cli/usage_errors.h).
  if (auto unknown = cli::unknown_argument(app, argc, argv)) {
    std::cerr << *unknown << "\nRun with --help for more information.\n";
    return cli::kUsageError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? 0 : cli::kUsageError;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (*serve_cmd) return gatehouse::app::serve(serve_path);
  if (*check_cmd) return cli::check_config(check_path, std::cout);
  if (app.got_subcommand("keys")) return keys.run(std::cout, std::cerr);
  if (app.got_subcommand("usage")) return usage.run(std::cout, std::cerr);
  if (app.got_subcommand("logs")) return logs.run(std::cout, std::cerr);
  if (app.got_subcommand("audit")) return audit.run(std::cout, std::cerr);
  if (app.got_subcommand("guardrails")) return guardrails.run(std::cout, std::cerr);
  if (app.got_subcommand("approvals")) return approvals.run(std::cout, std::cerr);
  if (app.got_subcommand("mcp")) return mcp.run(std::cout, std::cerr);
  if (app.got_subcommand("store")) return store.run(std::cout, std::cerr);
  if (app.got_subcommand("billing")) return billing.run(std::cout, std::cerr);
  return 2;
}
