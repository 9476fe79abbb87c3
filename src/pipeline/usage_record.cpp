#include "pipeline/usage_record.h"

#include "record/writer.h"

namespace gatehouse::pipeline {

void UsageRecordStage::on_complete(RequestContext& ctx) const noexcept {
  if (!ctx.request.model_request) return;
  try {
    store::UsageRecord r;
    r.request_id = ctx.ingress.request_id;
    r.request_time_ms = ctx.ingress.started_unix_ms;
    r.key_name = ctx.identity.key_name;
    r.user = ctx.identity.user;
    r.requester = ctx.requester();
    r.project = ctx.identity.project;
    r.end_user = ctx.request.end_user;
    r.usage_project = ctx.request.usage_project;
    r.model = ctx.request.model;
    r.served_model = ctx.attempted_model() ? ctx.attempted_model()->name : std::string();
    r.provider = ctx.attempted_provider();
    r.input_tokens = ctx.accounting.usage.input_tokens;
    r.cached_input_tokens = ctx.accounting.usage.cached_input_tokens;
    r.output_tokens = ctx.accounting.usage.output_tokens;
    r.usage_estimated = ctx.accounting.usage.estimated;
    r.cost_usd = ctx.accounting.cost_usd;
    r.status_code = ctx.outcome.status;
    r.duration_ms = double(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - ctx.ingress.started)
                               .count()) /
                    1000.0;
    // As the inference log's upstream_duration_ms (pipeline/records.cpp): the overhead is the rest.
    r.upstream_duration_ms = double(ctx.upstream.upstream_time.count()) / 1000.0;
    r.streaming = ctx.request.stream;
    r.error_code = ctx.outcome.error_code;
    r.attempts = ctx.upstream.attempts;
    writer_.submit(std::move(r));
  } catch (...) {
    // A record must never take a request down (allocation failure is the only way here).
  }
}

}  // namespace gatehouse::pipeline
