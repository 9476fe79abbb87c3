// fuzz_events: a provider's stream through the output guardrail stage
// (src/pipeline/guard.cpp's OutputGuardStage::on_event / on_stream_end, over src/api/text.cpp,
// text_event.cpp and src/guard/stream.cpp), as tests/unit/guard_stage_test.cpp builds it: a
// config with a pii guardrail that masks and a secrets guardrail that blocks on one model.
//
// Input: byte 0 picks the provider's shape (bits 0-1: OpenAI, Anthropic, Databricks, Responses)
// and whether the stream ends normally (bit 2: on_stream_end) ; the rest is split into events at
// "\n\n".
// Checks: no crash or sanitizer report; a replacement is a sequence of whole SSE events; when
// the provider's event carried JSON data, every event that goes out in its place has JSON data
// and its text can be read (event_texts). And what the client reads is what it should: the
// fuzzer follows each run of text (a channel, until an event closes it: api::channels_closed)
// itself; per channel, the text that went out starts with apply_masks(run, scan(run)) of every
// closed run and is a prefix of that of the open one too (all of it once the stream ended), and
// a stream that went out whole had no block match in any run. The whole texts Responses events
// carry (api::TextPiece::whole) are no run's: each goes out as apply_masks(text, scan(text)), in
// order, and one with a block match ends the stream.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/text.h"
#include "api/text_event.h"
#include "guard/stream.h"
#include "config/load.h"
#include "fuzz_util.h"
#include "pipeline/guard.h"
#include "pipeline/pipeline.h"

using namespace gatehouse;
using namespace gatehouse::fuzz;

namespace {

const std::string kConfig = R"(providers:
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
  anth: {kind: anthropic, base_url: "http://127.0.0.1:9912"}
guardrails:
  pii: {kind: pii, action: mask}
  secrets: {kind: secrets, action: block}
models:
  chat: {provider: oai, guardrails: {output: [pii, secrets]}}
  claude: {provider: anth, guardrails: {output: [pii, secrets]}}
)";

