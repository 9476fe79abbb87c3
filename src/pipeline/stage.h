// A stage is one concern of the request path (identity, limits, metering, records...). It is
// built once per config snapshot from validated config, shared by every request of that
// snapshot, and never mutated; per-request state lives in RequestContext (its own, in a slot).
//
// A request meets the stages' hooks in this order (each hook's comment below says what it may do):
//
//   on_request ─► [decode, route] ─► on_routed ─► per attempt: on_attempt ─► upstream
//     ─► on_response (a whole answer)  or  on_event × N, on_stream_end (a stream)
//     ─► on_settled ─► last bytes to the client ─► on_complete (exactly once)
//   on_sent observes every piece of the answer as the client gets it.
//
// on_request, on_routed and on_attempt run in the pipeline's order; on_response, on_event and
// on_stream_end too (the first stage sees the provider's own bytes); on_settled and on_complete
// run in reverse order, so the outermost stage (the access log) sees everything.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/error.h"
#include "pipeline/context.h"

namespace gatehouse::pipeline {

// An answer a stage gives in place of the provider's (a cached or canned answer): in the shape
// the hook's body is in (on_routed: the client's; on_response: the provider's).
struct Answer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// What a hook decides, as data:
// * continue — the next stage runs (the default; `return std::nullopt;` reads the same);
// * refuse(error) — answer the client with this error now; the remaining stages of this hook do
//   not run (every stage's on_settled and on_complete still do). In on_attempt it means "not
//   this target": the failover loop skips it and tries the next one. Inside a stream that has
//   started, the error ends the stream as an error event;
// * answer(a) — answer the client with `a` now (on_request, on_routed; nothing goes upstream);
// * replace(body) — continue, with `body` in place of what the hook was given (the request, the
//   attempt's outgoing body, the whole answer, or an event: then zero or more whole events);
//   later stages see the replacement;
// * drop — on_event only: this event does not reach the client (a stage may keep it in its slot
//   and release it later by replacing a later event, or in on_stream_end).
class Decision {
 public:
  enum class Kind : unsigned char { kContinue, kRefuse, kAnswer, kReplace, kDrop };

  Decision() = default;
  Decision(std::nullopt_t) {}                              // continue
  Decision(Error error) : value_(std::move(error)) {}      // refuse (NOLINT: implicit by design)
  static Decision refuse(Error error) { return Decision(std::move(error)); }
  static Decision answer(Answer a) {
    Decision d;
    d.value_ = std::move(a);
    return d;
  }
  static Decision replace(std::string body) {
    Decision d;
    d.value_ = Replacement{std::move(body)};
    return d;
  }
  static Decision drop() {
    Decision d;
    d.value_ = Drop{};
    return d;
  }

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  bool proceeds() const { return value_.index() == 0; }
  // Whether the request ends here with an answer (an error or a stage's own answer).
  bool ends() const { return kind() == Kind::kRefuse || kind() == Kind::kAnswer; }
  explicit operator bool() const { return !proceeds(); }  // "something other than continue"

  // The refusal (kind() == kRefuse).
  const Error* operator->() const { return &std::get<Error>(value_); }
  const Error& operator*() const { return std::get<Error>(value_); }
  Error& error() { return std::get<Error>(value_); }
  const Error& error() const { return std::get<Error>(value_); }
  Answer& answer() { return std::get<Answer>(value_); }
  std::string& body() { return std::get<Replacement>(value_).body; }

 private:
  struct Replacement {
    std::string body;
  };
  struct Drop {};
  std::variant<std::monostate, Error, Answer, Replacement, Drop> value_;
};

// Per-request state a stage keeps for itself (a stream scanner's carry-over, a parser's state):
// made on first use by Stage::state<T>(ctx), gone with the request.
class StageState {
 public:
  virtual ~StageState() = default;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;

  // Runs once per request, before its body is decoded (identity, ...). May fill context fields
  // (its own section). Runs on a worker thread: must not block or do I/O (true of every hook).
  virtual Decision on_request(RequestContext& ctx) const { return std::nullopt; }

  // Runs once per model request after its body was decoded and its model resolved
  // (ctx.request: model, model_config, max_tokens, data_class, body), before anything goes
  // upstream (authorization, limits, input guardrails). May refuse, answer, or replace the
  // request body (in the client's shape; the gateway decodes the replacement again).
  virtual Decision on_routed(RequestContext& ctx) const { return std::nullopt; }

  // Runs before each upstream attempt (every retry and fallback; ctx.upstream.current names the
  // target, its provider's shape, the outgoing body, the extra headers to send). May add headers
  // (trace context), refuse the target (skipped: the failover loop tries the next one), replace
  // the outgoing body (in the provider's shape), or answer.
  virtual Decision on_attempt(RequestContext& ctx) const { return std::nullopt; }

  // Runs on a provider's whole (non-streamed) successful answer, in the provider's shape, before
  // it is translated for the client. May read it (usage), replace it, or refuse it (the client
  // gets that error instead).
  virtual Decision on_response(RequestContext& ctx, std::string_view body) const { return std::nullopt; }

  // Runs on each event of a provider's stream (one whole SSE event with its blank line, in the
  // provider's shape), before translation. Synchronous: it runs between two writes to the
  // client. May pass it, replace it (with zero or more events), drop it (holding it back), or
  // refuse (the stream ends with that error as an event). A stage after one that replaced an
  // event sees the replacement whole (it may hold several events); what a stage releases in
  // on_stream_end reaches no later stage's on_event: a stage that must read every event (metering)
  // stands before the stages that rewrite them.
  virtual Decision on_event(RequestContext& ctx, std::string_view event) const { return std::nullopt; }
  // Runs once when the provider's stream has ended (not when it broke): a stage that held events
  // back releases them here with replace(events).
  virtual Decision on_stream_end(RequestContext& ctx) const { return std::nullopt; }

  // Observes each piece of the answer as it goes to the client (a whole body, a stream's batch
  // of events, an error), in the client's shape. Must not throw.
  virtual void on_sent(RequestContext& ctx, std::string_view bytes) const noexcept {}

  // Runs when the request's answer is decided — the provider's answer is complete, or an error
  // (a refusal too) is about to be written — before its last bytes reach the client: a client
  // that sends its next request as soon as it has the answer must find this one charged. May
  // run more than once, and not at all for a request that ends otherwise (the client left): a
  // stage that settles here must settle in on_complete too, once in all. Must not throw.
  virtual void on_settled(RequestContext& ctx) const noexcept {}

  // Runs exactly once when the request has ended, whatever happened (answered, rejected, client
  // gone), after the last byte was written. For records and accounting. Must not throw.
  virtual void on_complete(RequestContext& ctx) const noexcept {}

  // This stage's slot in every RequestContext (set by the pipeline that holds it).
  std::size_t slot() const { return slot_; }
  void set_slot(std::size_t slot) { slot_ = slot; }

 protected:
  // This stage's own state for `ctx`, made on first use.
  template <class T>
  T& state(RequestContext& ctx) const {
    auto& p = ctx.slot(slot_);
    if (!p) p = std::make_unique<T>();
    return static_cast<T&>(*p);
  }
  // Its state if it made one, else null.
  template <class T>
  T* find_state(const RequestContext& ctx) const {
    return static_cast<T*>(ctx.find_slot(slot_));
  }

 private:
  std::size_t slot_ = 0;
};

}  // namespace gatehouse::pipeline
