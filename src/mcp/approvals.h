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

#include "config/config.h"

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
  std::int64_t expires_ms = 0;  // when the waiting call gives up (created + timeout)
};

// What a decision did, with the record as it stands after it.
struct Decision {
  enum class Outcome {
    kDecided,         // done: approval holds the decided record
    kUnknown,         // no approval has that id
    kAlreadyDecided,  // approval holds the earlier decision (or a pending one past its deadline)
    kFailed,          // the store failed: error says how
  };
  Outcome outcome = Outcome::kFailed;
  Approval approval;
  std::string error;
};

// How often a waiting call reads its row for a decision made by another process, and runs `tick`.
struct ApprovalTimings {
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds tick{5000};
};

class Approvals {
 public:
  virtual ~Approvals() = default;
  // Holds the call until a decision or `timeout`; `tick` runs every few seconds while it waits
  // (the caller sends progress notifications). Returns the final record (status approved,
  // denied or expired). Runs on the caller's executor.
  // The pending row is stored first (so that the CLI sees it); a store that fails then ends the
  // call at once as denied (decided_by "gatehouse", reason saying so): a risky call is never let
  // through because it could not be held. A timeout ends it expired (audited
  // `mcp.approval.expired`). Cancelled (the client went away: a terminal cancellation, or the
  // coroutine destroyed), the row is expired with reason "the client went away" (audited) and,
  // when it was a cancellation, the expired record is returned rather than an exception thrown.
  virtual boost::asio::awaitable<Approval> wait(ApprovalRequest request, std::chrono::seconds timeout,
                                                std::function<boost::asio::awaitable<void>(std::chrono::seconds waited)> tick) = 0;
  // The calls this process holds, oldest first (memory only). `gatehouse approvals list` reads the
  // store instead, so it also shows the calls other gateways sharing the store hold.
  virtual std::vector<Approval> pending() const = 0;
  // Decides a pending call (this process's or, through the store, another's); false when `id` is
  // unknown or already decided. Audited `mcp.approval.approved` / `mcp.approval.denied` by `by`;
  // the waiting call learns it at once (this process) or within a poll (another). Blocks on the
  // store: from a worker, use decide_async.
  virtual bool decide(std::string_view id, bool approve, std::string_view reason, std::string_view by) = 0;
  // decide(), run on the store executor, with what it did (the admin API's 404 and 409).
  virtual boost::asio::awaitable<Decision> decide_async(std::string id, bool approve, std::string reason,
                                                        std::string by) = 0;
};

// The detail of an `mcp.approval.*` audit row, as the gateway and the CLI write it (subject:
// tool_audit_subject, pins.h).
std::string approval_audit_detail(std::string_view id, std::string_view reason, std::string_view requester);

// Approvals kept in the store `store` names (table mcp_approvals), or in memory only when it names
// none (tests: the configuration requires a store with mcp.approvals). Opens the table on the
// calling thread and expires the rows left pending by gateways that stopped (their deadline long
// past); throws std::runtime_error, naming the store, when it cannot.
std::shared_ptr<Approvals> make_approvals(const config::StoreConfig& store, std::shared_ptr<store::StoreExecutor> executor,
                                          std::shared_ptr<record::RecordWriter> audit,
                                          ApprovalTimings timings = {});

}  // namespace gatehouse::mcp
