// The stages of one config snapshot, in the one order the gateway applies them (the order is
// written in app/stages.cpp, with a reason on each line), and the runners of their hooks: what a
// hook's decision does to the request is decided here, once (stage.h says what each may decide).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/stage.h"

namespace gatehouse::pipeline {

class Pipeline {
 public:
  // Appends `stage` (it runs after those added before it) and gives it its context slot.
  void add(std::unique_ptr<Stage> stage);

  // on_request / on_routed / on_attempt in order. A replacement becomes the body that later
  // stages and the provider see (ctx.request.body for on_routed, ctx.upstream.current.body for
  // on_attempt); returns the first decision that ends the request (refuse or answer), else
  // continue. `replaced` (may be null) is set when some stage replaced the body.
  Decision on_request(RequestContext& ctx) const;
  Decision on_routed(RequestContext& ctx, bool* replaced = nullptr) const;
  Decision on_attempt(RequestContext& ctx, bool* replaced = nullptr) const;

  // on_response in order over a provider's whole answer; `body` becomes the last replacement.
  // Returns a refusal, else continue.
  Decision on_response(RequestContext& ctx, std::string& body) const;

  // One provider event through every stage's on_event, in order, folded into one decision:
  // continue (the event goes on as it came: no copy), replace (what goes on instead: zero or
  // more events), drop (nothing goes on), or refuse (the stream ends with that error).
  Decision on_event(RequestContext& ctx, std::string_view event) const;
  // The provider's stream has ended: what stages held back (replace), or a refusal.
  Decision on_stream_end(RequestContext& ctx) const;

  // Each stage's on_sent.
  void on_sent(RequestContext& ctx, std::string_view bytes) const noexcept;
  // Each stage's on_settled, in reverse order, once the answer is decided (stage.h).
  void on_settled(RequestContext& ctx) const noexcept;
  // Each stage's on_complete, in reverse order (the outermost stage sees everything).
  void on_complete(RequestContext& ctx) const noexcept;

  std::size_t size() const { return stages_.size(); }
  const Stage& stage(std::size_t i) const { return *stages_[i]; }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace gatehouse::pipeline
