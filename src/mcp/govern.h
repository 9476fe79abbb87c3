// One tools/call under governance (docs/mcp.md): who may call the tool (roles' tools globs), the
// kill switch (mcp_server, mcp_tool, project, key), rate limits with scope tool, guardrails on
// the arguments (the server's input lists) and on the result (its output lists), approvals, and
// the record of the call (mcp/call_record.h), written when the state goes away.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mcp/call_record.h"

namespace gatehouse::runtime {
struct Snapshot;
}
namespace gatehouse::pipeline {
struct RequestContext;
}
namespace gatehouse::limit {
struct Ticket;
struct Admission;
class SharedTicket;
}
namespace gatehouse::config {
struct McpServerConfig;
}

namespace gatehouse::mcp {

// JSON-RPC error codes of the gateway's refusals (-32000..-32099: the implementation's own).
enum RefusalCode : int {
  kToolNotAllowed = -32003,     // the caller's roles do not allow the tool
  kToolSwitchedOff = -32004,    // the kill switch
  kToolRateLimited = -32005,    // a limit with scope tool
  kGuardrailBlocked = -32006,   // a guardrail blocked the arguments or the result
  kApprovalRefused = -32007,    // an administrator denied the call, or nobody decided in time
  kToolChanged = -32008,        // the tool's definition changed since it was pinned
};

struct Refusal {
  int code = 0;
  std::string message;
  boost::json::object data;  // {"type": ..., and what the caller may need: tool, role, retry_after_s}
};

class ToolCallState {
 public:
  ToolCallState(const runtime::Snapshot& snapshot, pipeline::RequestContext& ctx, std::string_view endpoint);
  ~ToolCallState();  // records the call and settles its rate-limit ticket
  ToolCallState(const ToolCallState&) = delete;
  ToolCallState& operator=(const ToolCallState&) = delete;

  void begin(const std::string& server, const std::string& tool, const boost::json::object* params);
  // Roles, then the kill switch, then the tool's rate limits (with shared state, state.redis:
  // those are counted in Redis, across replicas: one awaited admission).
  boost::asio::awaitable<std::optional<Refusal>> admit();
  Refusal refuse_changed();
  // With pinning on, a tool its server does not list (nothing to pin) is not called.
  Refusal refuse_unlisted();
  // The kill switch alone (again after a call was held for approval).
  std::optional<Refusal> check_kill();
  // The server's input guardrails on every string of params.arguments: a block refuses, masks
  // rewrite the strings in place.
  std::optional<Refusal> guard_arguments(boost::json::object& params);
  bool needs_approval() const;
  boost::asio::awaitable<std::optional<Refusal>> await_approval(
      std::chrono::seconds timeout, std::function<boost::asio::awaitable<void>(std::chrono::seconds)> tick);
  // The tool's answer as the client gets it: output guardrails on its text (content[].text,
  // structuredContent); a block replaces it with a JSON-RPC error. Sets the outcome.
  std::string guard_result(boost::json::object& response);
  void fail(std::string outcome, std::string error);

 private:
  std::optional<Refusal> refuse(std::string outcome, int code, std::string type, std::string message);
  std::optional<Refusal> refuse_limited(const limit::Admission& a);

  const runtime::Snapshot& snap_;
  pipeline::RequestContext& ctx_;
  const config::McpServerConfig* server_ = nullptr;
  ToolCallRecord rec_;
  std::string arguments_;  // the call's arguments (JSON), masked by the input guardrails
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<limit::Ticket> ticket_;
  std::shared_ptr<limit::SharedTicket> shared_ticket_;
  bool begun_ = false;
};

// A message on a GET stream from `server`: when it is a tool result (a response whose result has
// content — a client resuming a broken call's stream gets the result there), the server's output
// guardrails apply to it as they do on the call's own stream. Other messages pass unchanged.
std::string guard_replayed_result(const runtime::Snapshot& snapshot, pipeline::RequestContext& ctx,
                                  const std::string& server, std::string message);

}  // namespace gatehouse::mcp
