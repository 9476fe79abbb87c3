// The application's request handler: endpoint dispatch, the pipeline, routing and forwarding.
// Holds the current snapshot and the upstream pools of each worker.
#pragma once

#include <memory>
#include <vector>

#include "app/snapshot.h"
#include "http/server.h"
#include "http/upstream.h"

namespace gatehouse::app {

namespace asio = boost::asio;

class Gateway final : public http::Handler {
 public:
  explicit Gateway(std::shared_ptr<const Snapshot> snapshot);

  // Creates each worker's state on the server's io_contexts. Call once, before start().
  void attach(http::Server& server);
  // Makes `snapshot` current on every worker; requests already running keep theirs.
  void publish(std::shared_ptr<const Snapshot> snapshot);
  // Releases worker `i`'s upstream connections; runs on that worker as it stops.
  void on_worker_stop(std::size_t i);

  asio::awaitable<void> handle(http::Exchange& exchange) override;
  http::Response render_error(const Error& error, const std::string& request_id) override;

 private:
  struct WorkerState {
    std::shared_ptr<const Snapshot> snapshot;
    std::unique_ptr<http::UpstreamPools> pools;
  };

  asio::awaitable<void> respond_error(http::Exchange& ex, pipeline::RequestContext& ctx,
                                      const Error& error);
  asio::awaitable<void> respond_json(http::Exchange& ex, pipeline::RequestContext& ctx, int status,
                                     std::string body);

  http::Server* server_ = nullptr;
  std::shared_ptr<const Snapshot> initial_;
  std::vector<WorkerState> workers_;
};

}  // namespace gatehouse::app
