#pragma once

#include <memory>
#include <string>
#include <variant>

#include "guard/scanner.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// The guardrails that apply to a request (docs/guardrails.md): its model's lists, then those of
// each of the caller's roles, as scanner sets; model guardrails (a classifier call) apart.
struct GuardrailPlan {
  guard::GuardrailSet input = 0, output = 0;
  std::vector<const guard::GuardrailSpec*> input_models;  // model guardrails on the input, in order
};
GuardrailPlan plan_guardrails(const config::Config& config, const RequestContext& ctx);

// The refusal a blocking guardrail gives: a 400 (no SDK retries it) with code and type
// guardrail_blocked, naming the guardrail and what it found — never the text.
Error guardrail_blocked(const guard::GuardrailSpec& g, std::string_view entity, bool output);

// What guardrail `name` finds in `text` (`gatehouse guardrails test`, POST
// /admin/v1/guardrails/test): {"guardrail", "kind", "matches": [{entity, action, start, end,
// text}], "result": "block"|"mask"|"log"|"pass", "output": the text as it would go on}. The text is
// the caller's own, so matches are shown. A 400 for an unknown guardrail or a model guardrail (it
// asks a model: try it through the gateway).
std::variant<std::string, Error> test_guardrail(const config::Config& config, std::string_view name,
                                                std::string_view text);

// Input guardrails (on_routed): every piece of text the model will read (api/text.h) is scanned
// in one pass per piece; a block refuses the request before anything is spent, masks rewrite only
// the string tokens they touch (a request with no hit goes on byte for byte), a log only counts.
// Model guardrails are left in ctx.guard.checks for the LLM path, which asks them (I/O) before
// the request goes upstream. Placed after authorization and before budgets and limits: a blocked
// request costs nothing.
class InputGuardStage final : public Stage {
 public:
  InputGuardStage(const config::Config& config, std::shared_ptr<const guard::Scanner> scanner)
      : config_(config), scanner_(std::move(scanner)) {}
  std::string_view name() const override { return "guard_input"; }
  Decision on_routed(RequestContext& ctx) const override;

 private:
  const config::Config& config_;
  std::shared_ptr<const guard::Scanner> scanner_;
};

// Output guardrails: a whole answer is scanned (on_response) and masked or refused before it is
// translated for the client; a stream is scanned as it flows (on_event), each run of text (a
// choice's content, a tool call's arguments, a content block) through a guard::TextStream that
// holds back only what a match may still need, so a value split across events is still found;
// held text is released into the next event of its run, or in an event of its own before the
// event that closes the run. The whole texts a Responses event repeats or carries at once (a
// `.done` event's text, output_item.done's item, response.completed's output) are scanned and
// masked on their own, as a whole answer's text — the same masks the run's deltas got. A block
// mid-stream ends it with an error event; nothing of the matched text has reached the client.
// Placed after metering, which reads the provider's events as they came.
class OutputGuardStage final : public Stage {
 public:
  OutputGuardStage(const config::Config& config, std::shared_ptr<const guard::Scanner> scanner)
      : config_(config), scanner_(std::move(scanner)) {}
  std::string_view name() const override { return "guard_output"; }
  Decision on_routed(RequestContext& ctx) const override;
  Decision on_attempt(RequestContext& ctx) const override;
  Decision on_response(RequestContext& ctx, std::string_view body) const override;
  Decision on_event(RequestContext& ctx, std::string_view event) const override;
  Decision on_stream_end(RequestContext& ctx) const override;

 private:
  const config::Config& config_;
  std::shared_ptr<const guard::Scanner> scanner_;
};

}  // namespace gatehouse::pipeline
