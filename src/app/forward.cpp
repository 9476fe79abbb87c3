#include "app/forward.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "api/errors.h"
#include "api/openai.h"
#include "http/sse.h"
#include "limit/price.h"
#include "pipeline/pipeline.h"

namespace gatehouse::app {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxResponseBytes = 256u << 20;  // a whole (non-streamed) answer
constexpr std::size_t kMaxErrorBytes = 1u << 20;

std::chrono::microseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t);
}

// A provider's own message from a non-OpenAI error body ({"message"}, {"error_code","message"},
// {"error":"text"}), cut short; empty when there is none.
std::string provider_message(std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.get_object();
  std::string out;
  if (auto* m = o.if_contains("message"); m && m->is_string()) out = std::string(m->get_string());
  if (auto* e = o.if_contains("error"); out.empty() && e && e->is_string()) out = std::string(e->get_string());
  if (auto* c = o.if_contains("error_code"); c && c->is_string()) {
    out = std::string(c->get_string()) + (out.empty() ? "" : ": " + out);
  }
  if (out.size() > 500) out = out.substr(0, 500) + "...";
  return out;
}

}  // namespace

void capture_response(pipeline::RequestContext& ctx, std::string_view bytes) {
  if (!ctx.capture_payloads) return;
  const std::size_t room =
      ctx.capture_limit > ctx.response_capture.size() ? ctx.capture_limit - ctx.response_capture.size() : 0;
  if (bytes.size() > room) {
    ctx.capture_truncated = true;
    bytes = bytes.substr(0, room);
  }
  ctx.response_capture.append(bytes);
}

namespace {

// The provider's answer is complete: settled, and the route told, before the client has its
// last bytes.
void answered(pipeline::RequestContext& ctx, const Metering& metering) {
  settle(ctx);
  if (metering.answered && *metering.answered) (*metering.answered)();
}

// Relays an SSE body: each read's complete events are written as one chunk, at once (through
// the translator when there is one).
asio::awaitable<void> relay_stream(http::Exchange& ex, pipeline::RequestContext& ctx,
                                   http::UpstreamCall& call,
                                   translate::ResponseTranslator* translator, const Metering& metering) {
  http::StreamHead head{bhttp::status::ok, 11};
  add_context_headers(ctx, head);
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  head.set("x-accel-buffering", "no");  // ask proxies in front of us not to buffer either
  if (ctx.shape == ApiShape::kAnthropic) head.set("request-id", ctx.request_id);  // the SDK's _request_id
  ctx.status = 200;
  if (!co_await ex.start_stream(head)) co_return;

  http::SseSplitter splitter;
  api::StreamUsage meter(metering.wire);
  std::string translated;
  std::string kept;  // a pass-through batch with the usage-only chunk taken out
  for (;;) {
    auto piece = co_await call.read_some();
    if (auto* e = std::get_if<Error>(&piece)) {
      if (ex.client_gone()) co_return;
      // The answer has started: the error can only travel inside the stream.
      ctx.error_code = e->code.empty() ? std::string(to_string(e->kind)) : e->code;
      settle(ctx);  // charged; the route's verdict (a failure) is Gateway::serve's
      const std::string event = api::stream_error_event(ctx.shape, *e);
      capture_response(ctx, event);
      co_await ex.write_chunk(event);
      co_await ex.end_stream();
      co_return;
    }
    auto bytes = std::get<std::string_view>(piece);
    if (bytes.empty()) break;
    const auto& events = splitter.feed(bytes);
    if (events.empty()) continue;
    std::string_view batch;
    if (translator) {
      translated.clear();
      for (auto event : events) {
        meter.event(event);
        translator->event(event, translated);
      }
      ctx.usage = meter.usage();
      if (translated.empty()) continue;
      batch = translated;
    } else {
      // Complete events are contiguous in the splitter's buffer: one write for all of them,
      // unless the usage-only chunk must be cut out.
      const char* run = events.front().data();
      const char* end = events.back().data() + events.back().size();
      bool cut = false;
      for (auto event : events) {
        if (meter.event(event) && metering.strip_usage_chunk) {
          if (!cut) kept.clear();
          kept.append(run, std::size_t(event.data() - run));
          run = event.data() + event.size();
          cut = true;
        }
      }
      ctx.usage = meter.usage();
      if (cut) kept.append(run, std::size_t(end - run));
      batch = cut ? std::string_view(kept) : std::string_view(events.front().data(), std::size_t(end - events.front().data()));
      if (batch.empty()) continue;
    }
    if (ctx.first_token == std::chrono::steady_clock::time_point{}) ctx.first_token = std::chrono::steady_clock::now();
    capture_response(ctx, batch);
    if (!co_await ex.write_chunk(batch)) {
      call.abort();
      co_return;
    }
  }
  bool drop_pending = false;  // the stream's unterminated last event is the usage-only chunk
  if (!splitter.pending().empty()) {
    drop_pending = meter.event(std::string(splitter.pending()) + "\n\n") && metering.strip_usage_chunk;
    ctx.usage = meter.usage();
  }
  if (meter.failed()) {
    // The provider ended its stream with an error event (relayed as it is): a failed request,
    // and a failure of the target (Gateway::serve).
    ctx.error_code = "upstream_stream_error";
    settle(ctx);
  } else {
    answered(ctx, metering);
  }
  if (translator) {
    translated.clear();
    if (!splitter.pending().empty()) translator->event(std::string(splitter.pending()) + "\n\n", translated);
    translator->finish(translated);
    capture_response(ctx, translated);
    if (!translated.empty()) co_await ex.write_chunk(translated);
  } else if (!splitter.pending().empty() && !drop_pending) {
    capture_response(ctx, splitter.pending());
    co_await ex.write_chunk(splitter.pending());
  }
  co_await ex.end_stream();
}

asio::awaitable<std::optional<Error>> exchange(http::Exchange& ex, pipeline::RequestContext& ctx,
                                               http::UpstreamCall& call,
                                               http::UpstreamRequest& request,
                                               translate::ResponseTranslator* translator,
                                               const Metering& metering) {
  auto t0 = std::chrono::steady_clock::now();
  if (auto error = co_await call.send(request)) {
    ctx.upstream_time = since(t0);
    co_return error;
  }
  ctx.upstream_first_byte = call.time_to_head();
  unsigned status = call.status();
  if (status >= 400) {
    auto body = co_await call.read_all(kMaxErrorBytes);
    ctx.upstream_time = since(t0);
    if (auto* e = std::get_if<Error>(&body)) co_return std::move(*e);
    co_return upstream_status_error(status, std::get<std::string>(body), call.header("retry-after"),
                                    ctx.provider);
  }

  // Accepted: from here the provider may bill the request.
  ctx.upstream_answered = true;
  std::string_view content_type = call.header("content-type");
  if (ctx.stream && content_type.starts_with("text/event-stream")) {
    co_await relay_stream(ex, ctx, call, translator, metering);
    ctx.upstream_time = since(t0);
    co_return std::nullopt;
  }

  auto body = co_await call.read_all(kMaxResponseBytes);
  ctx.upstream_time = since(t0);
  if (auto* e = std::get_if<Error>(&body)) co_return std::move(*e);
  ctx.usage = api::read_usage(metering.wire, std::get<std::string>(body));
  http::Response res{static_cast<bhttp::status>(status), 11};
  add_context_headers(ctx, res);
  if (ctx.shape == ApiShape::kAnthropic) res.set("request-id", ctx.request_id);
  if (translator) {
    auto converted = translator->body(std::get<std::string>(body));
    if (auto* e = std::get_if<Error>(&converted)) co_return std::move(*e);
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(std::get<std::string>(converted));
  } else {
    res.set(bhttp::field::content_type, content_type.empty() ? "application/json" : content_type);
    res.body() = std::move(std::get<std::string>(body));
  }
  ctx.status = int(status);
  capture_response(ctx, res.body());
  answered(ctx, metering);
  co_await ex.respond(res);
  co_return std::nullopt;
}

}  // namespace

