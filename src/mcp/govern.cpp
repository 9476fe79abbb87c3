#include "mcp/govern.h"

#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include "core/trace_context.h"
#include "guard/scanner.h"
#include "guard/stream.h"
#include "limit/clock.h"
#include "limit/limiter.h"
#include "limit/shared.h"
#include "state/shared_state.h"
#include "mcp/approvals.h"
#include "mcp/tools.h"
#include "pipeline/context.h"
#include "pipeline/kill_switch.h"
#include "runtime/services.h"
#include "runtime/snapshot.h"

namespace gatehouse::mcp {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

guard::GuardrailSet set_of(const config::Config& c, const std::vector<std::string>& names) {
  guard::GuardrailSet set = 0;
  for (const auto& n : names) {
    const int i = c.guardrail_index(n);
    if (i >= 0 && c.guardrails[std::size_t(i)].kind != guard::Kind::kModel) set |= guard::GuardrailSet(1) << i;
  }
  return set;
}

// Scans every string in `v` (object members' values and array items; keys are names, not text).
// Returns the first blocking rule's "guardrail/entity", or "" when nothing blocks; masks in place.
std::string scan_json(const guard::Scanner& scanner, const config::Config& c, guard::GuardrailSet set, json::value& v,
                      pipeline::Guardrails& hits, bool output, std::vector<guard::Match>& scratch) {
  if (v.is_string()) {
    std::string_view text = v.as_string();
    scratch.clear();
    scanner.scan(text, set, scratch);
    if (scratch.empty()) return {};
    bool mask = false;
    std::string blocked;
    for (const auto& m : scratch) {
      const auto& rule = scanner.rule(m.rule);
      const auto& g = c.guardrails[rule.guardrail];
      hits.hit(g, rule.entity, rule.action, output);
      if (rule.action == guard::Action::kBlock && blocked.empty()) blocked = g.name + "/" + rule.entity;
      if (rule.action == guard::Action::kMask) mask = true;
    }
    if (!blocked.empty()) return blocked;
    if (mask) v = json::string(guard::apply_masks(scanner, text, scratch));
    return {};
  }
  if (v.is_object()) {
    for (auto& kv : v.as_object()) {
      auto b = scan_json(scanner, c, set, kv.value(), hits, output, scratch);
      if (!b.empty()) return b;
    }
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) {
      auto b = scan_json(scanner, c, set, item, hits, output, scratch);
      if (!b.empty()) return b;
    }
  }
  return {};
}

// The output guardrails on a tool result's text (content[].text, embedded resources' text,
// structuredContent): masks in place; the first blocking "guardrail/entity", or "".
std::string scan_tool_result(const config::Config& c, guard::GuardrailSet set, json::object& r, pipeline::Guardrails& hits) {
  std::vector<guard::Match> scratch;
  std::string blocked;
  if (auto* content = r.if_contains("content"); content && content->is_array()) {
    for (auto& item : content->as_array()) {
      if (!item.is_object() || !blocked.empty()) continue;
      auto& o = item.as_object();
      if (auto* text = o.if_contains("text")) blocked = scan_json(*c.scanner, c, set, *text, hits, true, scratch);
      if (auto* res = o.if_contains("resource"); res && res->is_object() && blocked.empty()) {
        if (auto* text = res->as_object().if_contains("text")) blocked = scan_json(*c.scanner, c, set, *text, hits, true, scratch);
      }
    }
  }
  if (auto* sc = r.if_contains("structuredContent"); sc && blocked.empty()) {
    blocked = scan_json(*c.scanner, c, set, *sc, hits, true, scratch);
  }
  return blocked;
}

std::string cut(std::string s, std::size_t limit) {
  if (s.size() > limit) s.resize(limit);
  return s;
}

}  // namespace

