#pragma once

#include <memory>

#include "pipeline/stage.h"

namespace spdlog {
class logger;
}

namespace gatehouse::pipeline {

// One JSON object per request on the "access" logger (asynchronous: the request path only
// formats and enqueues): id, method, path, status, caller, model, target, attempts, latencies,
// tokens, cost. Never a credential or a body.
class AccessLogStage final : public Stage {
 public:
  AccessLogStage();
  std::string_view name() const override { return "access_log"; }
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  std::shared_ptr<spdlog::logger> logger_;  // spdlog's "access" logger (app/main.cpp), or null
};

}  // namespace gatehouse::pipeline
