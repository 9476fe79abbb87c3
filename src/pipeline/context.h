// Everything one request carries through the stages: who asked, for what, and what happened.
// Stages keep no per-request state of their own; it lives here.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "core/usage.h"

namespace gatehouse::limit {
struct Ticket;
struct BudgetTicket;
}  // namespace gatehouse::limit

namespace gatehouse::pipeline {

class Pipeline;

struct RequestContext {
  // Set by the listener/ingress before any stage runs.
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string_view authorization;  // the raw Authorization header; empty when absent
  std::string_view api_key;        // the raw x-api-key header (Anthropic clients); empty when absent
  ApiShape shape = ApiShape::kOpenAI;  // the API shape the client speaks: errors come in it
  const config::Config* config = nullptr;
  const Pipeline* pipeline = nullptr;  // the snapshot's (app::settle runs its on_settled)
  std::chrono::steady_clock::time_point started;
  std::int64_t started_unix_ms = 0;  // the same moment on the wall clock (records)
  bool model_request = false;        // chat, embeddings, messages, invocations (a usage row)
  bool counted_in_flight = false;    // the metrics stage counted it (on_request ran)

  // Set by the authenticate stage: who is calling.
  std::string key_name;        // the gateway key's name; empty for a JWT caller
  std::string user;            // a JWT's user claim; empty for a key
  std::vector<std::string> groups;  // a JWT's groups
  std::string project;         // the key's project
  std::vector<const config::RoleConfig*> roles;  // what the caller may do (several via groups)
  std::string role_names;      // for messages: "analyst" or "analyst, ops"
  std::string_view bearer;     // the credential as presented (a JWT is forwarded by passthrough providers)
  bool jwt = false;            // the caller presented a verified JWT

  // Set by the ingress codec: the request's declared data class (body `data_class` or the
  // x-gatehouse-data-class header), if any.
  std::optional<config::DataClass> data_class;
  long long max_tokens = -1;   // max_tokens / max_completion_tokens, when given

  // Set by the ingress codec and router.
  std::string model;       // as the client named it
  const config::ModelConfig* model_config = nullptr;  // set once routed (the first target)
  std::string provider;
  bool stream = false;
  std::string end_user, usage_project;  // usage_context.end_user / .project from the body

  // Set by the gateway before on_routed: what limits and budgets reserve before the call.
  long long estimated_input_tokens = 0;   // the request's bytes / 4
  long long estimated_output_tokens = 0;  // max_tokens, or a default (docs/limits.md)

  // Set by the limit and budget stages when they admit: settled in their on_complete.
  std::shared_ptr<limit::Ticket> limit_ticket;
  std::shared_ptr<limit::BudgetTicket> budget_ticket;
  // Headers every answer to this request carries (x-ratelimit-*, x-should-retry).
  std::vector<std::pair<std::string, std::string>> response_headers;
  // What the limit and budget stages decided, for the inference log ("" when they did not run).
  std::string limit_decision, budget_decision;
  std::string refused_by;  // the limit or budget that refused it: "requests", "tokens", "concurrency",
                           // "budget:key", "budget:project"

  // The request as it came (valid until the request has ended), for the inference log.
  std::string_view request_body;
  std::string_view traceparent;  // the client's W3C traceparent header, if any
  // Set by the inference log stage: this request is logged; its answer is captured (as the client
  // got it: a whole body, or the stream's events) up to capture_limit bytes.
  bool log_inference = false;
  bool capture_payloads = false;
  std::size_t capture_limit = 0;
  std::string response_capture;
  bool capture_truncated = false;
  // Set by the tracing stage: W3C trace context of this request's span.
  struct Trace {
    bool sampled = false;
    std::array<std::uint8_t, 16> trace_id{};
    std::array<std::uint8_t, 8> span_id{};         // the request's span
    std::array<std::uint8_t, 8> parent_span_id{};  // the client's span (zero: none)
    std::int64_t start_unix_ns = 0;
  } trace;

  // One upstream attempt (records: the inference log's decisions, a trace span per attempt).
  struct AttemptRecord {
    std::string model, provider, upstream_model;
    std::string origin;              // the provider's host:port
    int status = 0;                  // the provider's HTTP status; 0: no answer
    std::string error;               // the failure's code, "" on success
    std::int64_t start_unix_ns = 0, end_unix_ns = 0;
    std::array<std::uint8_t, 8> span_id{};
  };
  std::vector<AttemptRecord> attempt_log;

  // Set as the request ends; read by on_complete.
  int status = 0;
  std::string error_code;  // empty on success
  std::chrono::microseconds upstream_time{0};  // time the gateway waited for the upstream
  std::chrono::microseconds upstream_first_byte{0};  // from sending to the response head (last attempt)
  std::chrono::steady_clock::time_point first_token{};  // a stream's first event relayed to the client
  int attempts = 0;                // upstream attempts made (retries and fallbacks included)
  bool client_gone = false;
  const config::ModelConfig* served_model = nullptr;  // the target that answered (or was tried last)
  bool upstream_answered = false;  // a provider accepted the request (2xx head): it may bill it
  Usage usage;                     // what the provider reported (or the estimate, when it did not)
  double cost_usd = 0;             // from usage and served_model's price

  // What the records say of the request (access log, usage and inference rows, metrics, spans):
  // who called — the key's name, else the JWT user;
  const std::string& requester() const { return key_name.empty() ? user : key_name; }
  // the target that served it (or was tried last), only once an attempt was made (served_model
  // is set before a target is skipped, as cooling or switched off), and its provider.
  const config::ModelConfig* attempted_model() const { return attempts > 0 ? served_model : nullptr; }
  std::string_view attempted_provider() const { return attempted_model() ? std::string_view(provider) : std::string_view(); }
};

}  // namespace gatehouse::pipeline
