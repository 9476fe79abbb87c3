#include "pipeline/records.h"


#include <boost/json.hpp>
#include <random>

#include "core/encoding.h"
#include "record/writer.h"

namespace gatehouse::pipeline {

namespace json = boost::json;

namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return double(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()) / 1000.0;
}

bool sampled(double fraction) {
  if (fraction >= 1) return true;
  if (fraction <= 0) return false;
  thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < fraction;
}

// What the guardrails did, for the inference log's decisions and the audit chain.
json::array guardrail_hits(const RequestContext& ctx) {
  json::array out;
  for (const auto& h : ctx.guard.hits) {
    out.push_back(json::object{{"guardrail", h.guardrail->name},
                               {"entity", h.entity},
                               {"action", guard::to_string(h.action)},
                               {"direction", h.output ? "output" : "input"},
                               {"count", h.count}});
  }
  return out;
}

}  // namespace

std::string caller_of(const RequestContext& ctx) {
  if (!ctx.identity.key_name.empty()) return "key '" + ctx.identity.key_name + "'";
  if (!ctx.identity.user.empty()) return "user '" + ctx.identity.user + "'";
  return "anonymous";
}

Decision InferenceLogStage::on_routed(RequestContext& ctx) const {
  if (!ctx.request.model_request) return std::nullopt;
  bool match = false;
  for (const auto& g : config_.models) match = match || glob_match(g, ctx.request.model);
  if (!match || !sampled(config_.sample)) return std::nullopt;
  ctx.records.log_inference = true;
  ctx.records.capture_payloads = config_.payloads;
  ctx.records.capture_limit = config_.max_payload_bytes;
  return std::nullopt;
}

void InferenceLogStage::on_sent(RequestContext& ctx, std::string_view bytes) const noexcept {
  auto& r = ctx.records;
  if (!r.capture_payloads) return;
  try {
    const std::size_t room = r.capture_limit > r.response_capture.size() ? r.capture_limit - r.response_capture.size() : 0;
    if (bytes.size() > room) {
      r.capture_truncated = true;
      bytes = bytes.substr(0, room);
    }
    r.response_capture.append(bytes);
  } catch (...) {
    r.capture_truncated = true;  // out of memory: the record says it is incomplete
  }
}