ToolCallState::ToolCallState(const runtime::Snapshot& snapshot, pipeline::RequestContext& ctx, std::string_view endpoint)
    : snap_(snapshot), ctx_(ctx), started_(std::chrono::steady_clock::now()) {
  rec_.request_id = ctx.ingress.request_id;
  rec_.time_ms = limit::system_now_ms();
  rec_.requester = ctx.requester();
  rec_.key_name = ctx.identity.key_name;
  rec_.user = ctx.identity.user;
  rec_.project = ctx.identity.project;
  rec_.endpoint = std::string(endpoint);
  rec_.outcome = "ok";
  const auto& t = ctx.records.trace;
  if (t.sampled) rec_.traceparent = format_traceparent(t.trace_id, t.span_id, true);
}

ToolCallState::~ToolCallState() {
  if (!begun_) return;
  if (ticket_ && snap_.services.limiter) snap_.services.limiter->settle(*ticket_, 0);
  if (shared_ticket_) shared_ticket_->settle(0, 0);
  rec_.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  rec_.guardrails = ctx_.guard.summary();
  try {
    record_tool_call(snap_.services, rec_);
  } catch (const std::exception& e) {
    spdlog::error("mcp: could not record tool call {}: {}", rec_.request_id, e.what());
  }
}

void ToolCallState::begin(const std::string& server, const std::string& tool, const json::object* params) {
  begun_ = true;
  rec_.server = server;
  rec_.tool = tool;
  server_ = snap_.config->mcp.find_server(server);
  if (params) {
    if (auto* a = params->if_contains("arguments")) arguments_ = json::serialize(*a);
  }
  const auto& log = snap_.config->records.inference_log;
  if (log.enabled && log.payloads) rec_.arguments = cut(arguments_, log.max_payload_bytes);
}

std::optional<Refusal> ToolCallState::refuse(std::string outcome, int code, std::string type, std::string message) {
  rec_.outcome = std::move(outcome);
  rec_.error = message;
  Refusal r;
  r.code = code;
  r.message = std::move(message);
  r.data = json::object{{"type", type}, {"tool", rec_.server + "/" + rec_.tool}};
  ctx_.outcome.error_code = type;
  return r;
}

std::optional<Refusal> ToolCallState::refuse_limited(const limit::Admission& a) {
  const bool concurrency = a.metric == limit::Metric::kConcurrency;
  auto r = refuse("rate_limited", kToolRateLimited, "rate_limit_exceeded",
                  concurrency ? "Too many calls in flight for " + a.label + ": at most " + std::to_string(a.limit) + " at once"
                              : "Rate limit reached for " + a.label + ": " + std::to_string(a.limit) +
                                    " calls per minute; retry in " + std::to_string(std::max<std::int64_t>(1, a.retry_after_s)) + "s");
  r->data["retry_after_s"] = concurrency ? 1 : std::max<std::int64_t>(1, a.retry_after_s);
  return r;
}

boost::asio::awaitable<std::optional<Refusal>> ToolCallState::admit() {
  const auto& c = *snap_.config;
  if (!roles_allow(c, ctx_.identity.roles, rec_.server, rec_.tool)) {
    const std::string roles = ctx_.identity.role_names.empty() ? "no role" : "role '" + ctx_.identity.role_names + "'";
    auto r = refuse("denied", kToolNotAllowed, "permission_denied",
                    "tool '" + rec_.server + "/" + rec_.tool + "' is not allowed for " + roles +
                        " (roles.<role>.tools lists the tools a role may call)");
    r->data["role"] = ctx_.identity.role_names;
    co_return r;
  }
  if (auto r = check_kill()) co_return r;
  // Limits with scope tool: a rule whose match (a glob over "server/tool") matches, else the
  // default rule (no match) — each tool counted on its own.
  std::vector<limit::Requirement> reqs;
  const std::string full = rec_.server + "/" + rec_.tool;
  const config::LimitRule* own = nullptr;
  const config::LimitRule* fallback = nullptr;
  for (const auto& rule : c.limits) {
    if (rule.scope != config::LimitScope::kTool) continue;
    if (rule.match.empty()) {
      if (!fallback) fallback = &rule;
    } else if (!own && glob_match(rule.match, full)) {
      own = &rule;
    }
  }
  if (const auto* rule = own ? own : fallback) {
    const std::string subject = "tool:" + full, label = "tool '" + full + "'";
    if (rule->qpm) reqs.push_back({limit::Metric::kRequests, {{subject, rule->qpm, label}}});
    if (rule->concurrency) reqs.push_back({limit::Metric::kConcurrency, {{subject, rule->concurrency, label}}});
  }
  if (reqs.empty()) co_return std::nullopt;
  if (snap_.services.shared) {
    // Across replicas: the same admission as a model request's, in Redis.
    auto pending = std::make_shared<limit::PendingAdmission>();
    pending->limits = std::move(reqs);
    std::shared_ptr<const limit::PendingAdmission> held = pending;
    state::SharedDecision d = co_await snap_.services.shared->admit(held);
    if (d.source == state::SharedDecision::kUnavailable) {
      co_return refuse("rate_limited", kToolRateLimited, "shared_state_unavailable",
                       "The gateway cannot reach the shared store that counts tool-call limits across its replicas "
                       "(state.redis.on_error: deny); retry shortly");
    }
    if (!d.limits.admitted) co_return refuse_limited(d.limits);
    shared_ticket_ = std::move(d.ticket);
    ticket_ = std::move(d.limits.ticket);  // admitted by this replica's counters (on_error: local)
    co_return std::nullopt;
  }
  auto a = snap_.services.limiter->admit(reqs, 0);
  if (!a.admitted) co_return refuse_limited(a);
  ticket_ = std::move(a.ticket);
  co_return std::nullopt;
}

