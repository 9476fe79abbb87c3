#include "gateway/attempt.h"

#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "api/text_event.h"
#include "core/trace_context.h"
#include "gateway/relay.h"
#include "gateway/respond.h"
#include "http/sse.h"
#include "pipeline/pipeline.h"
#include "provider/oauth.h"
#include "runtime/worker_pools.h"
#include "responses/conversation.h"
#include "translate/hub.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using pipeline::Decision;

namespace {

constexpr std::size_t kMaxResponseBytes = 256u << 20;  // a whole (non-streamed) answer
constexpr std::size_t kMaxErrorBytes = 1u << 20;

http::CallTimeouts timeouts_for(const route::Target& target, http::CallTimeouts t) {
  if (!target.settings) return t;
  const auto& s = *target.settings;
  if (s.connect) t.connect = *s.connect;
  if (s.first_byte) t.first_byte = *s.first_byte;
  if (s.idle) t.idle = *s.idle;
  if (s.total) t.total = *s.total;
  return t;
}

// The attempt's record (inference log, spans) opens when the request is sent...
void begin_record(pipeline::RequestContext& ctx, const route::Target& target) {
  ++ctx.upstream.attempts;
  ctx.set_response_header("x-gatehouse-attempts", std::to_string(ctx.upstream.attempts));
  pipeline::AttemptRecord rec;
  rec.model = target.model->name;
  rec.provider = target.provider->name;
  rec.upstream_model = target.model->upstream_model;
  rec.origin = target.provider->host + ":" + target.provider->port;
  rec.start_unix_ns = unix_now_ns();
  ctx.upstream.attempt_log.push_back(std::move(rec));
}

std::string code_of(const Error& e) { return e.code.empty() ? std::string(to_string(e.kind)) : e.code; }

// ...and closes when it ended, with the provider's status and how the attempt failed, if it did.
void end_record(pipeline::RequestContext& ctx, int status, std::string error) {
  auto& rec = ctx.upstream.attempt_log.back();
  rec.end_unix_ns = unix_now_ns();
  rec.status = status;
  rec.error = std::move(error);
}
void end_record(pipeline::RequestContext& ctx, const std::optional<Error>& error) {
  if (error) return end_record(ctx, error->upstream_status, code_of(*error));
  end_record(ctx, ctx.outcome.status, {});
}

void note_client_gone(const http::Exchange& ex, pipeline::RequestContext& ctx) {
  if (!ex.client_gone()) return;
  ctx.upstream.client_gone = true;
  if (ctx.outcome.status == 0) ctx.outcome.status = 499;  // nginx's "client closed request", for the records
}

// A stream's events on their way to the client: the stages' on_event (in the provider's shape),
// then the translator when the client speaks another shape. When nothing changes an event, a
// read's events go out as the provider sent them, without a copy.
class StreamFilter final : public EventFilter {
 public:
  StreamFilter(pipeline::RequestContext& ctx, translate::ResponseTranslator* translator)
      : ctx_(ctx),
        pipeline_(*ctx.pipeline),
        translator_(translator),
        numbered_(!translator && ctx.upstream.current.provider_shape == ApiShape::kResponses &&
                  ctx.ingress.shape == ApiShape::kResponses) {}

  std::variant<std::string_view, Error> filter(const std::vector<std::string_view>& events) override {
    out_.clear();
    bool copying = translator_ != nullptr;
    const char* run = events.front().data();  // the start of the events passed on as they came
    for (auto event : events) {
      Decision d = pipeline_.on_event(ctx_, event);
      if (d.kind() == Decision::Kind::kRefuse) return std::move(d.error());
      // A native Responses stream whose events a stage changed (held back, released, inserted)
      // is numbered again from here on: the client's sequence_numbers stay strictly increasing.
      if (numbered_ && !d.proceeds()) renumbering_ = true;
      if (d.proceeds() && !copying && !renumbering_) {
        ++sent_;
        continue;
      }
      if (!copying) {
        out_.append(run, std::size_t(event.data() - run));
        copying = true;
      }
      if (d.proceeds()) {
        pass(event);
      } else if (d.kind() == Decision::Kind::kReplace) {
        pass_all(d.body());
      }
    }
    if (!copying) return std::string_view(run, std::size_t(events.back().data() + events.back().size() - run));
    return std::string_view(out_);
  }

