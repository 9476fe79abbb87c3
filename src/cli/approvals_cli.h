// `gatehouse approvals list|approve|deny`: the MCP tool calls held for an administrator's approval
// (mcp.approvals), read from and decided in the store a configuration file names (store.sqlite or store.postgres).
// The gateway holding a call learns a decision made here within about a second.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class ApprovalsCommand {
 public:
  // Adds list, approve and deny, with their options, under `approvals`.
  void add_to(CLI::App& approvals);
  // Runs the subcommand chosen. 0 done; 1 refused or failed (with a message on `err`): no store,
  // an unknown id, a call already decided (or out of time), a store error.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  int list(std::ostream& out, std::ostream& err) const;
  int decide(bool approve, std::ostream& out, std::ostream& err) const;

  CLI::App* list_cmd_ = nullptr;
  CLI::App* approve_cmd_ = nullptr;
  CLI::App* deny_cmd_ = nullptr;
  std::string config_path_;
  std::string id_;
  std::string reason_;
  std::string format_ = "table";
};

}  // namespace gatehouse::cli
