#include "pipeline/usage_record.h"

#include "record/writer.h"

namespace gatehouse::pipeline {

void UsageRecordStage::on_complete(const RequestContext& ctx) const noexcept {
  if (!ctx.model_request) return;
  try {
    store::UsageRecord r;
    r.request_id = ctx.request_id;
    r.request_time_ms = ctx.started_unix_ms;
    r.key_name = ctx.key_name;
    r.user = ctx.user;
    r.requester = ctx.requester();
    r.project = ctx.project;
    r.end_user = ctx.end_user;
    r.usage_project = ctx.usage_project;
    r.model = ctx.model;
    r.served_model = ctx.attempted_model() ? ctx.attempted_model()->name : std::string();
    r.provider = ctx.attempted_provider();
    r.input_tokens = ctx.usage.input_tokens;
    r.cached_input_tokens = ctx.usage.cached_input_tokens;
    r.output_tokens = ctx.usage.output_tokens;
    r.usage_estimated = ctx.usage.estimated;
    r.cost_usd = ctx.cost_usd;
    r.status_code = ctx.status;
    r.duration_ms = double(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - ctx.started)
                               .count()) /
                    1000.0;
    r.streaming = ctx.stream;
    r.error_code = ctx.error_code;
    r.attempts = ctx.attempts;
    writer_.submit(std::move(r));
  } catch (...) {
    // A record must never take a request down (allocation failure is the only way here).
  }
}

}  // namespace gatehouse::pipeline
