#include "pipeline/guard.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <map>

#include "api/text.h"
#include "api/text_event.h"
#include "guard/stream.h"

namespace gatehouse::pipeline {

namespace json = boost::json;

namespace {

// The most text of a request a model guardrail is asked about: its last 256 KB.
constexpr std::size_t kMaxCheckBytes = 256u << 10;

void add_list(const config::Config& config, const std::vector<std::string>& names, guard::GuardrailSet& set,
              std::vector<const guard::GuardrailSpec*>* models) {
  for (const auto& name : names) {
    const int i = config.guardrail_index(name);
    if (i < 0) continue;  // the config loader checked every name
    const auto& g = config.guardrails[std::size_t(i)];
    if (g.kind == guard::Kind::kModel) {
      if (models && std::find(models->begin(), models->end(), &g) == models->end()) models->push_back(&g);
    } else {
      set |= guard::GuardrailSet{1} << i;
    }
  }
}

// Records `matches` (of one piece) as hits; the first blocking match is the refusal.
std::optional<Error> judge(const config::Config& config, const guard::Scanner& scanner, RequestContext& ctx,
                           bool output, const std::vector<guard::Match>& matches, bool& masks) {
  std::optional<Error> refusal;
  for (const auto& m : matches) {
    const auto& rule = scanner.rule(m.rule);
    const auto& g = config.guardrails[rule.guardrail];
    ctx.guard.hit(g, rule.entity, rule.action, output);
    if (rule.action == guard::Action::kBlock && !refusal) {
      ctx.guard.blocked = g.name + "/" + rule.entity;
      refusal = guardrail_blocked(g, rule.entity, output);
    }
    masks = masks || rule.action == guard::Action::kMask;
  }
  return refusal;
}

// Scans every piece of a request or a whole answer (`texts` reports them): a refusal, or the
// edits that mask what was found (none: the body goes on as it came). `seen` gets each piece's
// text after masking (the model guardrails read it).
template <class Texts>
std::optional<Error> scan_pieces(const config::Config& config, const guard::Scanner& scanner, RequestContext& ctx,
                                 guard::GuardrailSet set, bool output, Texts texts, std::vector<api::TextEdit>& edits,
                                 std::string* seen) {
  std::optional<Error> refusal;
  thread_local std::vector<guard::Match> matches;
  const bool ok = texts([&](const api::TextPiece& p) {
    if (refusal) return;
    std::string_view text = p.text;
    std::string masked;
    if (set) {
      matches.clear();
      scanner.scan(p.text, set, matches);
      bool masks = false;
      if (!matches.empty()) refusal = judge(config, scanner, ctx, output, matches, masks);
      if (refusal) return;
      if (masks) {
        masked = guard::apply_masks(scanner, p.text, matches);
        text = masked;
        edits.push_back(api::TextEdit{p.offset, p.length, masked});
      }
    }
    if (seen) {
      seen->append(text);
      seen->push_back('\n');
    }
  });
  if (!ok && !refusal) {
    // Not the body its shape should be: what cannot be read cannot be let through.
    if (output) return Error::upstream_protocol("the guardrails could not read the provider's answer");
    return Error::bad_request("the guardrails could not read the request's text; send a well-formed body");
  }
  return refusal;
}

// FNV-1a, 64 bits, continued from `h`: the digest of a run's text, fed a piece at a time.
constexpr std::uint64_t kDigestStart = 14695981039346656037ull;
std::uint64_t digest(std::uint64_t h, std::string_view text) {
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One run of streamed text being scanned, and the last event that carried it (the model for an
// event of its own, when held text must be released before the run closes).
struct Run {
  guard::TextStream stream;
  std::string like;
  std::uint64_t digest = kDigestStart;  // of the text fed, as the provider sent it
};

struct OutputState final : StageState {
  guard::GuardrailSet set = 0;
  std::map<std::uint32_t, Run> runs;
  // The digests of the runs that ended: a whole text an event repeats (a Responses `.done`
  // event's, response.completed's) is the same text again, whose hits were counted as it flowed.
  std::vector<std::uint64_t> streamed;
  std::vector<std::uint32_t> fed;  // the runs the current event carries text of (reused)
  std::vector<api::TextEdit> pieces;     // the current event's pieces and their runs (reused)
  std::vector<std::uint32_t> channels;
  std::vector<api::TextEdit> wholes;     // the current event's whole pieces (reused)
};

// A whole text a stream event carries (api::TextPiece::whole), scanned on its own as a whole
// answer's text is: masks become `edits`, a block the refusal. Its hits are counted unless a run
// streamed the same text (then they were counted as it flowed; a block is counted anyway: it is
// what ends the stream).
std::optional<Error> scan_whole(const config::Config& config, const guard::Scanner& scanner, RequestContext& ctx,
                                const OutputState& s, const api::TextEdit& piece, std::vector<api::TextEdit>& edits) {
  thread_local std::vector<guard::Match> matches;
  matches.clear();
  scanner.scan(piece.text, s.set, matches);
  if (matches.empty()) return std::nullopt;
  const bool repeat =
      std::find(s.streamed.begin(), s.streamed.end(), digest(kDigestStart, piece.text)) != s.streamed.end();
  const bool blocks = std::any_of(matches.begin(), matches.end(),
                                  [&](const guard::Match& m) { return scanner.rule(m.rule).action == guard::Action::kBlock; });
  bool masks = false;
  if (!repeat || blocks) {
    if (auto refusal = judge(config, scanner, ctx, true, matches, masks)) return refusal;
  }
  std::string masked = guard::apply_masks(scanner, piece.text, matches);
  if (masked != piece.text) edits.push_back(api::TextEdit{piece.offset, piece.length, std::move(masked)});
  return std::nullopt;
}

// A run's step: its hits counted; the refusal when it found something to block.
std::optional<Error> take_step(const config::Config& config, const guard::Scanner& scanner, RequestContext& ctx,
                               guard::TextStream::Step& step) {
  bool masks = false;
  auto refusal = judge(config, scanner, ctx, true, step.hits, masks);
  if (!refusal && step.blocked) refusal = Error::internal("a guardrail blocked the stream without naming a match");
  return refusal;
}

}  // namespace

GuardrailPlan plan_guardrails(const config::Config& config, const RequestContext& ctx) {
  GuardrailPlan plan;
  if (config.guardrails.empty()) return plan;
  // The model's first, then each role's (a model guardrail asked once however often listed). A
  // route takes its own and every target's: whichever target serves the request, its
  // guardrails hold (a guarded model is not reached around its guardrails through a route).
  auto add_model = [&](const config::ModelConfig& m) {
    add_list(config, m.guardrails.input, plan.input, &plan.input_models);
    add_list(config, m.guardrails.output, plan.output, nullptr);
  };
  if (const auto* m = ctx.request.model_config) {
    add_model(*m);
    if (m->route) {
      for (const auto& t : m->route->targets) {
        if (auto it = config.models.find(t.model); it != config.models.end()) add_model(it->second);
      }
    }
  }
  for (const auto* role : ctx.identity.roles) {
    add_list(config, role->guardrails.input, plan.input, &plan.input_models);
    add_list(config, role->guardrails.output, plan.output, nullptr);
  }
  return plan;
}

Error guardrail_blocked(const guard::GuardrailSpec& g, std::string_view entity, bool output) {
  Error e;
  e.kind = ErrorKind::kBadRequest;
  e.source = output ? ErrorSource::kGateway : ErrorSource::kClient;
  e.status = 400;
  e.code = "guardrail_blocked";
  e.type = "guardrail_blocked";
  const std::string what = g.kind == guard::Kind::kRegex  ? "pattern '" + std::string(entity) + "'"
                           : g.kind == guard::Kind::kModel ? "content the classifier judged " + std::string(entity)
                                                           : std::string(entity);
  e.message = output ? "the answer was blocked by guardrail '" + g.name + "': it contained " + what +
                           " (the gateway does not let it through)"
                     : "the request was blocked by guardrail '" + g.name + "': it contains " + what +
                           "; remove it and send the request again";
  return e;
}

std::variant<std::string, Error> test_guardrail(const config::Config& config, std::string_view name,
                                                std::string_view text) {
  const int i = config.guardrail_index(name);
  if (i < 0) {
    std::string known;
    for (const auto& g : config.guardrails) known += (known.empty() ? "" : ", ") + g.name;
    return Error::bad_request("no guardrail named '" + std::string(name.substr(0, 64)) + "' (defined: " +
                                  (known.empty() ? "none" : known) + ")",
                              "guardrail");
  }
  const auto& g = config.guardrails[std::size_t(i)];
  if (g.kind == guard::Kind::kModel || !config.scanner) {
    return Error::bad_request("guardrail '" + g.name + "' asks model '" + g.model +
                                  "': try it with a request through the gateway",
                              "guardrail");
  }
  std::vector<guard::Match> matches;
  config.scanner->scan(text, guard::GuardrailSet{1} << i, matches);
  json::array found;
  bool block = false, mask = false;
  for (const auto& m : matches) {
    const auto& rule = config.scanner->rule(m.rule);
    block = block || rule.action == guard::Action::kBlock;
    mask = mask || rule.action == guard::Action::kMask;
    found.push_back(json::object{{"entity", rule.entity},
                                 {"action", guard::to_string(rule.action)},
                                 {"start", m.start},
                                 {"end", m.end},
                                 {"text", text.substr(m.start, m.end - m.start)}});
  }
  json::object out{{"guardrail", g.name},
                   {"kind", guard::to_string(g.kind)},
                   {"result", block ? "block" : mask ? "mask" : matches.empty() ? "pass" : "log"},
                   {"output", block ? json::value(nullptr) : json::value(guard::apply_masks(*config.scanner, text, matches))}};
  out["matches"] = std::move(found);
  return json::serialize(out);
}

Decision InputGuardStage::on_routed(RequestContext& ctx) const {
  const GuardrailPlan plan = plan_guardrails(config_, ctx);
  if (!plan.input && plan.input_models.empty()) return std::nullopt;
  std::vector<api::TextEdit> edits;
  std::string seen;
  const auto body = ctx.request.body;
  auto refusal = scan_pieces(
      config_, *scanner_, ctx, plan.input, false,
      [&](const api::TextFn& fn) {
        return api::request_texts(api::request_shape(ctx.ingress.shape, ctx.request.op), ctx.request.op, body, fn);
      },
      edits,
      plan.input_models.empty() ? nullptr : &seen);
  if (refusal) return std::move(*refusal);
  // A classifier reads the end of a long conversation (its newest turns come last in every
  // shape): padding in front cannot push them out of what it is asked.
  if (seen.size() > kMaxCheckBytes) {
    std::size_t cut = seen.size() - kMaxCheckBytes;
    while (cut < seen.size() && (static_cast<unsigned char>(seen[cut]) & 0xC0) == 0x80) ++cut;  // whole characters
    seen.erase(0, cut);
  }
  for (const auto* g : plan.input_models) ctx.guard.checks.push_back(ModelCheck{g, seen});
  if (edits.empty()) return std::nullopt;
  ctx.guard.input_masked = true;
  return Decision::replace(api::apply_text_edits(body, std::move(edits)));
}

Decision OutputGuardStage::on_routed(RequestContext& ctx) const {
  const guard::GuardrailSet set = plan_guardrails(config_, ctx).output;
  if (set) state<OutputState>(ctx).set = set;
  return std::nullopt;
}

Decision OutputGuardStage::on_attempt(RequestContext& ctx) const {
  // A new attempt is a new answer: nothing of an earlier one is held.
  if (auto* s = find_state<OutputState>(ctx)) {
    s->runs.clear();
    s->streamed.clear();
  }
  return std::nullopt;
}

Decision OutputGuardStage::on_response(RequestContext& ctx, std::string_view body) const {
  auto* s = find_state<OutputState>(ctx);
  if (!s) return std::nullopt;
  std::vector<api::TextEdit> edits;
  const ApiShape shape = ctx.upstream.current.provider_shape;
  auto refusal = scan_pieces(
      config_, *scanner_, ctx, s->set, true,
      [&](const api::TextFn& fn) { return api::response_texts(shape, body, fn); }, edits, nullptr);
  if (refusal) return std::move(*refusal);
  if (edits.empty()) return std::nullopt;
  return Decision::replace(api::apply_text_edits(body, std::move(edits)));
}

Decision OutputGuardStage::on_event(RequestContext& ctx, std::string_view event) const {
  auto* s = find_state<OutputState>(ctx);
  if (!s) return std::nullopt;
  const ApiShape shape = ctx.upstream.current.provider_shape;
  // The runs this event closes: what they hold goes out now (in this event, or before it).
  // (Also when no run is open: a chunk may carry the run's first text and its finish_reason.)
  const api::ChannelsClosed closed = api::channels_closed(shape, event);
  std::vector<api::TextEdit> edits;
  std::optional<Error> refusal;
  auto& fed = s->fed;
  fed.clear();
  // The pieces first: a run the event closes is finished after its last piece in the event (a
  // chunk may carry two pieces of one run, e.g. two tool_calls entries of one index, and a client
  // joins them: finishing after the first would decide its end without the second; found by
  // tests/fuzz/fuzz_events).
  auto& pieces = s->pieces;
  auto& channels = s->channels;
  auto& wholes = s->wholes;
  pieces.clear();
  channels.clear();
  wholes.clear();
  const bool ok = api::event_texts(shape, event, [&](const api::TextPiece& p) {
    if (p.whole) {
      wholes.push_back(api::TextEdit{p.offset, p.length, std::string(p.text)});
      return;
    }
    pieces.push_back(api::TextEdit{p.offset, p.length, std::string(p.text)});
    channels.push_back(p.channel);
  });
  for (std::size_t i = 0; ok && i < pieces.size() && !refusal; ++i) {
    const std::uint32_t channel = channels[i];
    const std::string_view text = pieces[i].text;
    Run& run = s->runs[channel];
    fed.push_back(channel);
    run.digest = digest(run.digest, text);
    auto step = run.stream.feed(*scanner_, s->set, text);
    if ((refusal = take_step(config_, *scanner_, ctx, step))) break;
    std::string release = std::move(step.release);
    const bool last_of_run = std::find(channels.begin() + std::ptrdiff_t(i) + 1, channels.end(), channel) == channels.end();
    if (closed.closes(channel) && last_of_run) {
      auto last = run.stream.finish(*scanner_, s->set);
      if ((refusal = take_step(config_, *scanner_, ctx, last))) break;
      release += last.release;
    } else if (run.stream.held() > 0) {
      run.like.assign(event);
    }
    if (release != text) edits.push_back(api::TextEdit{pieces[i].offset, pieces[i].length, std::move(release)});
  }
  if (refusal) return std::move(*refusal);
  if (!ok) return Error::upstream_protocol("the guardrails could not read an event of the provider's stream");
  std::string before;
  for (auto it = s->runs.begin(); it != s->runs.end();) {
    const bool in_event = std::find(fed.begin(), fed.end(), it->first) != fed.end();
    if (!closed.closes(it->first)) {
      ++it;
      continue;
    }
    if (!in_event) {
      auto last = it->second.stream.finish(*scanner_, s->set);
      if (auto r = take_step(config_, *scanner_, ctx, last)) return std::move(*r);
      if (!last.release.empty()) before += api::text_delta_event(shape, it->second.like, it->first, last.release);
    }
    s->streamed.push_back(it->second.digest);
    it = s->runs.erase(it);
  }
  // The whole texts last: a `.done` event closes the run it repeats, whose digest is now known.
  for (const auto& piece : wholes) {
    if (auto r = scan_whole(config_, *scanner_, ctx, *s, piece, edits)) return std::move(*r);
  }
  if (before.empty() && edits.empty()) return std::nullopt;
  if (!edits.empty()) {
    before += api::apply_text_edits(event, std::move(edits));
  } else {
    before.append(event);
  }
  return Decision::replace(std::move(before));
}

Decision OutputGuardStage::on_stream_end(RequestContext& ctx) const {
  auto* s = find_state<OutputState>(ctx);
  if (!s || s->runs.empty()) return std::nullopt;
  const ApiShape shape = ctx.upstream.current.provider_shape;
  std::string out;
  for (auto& [channel, run] : s->runs) {
    auto last = run.stream.finish(*scanner_, s->set);
    if (auto r = take_step(config_, *scanner_, ctx, last)) return std::move(*r);
    if (!last.release.empty()) out += api::text_delta_event(shape, run.like, channel, last.release);
  }
  s->runs.clear();
  if (out.empty()) return std::nullopt;
  return Decision::replace(std::move(out));
}

}  // namespace gatehouse::pipeline