std::optional<Refusal> ToolCallState::check_kill() {
  if (auto k = snap_.services.kills->match_tool(rec_.server, rec_.tool, ctx_.identity.project, ctx_.identity.key_name)) {
    return refuse("killed", kToolSwitchedOff, "kill_switch",
                  k->scope + " '" + k->value + "' is switched off by an administrator" +
                      (k->reason.empty() ? std::string() : ": " + k->reason));
  }
  return std::nullopt;
}

Refusal ToolCallState::refuse_unlisted() {
  return *refuse("unlisted", -32602, "tool_not_listed",
                 "tool '" + rec_.server + "/" + rec_.tool + "' is not in the server's tools/list; only listed (and pinned) tools "
                 "can be called");
}

Refusal ToolCallState::refuse_changed() {
  return *refuse("changed_definition", kToolChanged, "tool_definition_changed",
                 "tool '" + rec_.server + "/" + rec_.tool +
                     "' changed its definition since it was pinned; an administrator must review and accept it "
                     "(gatehouse mcp tools accept " + rec_.server + "/" + rec_.tool + ") before it can be called");
}

std::optional<Refusal> ToolCallState::guard_arguments(json::object& params) {
  const auto& c = *snap_.config;
  if (!server_ || !c.scanner) return std::nullopt;
  const auto set = set_of(c, server_->guardrails.input);
  if (!set) return std::nullopt;
  auto* args = params.if_contains("arguments");
  if (!args) return std::nullopt;
  std::vector<guard::Match> scratch;
  auto blocked = scan_json(*c.scanner, c, set, *args, ctx_.guard, false, scratch);
  if (!blocked.empty()) {
    ctx_.guard.blocked = blocked;
    rec_.arguments.clear();  // what was blocked is not kept
    arguments_.clear();
    return refuse("guardrail_blocked", kGuardrailBlocked, "guardrail_blocked",
                  "the arguments of tool '" + rec_.server + "/" + rec_.tool + "' were blocked by guardrail " + blocked +
                      "; nothing was sent to the server");
  }
  arguments_ = json::serialize(*args);  // as masked: what an approver and the records see
  const auto& log = c.records.inference_log;
  if (log.enabled && log.payloads) rec_.arguments = cut(arguments_, log.max_payload_bytes);
  return std::nullopt;
}

bool ToolCallState::needs_approval() const {
  const auto& m = snap_.config->mcp;
  return snap_.services.approvals && any_glob(m.approval_tools, rec_.server, rec_.tool);
}