  void sent(std::string_view bytes) override {
    if (ctx_.upstream.first_token == std::chrono::steady_clock::time_point{}) {
      ctx_.upstream.first_token = std::chrono::steady_clock::now();
    }
    pipeline_.on_sent(ctx_, bytes);
  }
  void delivered(std::string_view bytes) override {
    if (!answered_) answered_ = api::ends_stream(bytes);
  }
  // The client has had the stream's last event (the connection's closing chunk aside).
  bool answered() const { return answered_; }

  // The provider's stream ended with `tail` (its unterminated last bytes): what the client's
  // stream still needs — the tail, what stages held back, the translator's closing events.
  std::variant<std::string, Error> finish(std::string_view tail) {
    std::string out;
    if (!tail.empty()) {
      const std::string event = std::string(tail) + "\n\n";
      auto filtered = filter({event});
      if (auto* e = std::get_if<Error>(&filtered)) return std::move(*e);
      // Passed through untouched, the tail goes out as it came (unterminated).
      out = translator_ || std::get<std::string_view>(filtered).data() != event.data()
                ? std::string(std::get<std::string_view>(filtered))
                : std::string(tail);
    }
    Decision d = pipeline_.on_stream_end(ctx_);
    if (d.kind() == Decision::Kind::kRefuse) return std::move(d.error());
    out_.clear();
    if (d.kind() == Decision::Kind::kReplace) pass_all(d.body());
    if (translator_) translator_->finish(out_);
    out += out_;
    return out;
  }

 private:
  void pass(std::string_view event) {
    if (translator_) {
      translator_->event(event, out_);
    } else if (renumbering_) {
      out_.append(api::with_sequence_number(event, sent_++));
    } else {
      out_.append(event);
      ++sent_;
    }
  }
  // A stage's replacement: zero or more whole events.
  void pass_all(std::string_view events) {
    if (!translator_ && !renumbering_) {
      out_.append(events);
      return;
    }
    http::SseSplitter splitter;
    for (auto e : splitter.feed(events)) pass(e);
  }

