// `gatehouse logs` (the inference log; with --mcp the MCP tool calls) and `gatehouse audit verify`
// (the audit chain), read from the store a configuration file names; and the audit rows the CLI
// itself appends.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "config/config.h"
#include "store/record_store.h"

namespace CLI {
class App;
}

namespace gatehouse::cli {

class LogsCommand {
 public:
  // Adds --config, --model, --since, --limit, --format to the "logs" subcommand, and --mcp with
  // its filters (--server, --tool, --requester, --request-id, --outcome; only with --mcp).
  void add_to(CLI::App& logs);
  int run(std::ostream& out, std::ostream& err) const;

 private:
  int run_mcp(store::RecordStore& records, std::int64_t since_ms, std::ostream& out, std::ostream& err) const;

  std::string config_path_;
  std::string model_;
  std::string since_ = "1h";
  int limit_ = 20;
  std::string format_ = "table";
  bool mcp_ = false;
  std::string server_, tool_, requester_, request_id_, outcome_;
};

class AuditCommand {
 public:
  // Adds verify under the "audit" subcommand.
  void add_to(CLI::App& audit);
  // verify: exit 0 when the chain is intact, 1 naming the first row edited, deleted or moved.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  CLI::App* verify_cmd_ = nullptr;
  std::string config_path_;
};

// Appends one row to the audit chain in `config`'s store, for an action the CLI took; "" or what
// went wrong (the action stands; the caller reports the failure).
// `request_id`: the request the action is about, if any (a held MCP call's).
std::string audit_from_cli(const config::Config& config, std::string kind, std::string subject, std::string detail,
                           std::string request_id = {});

// Who the CLI acts as, in the audit chain and the store: "cli (USER)", USER by the real uid.
std::string cli_actor();

}  // namespace gatehouse::cli