asio::awaitable<std::optional<Refusal>> ToolCallState::await_approval(
    std::chrono::seconds timeout, std::function<asio::awaitable<void>(std::chrono::seconds)> tick) {
  ApprovalRequest req;
  req.request_id = rec_.request_id;
  req.requester = rec_.requester;
  req.key_name = rec_.key_name;
  req.server = rec_.server;
  req.tool = rec_.tool;
  req.arguments = arguments_;
  Approval a = co_await snap_.services.approvals->wait(std::move(req), timeout, std::move(tick));
  rec_.approval_id = a.id;
  if (a.status == "approved") co_return std::nullopt;
  if (a.status == "denied") {
    co_return refuse("approval_denied", kApprovalRefused, "approval_denied",
                     "an administrator denied this call of '" + rec_.server + "/" + rec_.tool + "' (approval " + a.id + ")" +
                         (a.reason.empty() ? std::string() : ": " + a.reason));
  }
  co_return refuse("approval_expired", kApprovalRefused, "approval_expired",
                   "nobody approved this call of '" + rec_.server + "/" + rec_.tool + "' within " +
                       std::to_string(timeout.count()) + " s (approval " + a.id + "); it was not made");
}

std::string ToolCallState::guard_result(json::object& response) {
  const auto& c = *snap_.config;
  if (auto* err = response.if_contains("error")) {
    rec_.outcome = "error";
    if (err->is_object()) {
      if (auto* m = err->as_object().if_contains("message"); m && m->is_string()) rec_.error = std::string(m->as_string());
    }
    return json::serialize(response);
  }
  auto* result = response.if_contains("result");
  if (!result || !result->is_object()) return json::serialize(response);
  auto& r = result->as_object();
  if (auto* e = r.if_contains("isError"); e && e->is_bool() && e->as_bool()) rec_.outcome = "tool_error";
  if (server_ && c.scanner) {
    const auto set = set_of(c, server_->guardrails.output);
    if (set) {
      const std::string blocked = scan_tool_result(c, set, r, ctx_.guard);
      if (!blocked.empty()) {
        ctx_.guard.blocked = blocked;
        auto refusal = refuse("guardrail_blocked", kGuardrailBlocked, "guardrail_blocked",
                              "the result of tool '" + rec_.server + "/" + rec_.tool + "' was blocked by guardrail " + blocked);
        rec_.result.clear();
        json::object e{{"code", refusal->code}, {"message", refusal->message}, {"data", std::move(refusal->data)}};
        return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", response["id"]}, {"error", std::move(e)}});
      }
    }
  }
  const auto& log = c.records.inference_log;
  if (log.enabled && log.payloads) rec_.result = cut(json::serialize(*result), log.max_payload_bytes);
  return json::serialize(response);
}

std::string guard_replayed_result(const runtime::Snapshot& snapshot, pipeline::RequestContext& ctx,
                                  const std::string& server, std::string message) {
  const auto& c = *snapshot.config;
  const auto* s = c.mcp.find_server(server);
  if (!s || s->guardrails.output.empty() || !c.scanner) return message;
  boost::system::error_code ec;
  auto v = json::parse(message, ec);
  if (ec || !v.is_object()) return message;
  auto& o = v.as_object();
  auto* result = o.if_contains("result");
  if (!o.contains("id") || !result || !result->is_object() || !result->as_object().contains("content")) return message;
  // The same scan as on the call's stream; the record of the call was written when its stream broke.
  const auto set = set_of(c, s->guardrails.output);
  if (!set) return message;
  const std::string blocked = scan_tool_result(c, set, result->as_object(), ctx.guard);
  if (!blocked.empty()) {
    ctx.guard.blocked = blocked;
    json::object e{{"code", int(kGuardrailBlocked)},
                   {"message", "the result of a tool of '" + server + "' was blocked by guardrail " + blocked},
                   {"data", json::object{{"type", "guardrail_blocked"}}}};
    return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", o["id"]}, {"error", std::move(e)}});
  }
  return json::serialize(o);
}

void ToolCallState::fail(std::string outcome, std::string error) {
  rec_.outcome = std::move(outcome);
  rec_.error = std::move(error);
}

}  // namespace gatehouse::mcp
