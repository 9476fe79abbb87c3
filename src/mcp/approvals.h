// Approvals for risky tools (mcp.approvals.tools): the call is held until an administrator
// approves or denies it — admin API (GET /admin/v1/approvals, POST /admin/v1/approvals/{id}) or
// `gatehouse approvals list|approve|deny` — or mcp.approvals.timeout_s ends it. A denied call never
// reaches the upstream. Every decision (and a timeout) goes in the audit chain.
//
// Pending calls are kept in the store (table mcp_approvals) so that the CLI, another process,
// can list and decide them; the waiting call learns a decision at once when it came through this
// process's admin API, and within a second (polling) when it came from elsewhere.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::store {
class StoreExecutor;
}
namespace gatehouse::record {
class RecordWriter;
}

namespace gatehouse::mcp {

struct ApprovalRequest {
  std::string request_id;   // x-request-id of the held call
  std::string requester;    // key name or JWT user
  std::string key_name;
  std::string server, tool;
  std::string arguments;    // JSON text (after input guardrails' masks)
};

struct Approval {
  std::string id;
  ApprovalRequest request;
  std::string status;       // pending | approved | denied | expired
  std::string reason, decided_by;
  std::int64_t created_ms = 0, decided_ms = 0;
};

class Approvals {
 public:
  virtual ~Approvals() = default;
  // Holds the call until a decision or `timeout`; `tick` runs every few seconds while it waits
  // (the caller sends progress notifications). Returns the final record (status approved,
  // denied or expired). Runs on the caller's executor.
  virtual boost::asio::awaitable<Approval> wait(ApprovalRequest request, std::chrono::seconds timeout,
                                                std::function<boost::asio::awaitable<void>(std::chrono::seconds waited)> tick) = 0;
  virtual std::vector<Approval> pending() const = 0;
  // Decides a pending call; false when `id` is unknown or already decided.
  virtual bool decide(std::string_view id, bool approve, std::string_view reason, std::string_view by) = 0;
};

std::shared_ptr<Approvals> make_approvals(const std::string& sqlite_path, std::shared_ptr<store::StoreExecutor> executor,
                                          std::shared_ptr<record::RecordWriter> audit);

}  // namespace gatehouse::mcp
