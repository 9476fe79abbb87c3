// The stage that keeps Responses API answers (responses/state.h): it watches what a Responses
// client gets (on_sent: a whole Responses object, or a stream's finished items and its terminal
// event) and queues the response with the request's own
// input items for its owner as the answer's last bytes go out — a whole answer as it is written, a
// stream at its terminal event (an agent's stream without one when it ends) — and names the
// previous response in a native provider's answer.
// Nothing is kept when the request said store: false, when
// responses.store is off, or when the answer has no id (a Databricks agent that names none).
#pragma once

#include <memory>

#include "config/config.h"
#include "pipeline/stage.h"

namespace gatehouse::responses {

class ResponseState;

class StoreResponseStage final : public pipeline::Stage {
 public:
  StoreResponseStage(const config::ResponsesConfig& config, std::shared_ptr<ResponseState> state)
      : config_(config), state_(std::move(state)) {}
  std::string_view name() const override { return "responses"; }
  // A native provider's answer to a request whose previous_response_id the gateway resolved says
  // `previous_response_id: null` (the provider saw the whole conversation instead): it is named,
  // as a translated answer names it.
  pipeline::Decision on_response(pipeline::RequestContext& ctx, std::string_view body) const override;
  pipeline::Decision on_event(pipeline::RequestContext& ctx, std::string_view event) const override;
  void on_sent(pipeline::RequestContext& ctx, std::string_view bytes) const noexcept override;
  void on_complete(pipeline::RequestContext& ctx) const noexcept override;

 private:
  // Queues `response` (a Responses object as the client got it) for the request's owner.
  void store(pipeline::RequestContext& ctx, std::string response) const noexcept;

  const config::ResponsesConfig& config_;
  const std::shared_ptr<ResponseState> state_;
};

}  // namespace gatehouse::responses
