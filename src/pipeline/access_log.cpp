#include "pipeline/access_log.h"

#include <spdlog/spdlog.h>

namespace gatehouse::pipeline {

void AccessLogStage::on_complete(const RequestContext& ctx) const noexcept {
  try {
    auto total = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - ctx.started);
    spdlog::info(
        "access id={} method={} path={} key={} model={} target={} provider={} attempts={} stream={} "
        "status={} error={} total_ms={:.3f} upstream_ms={:.3f} client_gone={}",
        ctx.request_id, ctx.method, ctx.path, ctx.key_name.empty() ? "-" : ctx.key_name,
        ctx.model.empty() ? "-" : ctx.model, ctx.served_model ? ctx.served_model->name : "-",
        ctx.provider.empty() ? "-" : ctx.provider, ctx.attempts, ctx.stream, ctx.status,
        ctx.error_code.empty() ? "-" : ctx.error_code, total.count() / 1000.0,
        ctx.upstream_time.count() / 1000.0, ctx.client_gone);
  } catch (...) {
    // Logging must never take a request down.
  }
}

}  // namespace gatehouse::pipeline
