#include "pipeline/pipeline.h"

#include "limit/shared.h"
#include "pipeline/limit.h"

#include <stdexcept>

namespace gatehouse::pipeline {

namespace {

// Runs `hook` on each stage in order. A replacement is stored in `storage` and viewed by `body`;
// the first decision that ends the request is returned.
template <class Hook>
Decision run_in_order(const std::vector<std::unique_ptr<Stage>>& stages, Hook hook, std::string_view* body,
                      std::string* storage, bool* replaced) {
  for (const auto& stage : stages) {
    Decision d = hook(*stage);
    switch (d.kind()) {
      case Decision::Kind::kContinue:
      case Decision::Kind::kDrop:  // not meaningful before an answer: ignored
        break;
      case Decision::Kind::kReplace:
        if (body && storage) {
          *storage = std::move(d.body());
          *body = *storage;
          if (replaced) *replaced = true;
        }
        break;
      case Decision::Kind::kRefuse:
      case Decision::Kind::kAnswer:
        return d;
    }
  }
  return {};
}

}  // namespace

void Pipeline::add(std::unique_ptr<Stage> stage) {
  // Each stage has one slot in every RequestContext; a pipeline is built from code, not config.
  if (stages_.size() >= RequestContext::kMaxStages) throw std::logic_error("more stages than RequestContext has slots");
  stage->set_slot(stages_.size());
  stages_.push_back(std::move(stage));
}

Decision Pipeline::on_request(RequestContext& ctx) const {
  return run_in_order(stages_, [&](const Stage& s) { return s.on_request(ctx); }, nullptr, nullptr, nullptr);
}

Decision Pipeline::on_routed(RequestContext& ctx, bool* replaced) const {
  return run_in_order(stages_, [&](const Stage& s) { return s.on_routed(ctx); }, &ctx.request.body,
                      &ctx.request.body_storage, replaced);
}

Decision Pipeline::on_attempt(RequestContext& ctx, bool* replaced) const {
  auto& current = ctx.upstream.current;
  return run_in_order(stages_, [&](const Stage& s) { return s.on_attempt(ctx); }, &current.body,
                      &current.body_storage, replaced);
}

Decision Pipeline::on_response(RequestContext& ctx, std::string& body) const {
  for (const auto& stage : stages_) {
    Decision d = stage->on_response(ctx, body);
    if (d.kind() == Decision::Kind::kReplace) {
      body = std::move(d.body());
    } else if (d.kind() == Decision::Kind::kRefuse) {
      return d;
    }
  }
  return {};
}

Decision Pipeline::on_event(RequestContext& ctx, std::string_view event) const {
  // Usually every stage passes the event on and no copy is made. A replacement is handed to the
  // next stages as a whole (it may hold several events, or none).
  std::string own;
  bool replaced = false;
  for (const auto& stage : stages_) {
    Decision d = stage->on_event(ctx, replaced ? std::string_view(own) : event);
    switch (d.kind()) {
      case Decision::Kind::kContinue:
      case Decision::Kind::kAnswer:  // an answer cannot start in the middle of a stream
        break;
      case Decision::Kind::kReplace:
        own = std::move(d.body());
        replaced = true;
        if (own.empty()) return Decision::drop();
        break;
      case Decision::Kind::kDrop:
      case Decision::Kind::kRefuse:
        return d;
    }
  }
  return replaced ? Decision::replace(std::move(own)) : Decision{};
}

Decision Pipeline::on_stream_end(RequestContext& ctx) const {
  std::string held;
  for (const auto& stage : stages_) {
    Decision d = stage->on_stream_end(ctx);
    if (d.kind() == Decision::Kind::kReplace) held.append(d.body());
    if (d.kind() == Decision::Kind::kRefuse) return d;
  }
  return held.empty() ? Decision{} : Decision::replace(std::move(held));
}

void Pipeline::on_sent(RequestContext& ctx, std::string_view bytes) const noexcept {
  for (const auto& stage : stages_) stage->on_sent(ctx, bytes);
}

namespace {
// A shared admission's ticket, after the stages (metering has found the usage and cost by then).
void settle_shared(RequestContext& ctx) noexcept {
  if (auto ticket = std::move(ctx.accounting.shared_ticket)) ticket->settle(settled_tokens(ctx), ctx.accounting.cost_usd);
}
}  // namespace

void Pipeline::on_settled(RequestContext& ctx) const noexcept {
  for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) (*it)->on_settled(ctx);
  settle_shared(ctx);
}

void Pipeline::on_complete(RequestContext& ctx) const noexcept {
  for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) (*it)->on_complete(ctx);
  settle_shared(ctx);
}

}  // namespace gatehouse::pipeline