  pipeline::RequestContext& ctx_;
  const pipeline::Pipeline& pipeline_;
  translate::ResponseTranslator* translator_;
  const bool numbered_;       // a native Responses stream: its events carry sequence_numbers
  bool renumbering_ = false;  // a stage changed its events: numbered again (pass)
  bool answered_ = false;
  long long sent_ = 0;        // events passed to the client so far
  std::string out_;
};

// The provider's whole answer: the stages' on_response, then the client's shape.
asio::awaitable<AttemptResult> answer_whole(LlmRequest& r, Relay& relay, translate::ResponseTranslator* translator,
                                            route::Failover& failover) {
  auto& ctx = r.ctx;
  const unsigned status = relay.status();
  const std::string content_type(relay.header("content-type"));
  auto read = co_await relay.read_all(kMaxResponseBytes);
  ctx.upstream.upstream_time = relay.elapsed();
  if (auto* e = std::get_if<Error>(&read)) co_return AttemptResult{AttemptResult::kFailed, std::move(*e), relay.elapsed()};
  std::string body = std::move(std::get<std::string>(read));
  if (Decision d = ctx.pipeline->on_response(ctx, body); d.kind() == Decision::Kind::kRefuse) {
    // The provider answered; a stage will not let the answer through.
    failover.succeeded(relay.elapsed());
    end_record(ctx, int(status), {});
    co_await respond_error(r.ex, ctx, d.error());
    co_return AttemptResult{};
  }
  if (translator) {
    auto converted = translator->body(body);
    if (auto* e = std::get_if<Error>(&converted)) co_return AttemptResult{AttemptResult::kFailed, std::move(*e), relay.elapsed()};
    body = std::move(std::get<std::string>(converted));
  }
  ctx.outcome.status = int(status);
  end_record(ctx, std::nullopt);
  // Charged, and the target's success recorded, before the client has the last bytes: its next
  // request must find both.
  settle(ctx);
  failover.succeeded(ctx.request.stream ? ctx.upstream.upstream_first_byte : relay.elapsed());
  std::string_view type = translator || content_type.empty() ? std::string_view("application/json") : content_type;
  co_await respond(r.ex, ctx, int(status), type, std::move(body));
  note_client_gone(r.ex, ctx);
  co_return AttemptResult{};
}

// The provider's stream, event by event as they arrive.
asio::awaitable<AttemptResult> answer_stream(LlmRequest& r, Relay& relay, translate::ResponseTranslator* translator,
                                             route::Failover& failover) {
  auto& ctx = r.ctx;
  auto& ex = r.ex;
  http::StreamHead head{bhttp::status::ok, 11};
  add_context_headers(ctx, head);
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  head.set("x-accel-buffering", "no");  // ask proxies in front of us not to buffer either
  ctx.outcome.status = 200;
  StreamFilter filter(ctx, translator);
  Relay::StreamEnd end{Relay::StreamEnd::kClientGone, {}, {}};
  if (co_await ex.start_stream(head)) end = co_await relay.pump(filter);
  ctx.upstream.upstream_time = relay.elapsed();
  const auto first_byte = ctx.upstream.upstream_first_byte;
  std::string tail;
  // A client that leaves once it has the last event (Codex closes on response.completed), before
  // the provider's stream or the connection's closing chunk ended, had the whole answer: not a
  // 499. The stream ends as usual (the stages see its end), its last writes going nowhere.
  if (end.kind == Relay::StreamEnd::kClientGone && filter.answered()) end = Relay::StreamEnd{Relay::StreamEnd::kEnded, {}, {}};
  if (end.kind == Relay::StreamEnd::kEnded) {
    auto finished = filter.finish(end.tail);
    if (auto* e = std::get_if<Error>(&finished)) {
      end = Relay::StreamEnd{Relay::StreamEnd::kBroken, std::move(*e), {}};
    } else {
      tail = std::move(std::get<std::string>(finished));
    }
  }
  if (end.kind == Relay::StreamEnd::kClientGone) {
    // The client left before the answer was complete: the records say so (499), and it is
    // charged for what the provider sent until then (metering counts the relayed output).
    ctx.outcome.status = 499;
    note_client_gone(ex, ctx);
    end_record(ctx, 200, {});
    failover.succeeded(first_byte);  // the provider answered; the client left
    co_return AttemptResult{};
  }
  if (end.kind == Relay::StreamEnd::kBroken) {
    // The answer has started: the error can only travel inside the stream.
    ctx.outcome.error_code = code_of(*end.error);
    if (translator) tail = translator->error_event(*end.error);
    if (tail.empty()) tail = api::stream_error_event(ctx.ingress.shape, *end.error);
  }
  // The provider's connection broke, or it sent an error event: too late to fall back, not too
  // late to count against the target. (A stage that ended the stream is no fault of the target.)
  const bool target_failed = end.kind == Relay::StreamEnd::kBroken ? end.error->source == ErrorSource::kUpstream
                                                                   : !ctx.outcome.error_code.empty();
  // The attempt's record says so too, as the request's does (an upstream timeout mid-stream is a
  // failed attempt in the metrics, not an `ok` one).
  end_record(ctx, 200, target_failed ? ctx.outcome.error_code : std::string());
  settle(ctx);  // charged before the client has the last bytes
  if (target_failed) {
    failover.broke(ctx.outcome.error_code);
  } else {
    failover.succeeded(first_byte);
  }
  bool delivered = true;
  if (!tail.empty()) {
    filter.sent(tail);
    delivered = co_await ex.write_chunk(tail);
    if (delivered) filter.delivered(tail);
  }
  co_await ex.end_stream();
  if ((!delivered && !filter.answered()) || end.kind == Relay::StreamEnd::kBroken) note_client_gone(ex, ctx);
  co_return AttemptResult{};
}

// The shape the target takes this request in: its provider's, except that a Responses request
// goes as it is to a provider (or model) configured `responses: native`, and a Databricks agent
// invocation (Responses items at /serving-endpoints/{name}/invocations) as it is to a Databricks
// provider — what the client sent to an invocations URL is what Databricks gets.
ApiShape provider_shape(const LlmRequest& r, const route::Target& target, const provider::Adapter& adapter) {
  if (r.canonical.op != api::Operation::kResponses) return adapter.shape();
  const bool native = target.model->responses_native.value_or(target.provider->responses_native) ||
                      (r.ctx.ingress.shape == ApiShape::kDatabricks && target.provider->kind == config::ProviderKind::kDatabricks);
  return native ? ApiShape::kResponses : adapter.shape();
}

// The attempt's outgoing body (ctx.upstream.current.body) before the stages see it: the client's,
// or its translation into the provider's shape (a 400 when the provider's shape cannot express
// it: the target is skipped).
std::optional<Error> outgoing_body(LlmRequest& r, const route::Target& target, const provider::Adapter& adapter,
                                   std::unique_ptr<translate::ResponseTranslator>& translator) {
  auto& cur = r.ctx.upstream.current;
  cur = pipeline::CurrentAttempt{};
  cur.model = target.model;
  cur.provider = target.provider;
  cur.provider_shape = provider_shape(r, target, adapter);
  cur.include_usage = r.canonical.include_usage;
  const ApiShape client = api::request_shape(r.ctx.ingress.shape, r.canonical.op);
  r.ctx.set_response_header("x-gatehouse-warning", {});  // an earlier attempt's, for another target
  if (!translate::needs_translation(client, cur.provider_shape)) {
    cur.body = r.ctx.request.body;
    if (cur.provider_shape == ApiShape::kResponses && r.canonical.input_is_string &&
        target.provider->kind == config::ProviderKind::kDatabricks) {
      // A Databricks agent takes items only (a string `input` is an embeddings request there).
      cur.body_storage = responses::with_input_items(cur.body);
      cur.body = cur.body_storage;  // its spans are found again (prepare)
    }
    return std::nullopt;
  }
  std::vector<std::string> dropped;
  auto t = translate::translate_request(
      client, cur.provider_shape, r.ctx.request.body,
      {target.provider->default_max_tokens, {.reasoning_effort = target.model->reasoning_effort}, &dropped});
  if (auto* e = std::get_if<Error>(&t)) return std::move(*e);
  cur.translated = true;
  cur.body_storage = std::move(std::get<std::string>(t));
  cur.body = cur.body_storage;
  translator = translate::translate_response(cur.provider_shape, client, r.canonical.include_usage, r.responses);
  if (!dropped.empty()) {
    // Codex and the Agents SDK offer built-in tools with every request: left out, not refused.
    std::string names;
    for (const auto& d : dropped) names += (names.empty() ? "" : ", ") + d;
    r.ctx.set_response_header("x-gatehouse-warning", "tools the provider cannot run were left out: " + names);
  }
  return std::nullopt;
}

// The upstream request for this try: the stages' on_attempt (which may replace the body or add
// headers), then the adapter. A stage's refusal or answer comes back as a decision.
Decision prepare(LlmRequest& r, const route::Target& target, const provider::Adapter& adapter, std::string_view token,
                 bool translated, const std::string& base_body, http::UpstreamRequest& out) {
  auto& ctx = r.ctx;
  auto& cur = ctx.upstream.current;
  cur.number = ctx.upstream.attempts + 1;
  cur.headers.clear();
  // The body made for this target (a translation, or a native body rewritten), else the request's.
  cur.body = base_body.empty() ? ctx.request.body : std::string_view(base_body);
  bool replaced = false;
  Decision d = ctx.pipeline->on_attempt(ctx, &replaced);
  if (!d.proceeds()) return d;
  api::Spans spans = r.canonical;
  if (translated) {
    spans = api::Spans{};  // a translation has no model member
    spans.object_start = 1;
  }
  if (replaced || (!translated && !base_body.empty())) {
    auto found = api::find_spans(cur.body);
    if (!found) return Error::internal("a stage made the request body invalid JSON");
    spans = *found;
  }
  api::CanonicalRequest outgoing = r.canonical;
  static_cast<api::Spans&>(outgoing) = spans;
  // A translated Responses request is a chat (or Messages) request now: its provider's path.
  if (translated && outgoing.op == api::Operation::kResponses) outgoing.op = api::Operation::kChat;
  adapter.prepare(provider::Outgoing{outgoing, cur.body, target.model->upstream_model, r.ex.request_id(), token,
                                     translated ? nullptr : &r.ex.request()},
                  out);
  for (const auto& [name, value] : cur.headers) out.set(name, value);
  return {};
}

// Sends the request and reads the head; an error status is read into the error the client (or
// the failover loop) gets.
asio::awaitable<std::optional<Error>> open(Relay& relay, http::UpstreamRequest& upstream, const route::Target& target) {
  if (auto error = co_await relay.open(upstream)) co_return error;
  if (relay.status() < 400) co_return std::nullopt;
  auto body = co_await relay.read_all(kMaxErrorBytes);
  if (auto* e = std::get_if<Error>(&body)) co_return std::move(*e);
  co_return api::upstream_status_error(relay.status(), std::get<std::string>(body), relay.header("retry-after"),
                                       target.provider->name);
}

}  // namespace

