// What the MCP gateway keeps in the store for its governance: pinned tool definitions
// (mcp_tool_pins) and calls held for an administrator's approval (mcp_approvals). Shared by the
// gateways (mcp/pins.cpp, mcp/approvals.cpp, which call these off the request path) and the CLI
// (`gatehouse mcp tools`, `gatehouse approvals`), which calls them directly.
//
// Plain blocking calls, thread-safe, errors as values (a message naming the store); no Asio, so a
// PostgreSQL store can implement the same interfaces.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gatehouse::store {

// One tool's pin: the definition first seen (canonical JSON, mcp/tools.h) and a different one seen
// since, waiting for an administrator ("" when none).
struct PinRow {
  std::string server, tool;
  std::string sha256, definition;
  std::int64_t pinned_at_ms = 0;
  std::string pending_sha256, pending_definition;
  std::int64_t pending_since_ms = 0;
};

// What an accept changed: the pinned definition's digest before and after.
struct PinAccepted {
  std::string from_sha256, to_sha256;
};

class PinTable {
 public:
  virtual ~PinTable() = default;
  // Every pin, ordered by server then tool.
  virtual std::variant<std::vector<PinRow>, std::string> list() = 0;
  // Pins `row` (its pending fields ignored) unless the tool is pinned already, by this process or
  // another: the first pin stays.
  virtual std::optional<std::string> pin(const PinRow& row) = 0;
  // Records row.pending_* as the tool's pending definition ("" clears it), when the pinned one is
  // still row.sha256 (else nothing changes: an accept elsewhere came first).
  virtual std::optional<std::string> set_pending(const PinRow& row) = 0;
  // Makes the pending definition of server/tool the pinned one (pinned at `now_ms`), when one is
  // pending and, if `expected_sha256` is not empty, it is that one. nullopt: nothing to accept.
  virtual std::variant<std::optional<PinAccepted>, std::string> accept(
      const std::string& server, const std::string& tool, std::int64_t now_ms,
      const std::string& expected_sha256) = 0;
  // A number that changes with every write above, by anyone sharing the store (the gateways poll
  // it to learn of accepts made by the CLI or another gateway).
  virtual std::variant<std::uint64_t, std::string> version() = 0;
};

// One held call. `status`: pending | approved | denied | expired.
struct ApprovalRow {
  std::string id;  // "apr_" + 16 hex characters
  std::string request_id, requester, key_name, server, tool;
  std::string arguments;  // JSON text
  std::string status, reason, decided_by;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms =
      0;  // when the waiting gateway gives up (created + mcp.approvals.timeout_s)
  std::int64_t decided_ms = 0;
};

class ApprovalTable {
 public:
  virtual ~ApprovalTable() = default;
  virtual std::optional<std::string> insert(const ApprovalRow& row) = 0;
  // The row `id`, or nullopt when there is none.
  virtual std::variant<std::optional<ApprovalRow>, std::string> get(const std::string& id) = 0;
  // The pending rows whose deadline is after `now_ms` (a waiting gateway may still act on them),
  // oldest first.
  virtual std::variant<std::vector<ApprovalRow>, std::string> pending(std::int64_t now_ms) = 0;
  // Ends the pending row `id` with `status` (approved | denied | expired), `reason`, `by` at
  // `now_ms`. true: done; false: there is no such row, it is decided already, or (for approved
  // and denied) its deadline has passed — a decision the waiting call can no longer act on.
  virtual std::variant<bool, std::string> decide(const std::string& id, const std::string& status,
                                                 const std::string& reason, const std::string& by,
                                                 std::int64_t now_ms) = 0;
  // Expires the rows still pending whose deadline passed before `before_ms` — their waiting
  // gateway stopped before it could — with `reason`; the rows so ended.
  virtual std::variant<std::vector<ApprovalRow>, std::string> expire_abandoned(
      std::int64_t before_ms, const std::string& reason, std::int64_t now_ms) = 0;
};

// The tables in the SQLite file at `path` (the file of the key store and the records): created or
// upgraded on open (schema version `mcp.schema_version` in `meta`), WAL, synchronous=FULL (pins
// and decisions are rare writes that must survive a power cut). An error message when the file
// cannot be opened, is not a SQLite database, or was written by a newer Gatehouse.
std::variant<std::unique_ptr<PinTable>, std::string> open_sqlite_pins(const std::string& path);
std::variant<std::unique_ptr<ApprovalTable>, std::string> open_sqlite_approvals(
    const std::string& path);

}  // namespace gatehouse::store
