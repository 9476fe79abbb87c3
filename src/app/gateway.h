// The application's request handler: endpoint dispatch, the pipeline, routing and forwarding.
// Holds the current snapshot and the upstream pools of each worker.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "api/openai.h"
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

  // The result of one attempt at one target (dispatch.cpp).
  struct Attempt {
    std::optional<Error> error;  // none: answered (or the client left)
    bool ineligible = false;     // the target cannot serve this request at all (nothing was sent)
  };

  // Serves a model request by its plan: each target in turn (health, retries, fallback), until
  // one answers; else the last error, or 503 summarising every target's failure (dispatch.cpp).
  asio::awaitable<void> serve(http::Exchange& ex, pipeline::RequestContext& ctx, const Snapshot& snapshot,
                              const route::Plan& plan, api::CanonicalRequest& canonical,
                              std::string_view client_body);
  // One attempt at `target`: the request in its provider's shape, its credential (an OAuth token
  // the provider refuses is refreshed and the attempt repeated once), forward. `answered` runs
  // once the provider's answer is complete, before its last bytes reach the client.
  asio::awaitable<Attempt> attempt(http::Exchange& ex, pipeline::RequestContext& ctx, const Snapshot& snapshot,
                                   const route::Target& target, api::CanonicalRequest& canonical,
                                   std::string_view client_body, const std::function<void()>& answered);

  asio::awaitable<void> respond_error(http::Exchange& ex, pipeline::RequestContext& ctx,
                                      const Error& error);
  asio::awaitable<void> respond_json(http::Exchange& ex, pipeline::RequestContext& ctx, int status,
                                     std::string body);

  http::Server* server_ = nullptr;
  std::shared_ptr<const Snapshot> initial_;
  std::vector<WorkerState> workers_;
  // Every snapshot published and maybe still in use (control thread only): see publish().
  std::vector<std::shared_ptr<const Snapshot>> published_;
};

}  // namespace gatehouse::app