struct Fixture {
  std::shared_ptr<const config::Config> config;
  pipeline::Pipeline pipeline;
  Fixture() {
    auto r = config::load_string(kConfig, "fuzz.yaml", [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    });
    if (!r.config) fuzz::fail("config", r.diagnostics.empty() ? "" : r.diagnostics[0].to_string());
    config = r.config;
    pipeline.add(std::make_unique<pipeline::OutputGuardStage>(*config, config->scanner));
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The text per channel, and the whole texts in order.
struct Texts {
  std::map<std::uint32_t, std::string> runs;
  std::vector<std::string> wholes;
};

// What the client reads of an event that went out.
void read_out(ApiShape shape, std::string_view event, Texts& got) {
  const bool ok = api::event_texts(shape, event, [&](const api::TextPiece& p) {
    if (p.whole) {
      got.wholes.emplace_back(p.text);
    } else {
      got.runs[p.channel] += p.text;
    }
  });
  FUZZ_CHECK(ok, event);
}

// Every event of a replacement (what goes out instead of `source`, or at the stream's end).
void check_replacement(ApiShape shape, std::string_view source, std::string_view out, bool json, Texts& got) {
  FUZZ_CHECK(out.empty() || out.ends_with("\n\n"), std::string(out) + "\n=== in place of:\n" + std::string(source));
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = out.find("\n\n", at);
    const std::string_view event = out.substr(at, end + 2 - at);
    at = end + 2;
    read_out(shape, event, got);
    if (!json) continue;
    FUZZ_CHECK(json_valid(event_data(event)), std::string(event) + "\n=== in place of:\n" + std::string(source));
    FUZZ_CHECK(api::event_texts(shape, event, [](const api::TextPiece&) {}),
               std::string(event) + "\n=== in place of:\n" + std::string(source));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Fixture& f = fixture();
  const int pick = data[0] & 3;
  const ApiShape shape = pick == 1   ? ApiShape::kAnthropic
                         : pick == 2 ? ApiShape::kDatabricks
                         : pick == 3 ? ApiShape::kResponses
                                     : ApiShape::kOpenAI;
  const bool ends = (data[0] & 4) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  pipeline::RequestContext ctx;
  ctx.config = f.config.get();
  ctx.pipeline = &f.pipeline;
  ctx.ingress.shape = shape;
  const std::string model = shape == ApiShape::kAnthropic ? "claude" : "chat";
  ctx.request.model = model;
  ctx.request.model_config = &f.config->models.at(model);
  ctx.request.stream = true;
  ctx.upstream.current.provider_shape = shape;
  if (f.pipeline.on_routed(ctx).kind() == pipeline::Decision::Kind::kRefuse) fuzz::fail("on_routed refused");
  f.pipeline.on_attempt(ctx);
  const guard::GuardrailSet set = pipeline::plan_guardrails(*f.config, ctx).output;
  const guard::Scanner& scanner = *f.config->scanner;

  // The fuzzer's own account of the runs: the text of each open one, what the closed ones
  // should have sent, and what went out; the whole texts that should have gone out.
  std::map<std::uint32_t, std::string> open, sent_closed;
  Texts got;
  std::vector<std::string> wholes;
  bool block_found = false;
  // `closed`: the run is over, a block match in it must have ended the stream.
  auto masked = [&](const std::string& text, bool closed = true) {
    std::vector<guard::Match> ms;
    scanner.scan(text, set, ms);
    for (const auto& m : ms)
      block_found = block_found || (closed && scanner.rule(m.rule).action == guard::Action::kBlock);
    return guard::apply_masks(scanner, text, ms);
  };
  auto describe = [&](std::uint32_t ch) {
    return "channel " + std::to_string(ch) + "\nwent out: [" + got.runs[ch] + "]\nclosed runs: [" + sent_closed[ch] +
           "]\nopen run: [" + open[ch] + "]\ninput:\n" + std::string(input);
  };
  // Checks the account; `all`: every run has ended, everything must have gone out.
  auto check_account = [&](bool all) {
    for (auto& [ch, text] : got.runs) (void)sent_closed[ch], (void)open[ch];
    for (auto& [ch, text] : open) (void)sent_closed[ch], (void)got.runs[ch];
    FUZZ_CHECK(got.wholes == wholes, "whole texts\n" + std::string(input));
    for (auto& [ch, want] : sent_closed) {
      const std::string& out = got.runs[ch];
      FUZZ_CHECK(out.starts_with(want), describe(ch));
      const std::string whole = want + masked(open[ch], all);
      if (all) FUZZ_CHECK(out == whole, describe(ch));
      else FUZZ_CHECK(whole.starts_with(out), describe(ch));
    }
  };

  for (std::size_t at = 0; at < input.size();) {
    std::size_t end = input.find("\n\n", at);
    end = end == std::string_view::npos ? input.size() : end + 2;
    std::string event(input.substr(at, end - at));
    // The SSE reader hands whole events only.
    while (!event.ends_with("\n\n")) event += '\n';
    at = end;
    pipeline::Decision d = f.pipeline.on_event(ctx, event);
    if (d.kind() == pipeline::Decision::Kind::kRefuse) return 0;  // the stream ends with the error
    if (d.kind() == pipeline::Decision::Kind::kReplace) {
      const std::string data_of = event_data(event);
      const bool json = !data_of.empty() && data_of != "[DONE]" && json_valid(data_of);
      check_replacement(shape, event, d.body(), json, got);
    } else if (d.proceeds()) {
      read_out(shape, event, got);
    }
    // The runs as the stage should see them: this event's text, then the runs it closes.
    const api::ChannelsClosed closed = api::channels_closed(shape, event);
    api::event_texts(shape, event, [&](const api::TextPiece& p) {
      if (p.whole) {
        wholes.push_back(masked(std::string(p.text)));
      } else {
        open[p.channel] += p.text;
      }
    });
    for (auto it = open.begin(); it != open.end();) {
      if (closed.closes(it->first)) {
        sent_closed[it->first] += masked(it->second);
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    FUZZ_CHECK(!block_found, "a run with a block match was closed and went out\n" + std::string(input));
    check_account(false);
  }
  if (ends) {
    pipeline::Decision d = f.pipeline.on_stream_end(ctx);
    if (d.kind() == pipeline::Decision::Kind::kRefuse) return 0;
    if (d.kind() == pipeline::Decision::Kind::kReplace) check_replacement(shape, "(stream end)", d.body(), true, got);
    for (auto& [ch, text] : open) sent_closed[ch] += masked(text);
    open.clear();
    FUZZ_CHECK(!block_found, "a stream with a block match went out whole\n" + std::string(input));
    check_account(true);
  }
  return 0;
}
