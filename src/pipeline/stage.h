// A stage is one concern of the request path (identity, limits, guardrails, records...). It is
// built once per config snapshot from validated config, shared by every request of that
// snapshot, and never mutated; per-request state lives in RequestContext.
#pragma once

#include <optional>
#include <string_view>

#include "core/error.h"
#include "pipeline/context.h"

namespace gatehouse::pipeline {

// What a hook decides: nullopt to continue, or the error to answer the client with (the
// remaining stages' on_request hooks do not run; every stage's on_complete still does).
using Decision = std::optional<Error>;

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;

  // Runs once per request, before its body is read (identity, ...). May fill context fields.
  // Runs on a worker thread: must not block or do I/O.
  virtual Decision on_request(RequestContext& ctx) const { return std::nullopt; }
  // Runs once per model request after its body was decoded and its model resolved (ctx.model,
  // ctx.model_config, ctx.max_tokens, ctx.data_class are set), before anything goes upstream
  // (authorization, limits). Same rules as on_request.
  virtual Decision on_routed(RequestContext& ctx) const { return std::nullopt; }

  // Runs when the request's answer is decided and metered (ctx.usage, ctx.cost_usd) — the
  // provider's answer is complete, or an error (a refusal too) is about to be written — before
  // its last bytes reach the client: a client that sends its next request as soon as it has the
  // answer must find this one charged. May run more than once, and not at all for a request that
  // ends otherwise (the client left): a stage that settles here must settle in on_complete too,
  // once in all. Must not throw.
  virtual void on_settled(const RequestContext& ctx) const noexcept {}

  // Runs exactly once when the request has ended, whatever happened (answered, rejected, client
  // gone), after the last byte was written. For records and accounting. Must not throw.
  virtual void on_complete(const RequestContext& ctx) const noexcept {}
};

}  // namespace gatehouse::pipeline
