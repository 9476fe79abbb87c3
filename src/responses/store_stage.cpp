#include "responses/store_stage.h"

#include <spdlog/spdlog.h>

#include "api/request.h"
#include "http/sse.h"
#include "pipeline/context.h"
#include "record/writer.h"
#include "responses/conversation.h"
#include "responses/state.h"

namespace gatehouse::responses {

namespace {

// A response bigger than this as the client got it is not kept (logged).
constexpr std::size_t kMaxKept = 32u << 20;

struct Capture : pipeline::StageState {
  http::SseSplitter splitter;
  std::string kept;  // the stream's events that reassemble() needs
  bool too_big = false;
  bool done = false;  // queued (or given up): once per request
};

bool keeps(const pipeline::RequestContext& ctx, const config::ResponsesConfig& config) {
  return config.store && ctx.request.store && ctx.request.model_request && ctx.request.op == api::Operation::kResponses &&
         ctx.ingress.shape == ApiShape::kResponses;
}

// The stream events the stored object is rebuilt from (record::reassemble): the terminal event,
// the finished items, an error. The rest (deltas) is not kept.
bool needed(std::string_view event) {
  const std::string_view head = event.substr(0, 160);
  for (std::string_view t : {"response.completed", "response.incomplete", "response.failed", "response.output_item.done",
                             "\"type\":\"error\"", "event: error"}) {
    if (head.find(t) != std::string_view::npos) return true;
  }
  return false;
}

// `text` with its (first) `"previous_response_id": null` member naming `id`; nullopt when it has
// none. The key can only be a key: inside a JSON string its quotes would be escaped.
std::optional<std::string> name_previous(std::string_view text, std::string_view id) {
  for (std::string_view null_member : {"\"previous_response_id\":null", "\"previous_response_id\": null"}) {
    if (auto at = text.find(null_member); at != std::string_view::npos) {
      std::string out(text.substr(0, at));
      out.append("\"previous_response_id\":").append(api::json_quote(id)).append(text.substr(at + null_member.size()));
      return out;
    }
  }
  return std::nullopt;
}

bool names_previous(const pipeline::RequestContext& ctx) {
  return !ctx.request.previous_response_id.empty() && ctx.ingress.shape == ApiShape::kResponses &&
         ctx.upstream.current.provider_shape == ApiShape::kResponses;
}

// The event that ends a Responses stream, carrying the whole response.
bool terminal(std::string_view event) {
  const std::string_view head = event.substr(0, 160);
  for (std::string_view t : {"response.completed", "response.incomplete", "response.failed"}) {
    if (head.find(t) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

pipeline::Decision StoreResponseStage::on_response(pipeline::RequestContext& ctx, std::string_view body) const {
  if (!names_previous(ctx)) return std::nullopt;
  if (auto named = name_previous(body, ctx.request.previous_response_id)) return pipeline::Decision::replace(std::move(*named));
  return std::nullopt;
}

pipeline::Decision StoreResponseStage::on_event(pipeline::RequestContext& ctx, std::string_view event) const {
  if (!names_previous(ctx) || !event.substr(0, 40).starts_with("event: response.")) return std::nullopt;
  if (auto named = name_previous(event, ctx.request.previous_response_id)) return pipeline::Decision::replace(std::move(*named));
  return std::nullopt;
}

void StoreResponseStage::on_sent(pipeline::RequestContext& ctx, std::string_view bytes) const noexcept {
  if (!keeps(ctx, config_) || ctx.outcome.status != 200) return;
  auto& c = state<Capture>(ctx);
  if (c.done || c.too_big) return;
  // Queued before these bytes are written (on_sent runs first): a client that sends its next
  // turn as soon as it has this answer finds it stored.
  if (!ctx.request.stream) {
    c.done = true;
    store(ctx, std::string(bytes));
    return;
  }
  for (auto event : c.splitter.feed(bytes)) {
    if (!needed(event)) continue;
    c.kept.append(event);
    if (terminal(event)) {
      c.done = true;
      store(ctx, record::reassemble(record::Capture::kResponsesStream, c.kept));
      c.kept.clear();
      return;
    }
  }
  if (c.kept.size() > kMaxKept) {
    c.too_big = true;
    c.kept.clear();
    c.kept.shrink_to_fit();
    spdlog::warn("{} responses: the answer is larger than {} MiB and was not stored", ctx.ingress.request_id, kMaxKept >> 20);
  }
}

void StoreResponseStage::on_complete(pipeline::RequestContext& ctx) const noexcept {
  // A stream without a terminal event (a Databricks agent's) is stored from its finished items.
  if (!keeps(ctx, config_) || ctx.outcome.status != 200 || !ctx.request.stream) return;
  auto* c = find_state<Capture>(ctx);
  if (!c || c->done || c->too_big || c->kept.empty()) return;
  c->done = true;
  store(ctx, record::reassemble(record::Capture::kResponsesStream, c->kept));
}

void StoreResponseStage::store(pipeline::RequestContext& ctx, std::string response) const noexcept {
  try {
    store::ResponseRow row;
    row.response = std::move(response);
    row.id = response_id(row.response);
    if (row.id.empty()) return;
    row.owner = owner_of(ctx.identity);
    row.created_ms = ctx.ingress.started_unix_ms;
    row.model = ctx.request.model;
    row.previous_response_id = ctx.request.previous_response_id;
    // The client's own items, as they went on (masked by guardrails, if they masked): the end of
    // the input the gateway sent, which begins with the earlier turns when it was expanded.
    row.input_items = own_input_items(ctx.request.body, count_input_items(ctx.request.client_body));
    state_->put(std::move(row), config_.retention_days);
  } catch (const std::exception& e) {
    spdlog::error("{} responses: the answer was not stored: {}", ctx.ingress.request_id, e.what());
  }
}

}  // namespace gatehouse::responses