asio::awaitable<AttemptResult> attempt(LlmRequest& r, const route::Target& target, route::Failover& failover) {
  auto& ctx = r.ctx;
  const auto& adapter = *r.snapshot.providers.find(target.provider->name)->second;
  if (!adapter.supports(r.canonical.op)) {
    co_return AttemptResult{AttemptResult::kSkipped,
                            Error::bad_request("model '" + target.model->name + "' is served by provider '" +
                                                   target.provider->name + "' (" +
                                                   std::string(config::to_string(target.provider->kind)) +
                                                   "), which does not serve this operation",
                                               "model")};
  }
  std::unique_ptr<translate::ResponseTranslator> translator;
  if (auto e = outgoing_body(r, target, adapter, translator)) co_return AttemptResult{AttemptResult::kSkipped, std::move(e)};
  const std::string base_body = std::move(ctx.upstream.current.body_storage);
  auto& pools = r.snapshot.services.pools->of(r.ex.worker());
  auto& pool = pools.get(adapter.origin());
  const http::CallTimeouts timeouts = timeouts_for(target, adapter.timeouts());
  const bool passthrough = target.provider->auth_passthrough;
  // An OAuth token the provider refuses is refreshed, and the request sent again, once.
  for (int oauth_try = 0;; ++oauth_try) {
    std::string token;
    if (passthrough) {
      token = std::string(ctx.identity.bearer);  // on behalf of the caller: its own (verified) JWT
    } else if (auto* oauth = adapter.oauth()) {
      auto t = co_await oauth->token(pools);
      if (auto* e = std::get_if<Error>(&t)) co_return AttemptResult{AttemptResult::kFailed, std::move(*e)};
      token = std::move(std::get<std::string>(t));
    }
    http::UpstreamRequest upstream;
    Decision d = prepare(r, target, adapter, token, translator != nullptr, base_body, upstream);
    if (d.kind() == Decision::Kind::kRefuse) co_return AttemptResult{AttemptResult::kSkipped, std::move(d.error())};
    if (d.kind() == Decision::Kind::kAnswer) {
      failover.abandoned();  // a stage answered: no verdict on the target
      auto& a = d.answer();
      co_await respond(r.ex, ctx, a.status, a.content_type, std::move(a.body));
      co_return AttemptResult{};
    }
    begin_record(ctx, target);
    Relay relay(r.ex, pool, timeouts);
    std::optional<Error> error = co_await open(relay, upstream, target);
    ctx.upstream.upstream_first_byte = relay.time_to_head();
    if (error) {
      ctx.upstream.upstream_time = relay.elapsed();
      end_record(ctx, error);
      if (r.ex.client_gone()) {
        note_client_gone(r.ex, ctx);
        failover.abandoned();  // no verdict: the client left first
        co_return AttemptResult{};
      }
      if (oauth_try == 0 && adapter.oauth() && !passthrough && error->upstream_status == 401) {
        spdlog::info("{} provider {} refused its OAuth token; fetching a new one", r.ex.request_id(), target.provider->name);
        adapter.oauth()->rejected(token);
        continue;
      }
      co_return AttemptResult{AttemptResult::kFailed, std::move(error), relay.elapsed()};
    }
    // Accepted: from here the provider may bill the request.
    ctx.upstream.upstream_answered = true;
    if (ctx.request.stream && relay.header("content-type").starts_with("text/event-stream")) {
      co_return co_await answer_stream(r, relay, translator.get(), failover);
    }
    auto result = co_await answer_whole(r, relay, translator.get(), failover);
    if (result.kind == AttemptResult::kFailed) {
      end_record(ctx, result.error);
      if (r.ex.client_gone()) {
        note_client_gone(r.ex, ctx);
        failover.abandoned();
        co_return AttemptResult{};
      }
    }
    co_return result;
  }
}

}  // namespace gatehouse::gateway