Error upstream_status_error(unsigned status, std::string_view body, std::string_view retry_after,
                            std::string_view provider) {
  Error e;
  e.kind = status == 429 ? ErrorKind::kRateLimited : ErrorKind::kUpstreamStatus;
  e.source = ErrorSource::kUpstream;
  e.retryable = status == 429 || status >= 500;
  e.status = int(status);
  if (!retry_after.empty()) {
    int s = -1;
    auto [p, ec] = std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), s);
    if (ec == std::errc() && s >= 0) e.retry_after_s = s;
  }
  e.upstream_status = int(status);
  if (status == 401 || status == 403) {
    e.status = 502;
    e.code = "upstream_auth_failed";
    e.message = "provider '" + std::string(provider) + "' refused the gateway's credential (HTTP " +
                std::to_string(status) + "); the gateway operator must fix providers." +
                std::string(provider) + ".auth";
    return e;
  }
  if (api::read_upstream_error(body, e)) return e;
  e.code = status == 429 ? "rate_limit_exceeded" : "upstream_error";
  std::string detail = provider_message(body);
  e.message = "provider '" + std::string(provider) + "' answered HTTP " + std::to_string(status) +
              (detail.empty() ? "" : ": " + detail);
  return e;
}

void meter(pipeline::RequestContext& ctx) {
  if (!ctx.usage.known && ctx.upstream_answered) {
    // A stream cut before its final usage (Anthropic's message_start says the input, not the
    // output): what it said, but never less than the estimate.
    ctx.usage.input_tokens = std::max(ctx.usage.input_tokens, ctx.estimated_input_tokens);
    ctx.usage.output_tokens = std::max(ctx.usage.output_tokens, ctx.estimated_output_tokens);
    ctx.usage.cached_input_tokens = std::min(ctx.usage.cached_input_tokens, ctx.usage.input_tokens);
    ctx.usage.estimated = true;
  }
  ctx.cost_usd = ctx.served_model ? limit::cost_usd(ctx.served_model->price, ctx.usage) : 0;
}

void settle(pipeline::RequestContext& ctx) {
  meter(ctx);
  if (ctx.pipeline) ctx.pipeline->on_settled(ctx);
}

asio::awaitable<std::optional<Error>> forward(http::Exchange& ex, pipeline::RequestContext& ctx,
                                              http::UpstreamPool& pool, http::CallTimeouts timeouts,
                                              http::UpstreamRequest& request,
                                              translate::ResponseTranslator* translator,
                                              const Metering& metering) {
  http::UpstreamCall call(pool, timeouts);
  // A client that leaves cuts the upstream exchange short: its pending read or write fails at
  // once and the connection is not reused. The watch ends with this frame, however it ends (an
  // exception must not leave it armed on a destroyed call).
  ex.watch_client([&call] { call.abort(); });
  struct Unwatch {
    http::Exchange& ex;
    ~Unwatch() { ex.unwatch_client(); }
  } unwatch{ex};
  std::optional<Error> result = co_await exchange(ex, ctx, call, request, translator, metering);
  ex.unwatch_client();
  if (ex.client_gone()) {
    ctx.client_gone = true;
    if (ctx.status == 0) ctx.status = 499;  // nginx's "client closed request", for the records
    co_return std::nullopt;
  }
  co_return result;
}

}  // namespace gatehouse::app
