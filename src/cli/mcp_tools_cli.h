// `gatehouse mcp tools list|accept`: the MCP tool definitions pinned in the store a configuration
// file names (store.sqlite or store.postgres), and accepting a changed one. Gateways sharing the store serve the
// tool again within about a second.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class McpCommand {
 public:
  // Adds `tools` (list, accept) under `mcp`.
  void add_to(CLI::App& mcp);
  // 0 done; 1 refused or failed (with a message on `err`): no store, no such tool, nothing to
  // accept.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  int list(std::ostream& out, std::ostream& err) const;
  int accept(std::ostream& out, std::ostream& err) const;

  CLI::App* list_cmd_ = nullptr;
  CLI::App* accept_cmd_ = nullptr;
  std::string config_path_;
  std::string name_;  // SERVER/TOOL
  std::string sha256_;
  std::string format_ = "table";
};

}  // namespace gatehouse::cli