void InferenceLogStage::on_complete(RequestContext& ctx) const noexcept {
  if (!ctx.records.log_inference) return;
  try {
    const auto now = std::chrono::steady_clock::now();
    store::InferenceRecord r;
    r.request_id = ctx.ingress.request_id;
    r.request_time_ms = ctx.ingress.started_unix_ms;
    r.requester = ctx.requester();
    r.key_name = ctx.identity.key_name;
    r.user = ctx.identity.user;
    r.project = ctx.identity.project;
    r.model = ctx.request.model;
    r.served_model = ctx.attempted_model() ? ctx.attempted_model()->name : std::string();
    r.provider = ctx.attempted_provider();
    r.status_code = ctx.outcome.status;
    r.execution_duration_ms = ms_between(ctx.ingress.started, now);
    r.upstream_duration_ms = double(ctx.upstream.upstream_time.count()) / 1000.0;
    if (ctx.upstream.first_token != std::chrono::steady_clock::time_point{}) {
      r.time_to_first_token_ms = ms_between(ctx.ingress.started, ctx.upstream.first_token);
    }
    r.input_tokens = ctx.accounting.usage.input_tokens;
    r.output_tokens = ctx.accounting.usage.output_tokens;
    r.cost_usd = ctx.accounting.cost_usd;
    r.streaming = ctx.request.stream;
    r.error_code = ctx.outcome.error_code;
    record::Capture capture = record::Capture::kWhole;
    if (ctx.records.capture_payloads) {
      // The body as the client sent it; its credential travels in headers, which are never kept.
      // Guardrails that masked it: the body as it went on (masked) — never the text they
      // masked; that blocked it: none (it holds what was blocked).
      std::string_view sent = ctx.guard.input_masked ? ctx.request.body : ctx.request.client_body;
      const bool input_blocked = !ctx.guard.blocked.empty() && ctx.upstream.attempts == 0;
      std::string_view body = input_blocked ? std::string_view() : sent.substr(0, config_.max_payload_bytes);
      if (!input_blocked) r.request_body = std::string(body);
      r.response_body = ctx.records.response_capture;
      r.payload_truncated = ctx.records.capture_truncated || body.size() < sent.size();
      // A stream that was answered is reassembled; an error answer (JSON) is kept as it is.
      if (ctx.request.stream && ctx.outcome.status == 200) {
        switch (api::request_shape(ctx.ingress.shape, ctx.request.op)) {
          case ApiShape::kAnthropic: capture = record::Capture::kAnthropicStream; break;
          case ApiShape::kResponses: capture = record::Capture::kResponsesStream; break;
          default: capture = record::Capture::kOpenAIStream;
        }
      }
    }
    json::array attempts;
    for (const auto& a : ctx.upstream.attempt_log) {
      attempts.push_back(json::object{{"model", a.model},
                                      {"provider", a.provider},
                                      {"status", a.status},
                                      {"error", a.error.empty() ? json::value(nullptr) : json::value(a.error)},
                                      {"duration_ms", double(a.end_unix_ns - a.start_unix_ns) / 1e6}});
    }
    json::object decisions{{"attempts", std::move(attempts)}};
    if (!ctx.accounting.limit_decision.empty()) decisions["limits"] = ctx.accounting.limit_decision;
    if (!ctx.accounting.budget_decision.empty()) decisions["budget"] = ctx.accounting.budget_decision;
    if (ctx.accounting.usage.estimated) decisions["usage"] = "estimated";
    if (ctx.upstream.client_gone) decisions["client"] = "gone";
    if (!ctx.guard.hits.empty()) decisions["guardrails"] = guardrail_hits(ctx);
    r.decisions = json::serialize(decisions);
    writer_.submit(std::move(r), capture);
  } catch (...) {
    // A record must never take a request down.
  }
}

void AuditStage::on_complete(RequestContext& ctx) const noexcept {
  if (!ctx.guard.blocked.empty()) {
    // A guardrail's block is a security event: who, what it found (never the text), which way.
    try {
      store::AuditRecord r;
      r.time_ms = ctx.ingress.started_unix_ms;
      r.kind = "guardrail.blocked";
      r.actor = caller_of(ctx);
      r.subject = "model " + ctx.request.model.substr(0, 200);
      r.request_id = ctx.ingress.request_id;
      r.detail = json::serialize(json::object{{"status", ctx.outcome.status},
                                              {"blocked", ctx.guard.blocked},
                                              {"direction", ctx.upstream.attempts == 0 ? "input" : "output"},
                                              {"guardrails", guardrail_hits(ctx)}});
      writer_.submit(std::move(r));
    } catch (...) {
    }
    return;
  }
  const bool denied = ctx.outcome.status == 401 || ctx.outcome.status == 403 || ctx.outcome.error_code == "kill_switch";
  if (!denied) return;
  try {
    store::AuditRecord r;
    r.time_ms = ctx.ingress.started_unix_ms;
    r.kind = "request.denied";
    r.actor = caller_of(ctx);
    r.subject = ctx.request.model.empty() ? std::string(ctx.ingress.path.substr(0, 200)) : "model " + ctx.request.model.substr(0, 200);
    r.request_id = ctx.ingress.request_id;
    r.detail = json::serialize(json::object{{"status", ctx.outcome.status},
                                            {"code", ctx.outcome.error_code},
                                            {"method", ctx.ingress.method},
                                            {"path", std::string(ctx.ingress.path.substr(0, 200))}});
    writer_.submit(std::move(r));
  } catch (...) {
  }
}

}  // namespace gatehouse::pipeline
