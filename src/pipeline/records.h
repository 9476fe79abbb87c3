#pragma once

#include "config/config.h"
#include "pipeline/stage.h"

namespace gatehouse::record {
class RecordWriter;
}

namespace gatehouse::pipeline {

// The inference log (records.inference_log): in on_routed it decides whether this request is
// logged (its model matches one of the globs, and it falls in the sample) and whether its bodies
// are captured; in on_complete it hands the row — metadata, the request body, the answer as the
// client got it (kept by on_sent; a stream is reassembled by the writer), the limit/budget decisions and every
// upstream attempt — to the record writer. Never waits.
class InferenceLogStage final : public Stage {
 public:
  InferenceLogStage(const config::InferenceLogConfig& config, record::RecordWriter& writer)
      : config_(config), writer_(writer) {}
  std::string_view name() const override { return "inference_log"; }
  Decision on_routed(RequestContext& ctx) const override;
  // Keeps what the client gets, when the request's payloads are captured (up to the limit; the
  // rest is cut and marked).
  void on_sent(RequestContext& ctx, std::string_view bytes) const noexcept override;
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  const config::InferenceLogConfig& config_;
  record::RecordWriter& writer_;
};

// The audit chain's entries for denied requests: a 401 (no or bad credential), a 403 (not
// allowed) or a kill switch 503 appends a row (who, what, why). Admin actions and reloads are
// audited where they happen (app/admin.cpp, app/main.cpp, the keys CLI).
class AuditStage final : public Stage {
 public:
  explicit AuditStage(record::RecordWriter& writer) : writer_(writer) {}
  std::string_view name() const override { return "audit"; }
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  record::RecordWriter& writer_;
};

// Who a request's caller is, for records: "key 'ci-bot'", "user 'alice'", or "anonymous".
std::string caller_of(const RequestContext& ctx);

}  // namespace gatehouse::pipeline
