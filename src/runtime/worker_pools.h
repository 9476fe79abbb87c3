// Every worker's upstream connection pools (http::UpstreamPools), a long-lived service: a reload
// that leaves a provider's settings alone keeps its connections. Each worker uses only its own.
#pragma once

#include <memory>
#include <vector>

#include "http/server.h"
#include "http/upstream.h"

namespace gatehouse::runtime {

class WorkerPools {
 public:
  // Makes one set of pools per worker of `server`, on its io_context. Call once, before start().
  void attach(http::Server& server) {
    pools_.clear();
    for (std::size_t i = 0; i < server.workers(); ++i) {
      pools_.push_back(std::make_unique<http::UpstreamPools>(server.context(i)));
    }
  }
  // Worker `i`'s pools (on that worker only).
  http::UpstreamPools& of(std::size_t i) { return *pools_[i]; }
  // Closes worker `i`'s connections; runs on that worker as it stops.
  void close(std::size_t i) {
    if (i < pools_.size()) pools_[i]->close();
  }

 private:
  std::vector<std::unique_ptr<http::UpstreamPools>> pools_;
};

}  // namespace gatehouse::runtime
