// The kill switch: administrators turn a model, a provider, a project or a key off at once, on
// every worker, with a reason its callers see (503). Process-wide: it survives config reloads.
// Kills live in memory; a restart lifts them (see docs/access.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace gatehouse::pipeline {

struct Kill {
  std::string id;
  std::string scope;   // model | provider | project | key | mcp_server | mcp_tool ("server/tool")
  std::string value;   // which one
  std::string reason;
  std::string by;      // who switched it off
  std::int64_t at = 0; // unix seconds
};

// The 503 kill_switch a request covered by `kill` gets, naming the scope and the reason.
Error kill_error(const Kill& kill);

class KillSwitch {
 public:
  // Switches `scope` = `value` off; returns the kill (with its id).
  Kill add(std::string scope, std::string value, std::string reason, std::string by);
  // Lifts a kill; false when there is none with this id.
  bool lift(std::string_view id);
  std::vector<Kill> list() const;
  // The first kill covering a request, if any. One relaxed atomic load when nothing is killed.
  std::optional<Kill> match(std::string_view model, std::string_view provider,
                            std::string_view project, std::string_view key) const;

  // The first kill covering an MCP tool call (its server, "server/tool", the caller's project or key).
  std::optional<Kill> match_tool(std::string_view server, std::string_view tool, std::string_view project,
                                 std::string_view key) const;

  static bool valid_scope(std::string_view scope);

  // Shared with other replicas (state/shared_state.h): told of every add (`added`) and lift
  // (`lifted`: the id), outside the lock; may be set while requests run.
  using Observer = std::function<void(const Kill* added, std::string_view lifted)>;
  void set_observer(Observer observer, std::string id_prefix);
  // Every replica's kills, as the shared store has them: replaces this one's, not announced.
  void replace(std::vector<Kill> kills);

 private:
  std::atomic<bool> any_{false};
  std::atomic<std::shared_ptr<const Observer>> observer_;
  std::string id_prefix_ = "kill-";  // under mu_
  mutable std::mutex mu_;
  std::vector<Kill> kills_;
  std::uint64_t next_ = 1;
};

}  // namespace gatehouse::pipeline
