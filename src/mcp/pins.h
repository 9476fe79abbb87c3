// Tool pinning: the first definition seen of each tool (description, input schema, annotations)
// is pinned in the store. A later, different definition — a "rug pull" that poisons an agent
// through a tool's description — is withheld from tools/list and its calls refused until an
// administrator accepts it (admin API, `gatehouse mcp tools accept`). Audited.
//
// Decided in memory (no disk on the request path): the pins are loaded from the store at start,
// new pins and changes are written through the store executor, and accepts made by another
// process (the CLI) are picked up by polling the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace gatehouse::store {
class StoreExecutor;
}
namespace gatehouse::record {
class RecordWriter;
}

namespace gatehouse::mcp {

struct ToolPin {
  std::string server, tool;
  std::string sha256;              // of the pinned definition (hex)
  std::string definition;          // the pinned definition (JSON text)
  std::int64_t pinned_at_ms = 0;
  // A different definition seen since, waiting for an administrator ("" when none).
  std::string pending_sha256, pending_definition;
  std::int64_t pending_since_ms = 0;
};

class ToolPins {
 public:
  enum class Verdict { kPinned, kFirstSeen, kChanged };
  virtual ~ToolPins() = default;
  // `definition` is the tool's canonical JSON (mcp/tools.h canonical_definition). kFirstSeen pins
  // it; kChanged records it as pending (once) and audits `mcp.tool.changed`. kChanged on every call
  // while the definition differs from the pinned one; the pinned definition again is kPinned (and
  // drops the pending one). Any thread; memory only (the writes are queued).
  virtual Verdict check(std::string_view server, std::string_view tool, std::string_view definition) = 0;
  // Every pin, by server then tool (memory only).
  virtual std::vector<ToolPin> list() const = 0;
  // What check() last said of server/tool without a new definition: kChanged while a different
  // definition waits for an administrator; nullopt when the tool was never seen.
  virtual std::optional<Verdict> status(std::string_view server, std::string_view tool) const {
    for (const auto& p : list()) {
      if (p.server == server && p.tool == tool) return p.pending_sha256.empty() ? Verdict::kPinned : Verdict::kChanged;
    }
    return std::nullopt;
  }
  // Accepts the pending definition of server/tool as the pinned one (audited `mcp.tool.accepted`
  // by `by`); false when nothing is pending.
  virtual bool accept(std::string_view server, std::string_view tool, std::string_view by) = 0;
};

// What the audit chain says of a tool, as the gateway and the CLI write it: the subject
// ("tool crm/delete_contact") and the detail of `mcp.tool.accepted` ({"from": sha, "to": sha}).
std::string tool_audit_subject(std::string_view server, std::string_view tool);
std::string accepted_audit_detail(std::string_view from_sha256, std::string_view to_sha256);

// Pins kept in the store `store` names (table mcp_tool_pins), or in memory only when it names
// none (lost at restart; the gateway warns). Loads the table on the calling thread (throws
// std::runtime_error, naming the store, when it cannot), then a thread reads its change counter
// every `poll_every` and reloads it when another process (the CLI) wrote. Writes go through
// `executor` (null: on the calling thread); `audit` may be null (no audit chain).
std::shared_ptr<ToolPins> make_tool_pins(const config::StoreConfig& store,
                                         std::shared_ptr<store::StoreExecutor> executor,
                                         std::shared_ptr<record::RecordWriter> audit,
                                         std::chrono::milliseconds poll_every = std::chrono::seconds(1));

}  // namespace gatehouse::mcp
