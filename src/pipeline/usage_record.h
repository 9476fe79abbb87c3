#pragma once

#include "pipeline/stage.h"

namespace gatehouse::record {
class RecordWriter;
}

namespace gatehouse::pipeline {

// One usage row per model request (answered, refused or abandoned), handed to the record writer
// in on_complete: who, which model and target, tokens, cost, status, duration. Never waits.
class UsageRecordStage final : public Stage {
 public:
  explicit UsageRecordStage(record::RecordWriter& writer) : writer_(writer) {}
  std::string_view name() const override { return "usage_record"; }
  void on_complete(RequestContext& ctx) const noexcept override;

 private:
  record::RecordWriter& writer_;
};

}  // namespace gatehouse::pipeline
