#pragma once

#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// One structured line per request on the "access" logger (asynchronous: the request path only
// formats and enqueues). Never logs credentials or bodies.
class AccessLogStage final : public Stage {
 public:
  std::string_view name() const override { return "access_log"; }
  void on_complete(const RequestContext& ctx) const noexcept override;
};

}  // namespace gatehouse::pipeline
