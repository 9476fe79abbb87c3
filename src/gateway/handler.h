// The gateway's request handler: pins the worker's current snapshot, sets up the request's
// context, looks the endpoint up (gateway/endpoints.h) and hands the request to its backend —
// the LLM path, the admin API or the operational endpoints — with the pipeline's on_request
// before it and on_complete, exactly once, after it.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "admin/session.h"
#include "http/server.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

class Gateway final : public http::Handler {
 public:
  explicit Gateway(std::shared_ptr<const runtime::Snapshot> snapshot);

  // Sizes the per-worker state for the server's workers. Call once, before start().
  void attach(http::Server& server);
  // Makes `snapshot` current on every worker; requests already running keep theirs.
  void publish(std::shared_ptr<const runtime::Snapshot> snapshot);

  boost::asio::awaitable<void> handle(http::Exchange& exchange) override;
  // In the shape of the endpoint `target` names (gateway/endpoints.h); OpenAI's when none.
  http::Response render_error(const Error& error, const std::string& request_id, std::string_view target) override;

 private:
  http::Server* server_ = nullptr;
  std::shared_ptr<const runtime::Snapshot> initial_;
  std::vector<std::shared_ptr<const runtime::Snapshot>> current_;  // per worker
  // Every snapshot published and maybe still in use (control thread only): see publish().
  std::vector<std::shared_ptr<const runtime::Snapshot>> published_;
  // The console's sessions, sealed with console.session_secret (made again when a reload
  // changes it; sessions sealed with the old one then end).
  std::shared_ptr<admin::ConsoleSessions> sessions(const config::Config& config);
  std::mutex sessions_mutex_;
  std::shared_ptr<admin::ConsoleSessions> sessions_;
};

}  // namespace gatehouse::gateway
