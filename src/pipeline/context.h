// Everything one request carries through the stages: who asked, for what, what was tried, what it
// cost, what the records keep. One section per concern, each filled by the code named on it;
// stages keep their own per-request state in their slot (Stage::state<T>), never in themselves.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request.h"
#include "config/config.h"
#include "core/error.h"
#include "core/usage.h"

namespace gatehouse::limit {
struct Ticket;
struct BudgetTicket;
struct PendingAdmission;
class SharedTicket;
}  // namespace gatehouse::limit

namespace gatehouse::pipeline {

class Pipeline;
class StageState;

using Headers = std::vector<std::pair<std::string, std::string>>;

// Set by the gateway before any stage runs: the request as it came.
struct Ingress {
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string_view target;         // path and query, as sent
  std::string_view authorization;  // the raw Authorization header; empty when absent
  std::string_view api_key;        // the raw x-api-key header (Anthropic clients); empty when absent
  std::string_view traceparent;    // the client's W3C traceparent header, if any
  ApiShape shape = ApiShape::kOpenAI;  // the API shape the client speaks: errors come in it
  std::chrono::steady_clock::time_point started;
  std::int64_t started_unix_ms = 0;  // the same moment on the wall clock (records)
};

// Set by the authenticate stage: who is calling.
struct Identity {
  std::string key_name;        // the gateway key's name; empty for a JWT caller
  std::string user;            // a JWT's user claim; empty for a key
  std::vector<std::string> groups;  // a JWT's groups
  std::string project;         // the key's project
  std::vector<const config::RoleConfig*> roles;  // what the caller may do (several via groups)
  std::string role_names;      // for messages: "analyst" or "analyst, ops"
  std::string_view bearer;     // the credential as presented (a JWT is forwarded by passthrough providers)
  bool jwt = false;            // the caller presented a verified JWT
};

// Set by the LLM path as it decodes and routes a model request.
struct ModelRequest {
  bool model_request = false;  // chat, embeddings, messages, invocations (a usage row)
  api::Operation op = api::Operation::kChat;
  std::string model;           // as the client named it
  const config::ModelConfig* model_config = nullptr;  // set once routed (the first target)
  bool stream = false;
  long long max_tokens = -1;   // max_tokens / max_completion_tokens, when given
  // Responses (op kResponses): the request's `store` and `previous_response_id`.
  bool store = true;
  std::string previous_response_id;
  // The request's declared data class (body `data_class` or the x-gatehouse-data-class header).
  std::optional<config::DataClass> data_class;
  std::string end_user, usage_project;  // usage_context.end_user / .project from the body
  // What limits and budgets reserve before the call.
  long long estimated_input_tokens = 0;   // the request's bytes / 4
  long long estimated_output_tokens = 0;  // max_tokens, or a default (docs/limits.md)
  // The body as the client sent it (valid until the request has ended), for the inference log.
  std::string_view client_body;
  // The body that goes on to the providers (the client's without Gatehouse's own fields, or a
  // stage's replacement); `body` views `body_storage` or the client's bytes.
  std::string_view body;
  std::string body_storage;
};

// One upstream attempt, as the records keep it (the inference log's decisions, a span each).
struct AttemptRecord {
  std::string model, provider, upstream_model;
  std::string origin;              // the provider's host:port
  int status = 0;                  // the provider's HTTP status; 0: no answer
  std::string error;               // the failure's code, "" on success
  std::int64_t start_unix_ns = 0, end_unix_ns = 0;
};

// The attempt being made (valid during on_attempt and until the attempt ends).
struct CurrentAttempt {
  int number = 0;              // this attempt's number (1 for the first; AttemptRecord's index + 1)
  const config::ModelConfig* model = nullptr;
  const config::ProviderConfig* provider = nullptr;
  ApiShape provider_shape = ApiShape::kOpenAI;  // the shape the provider speaks
  bool translated = false;     // the client's shape differs: the body was translated
  bool include_usage = false;  // the client asked a stream's usage (stream_options.include_usage)
  std::string_view body;       // what goes upstream (the provider's shape)
  std::string body_storage;    // a stage's replacement of it
  Headers headers;             // extra headers for the upstream request (traceparent)
};

// Set by the LLM path as it tries targets; read by records and accounting.
struct Upstream {
  int attempts = 0;                // upstream attempts made (retries and fallbacks included)
  std::vector<AttemptRecord> attempt_log;
  CurrentAttempt current;
  const config::ModelConfig* served_model = nullptr;  // the target that answered (or was tried last)
  std::string provider;            // its provider's name
  bool upstream_answered = false;  // a provider accepted the request (2xx head): it may bill it
  std::chrono::microseconds upstream_time{0};        // time the gateway waited for the upstream
  std::chrono::microseconds upstream_first_byte{0};  // from sending to the response head (last attempt)
  std::chrono::steady_clock::time_point first_token{};  // a stream's first event relayed to the client
  bool client_gone = false;
};

// Set by the metering, limit and budget stages.
struct Accounting {
  Usage usage;                     // what the provider reported (or the estimate, when it did not)
  double cost_usd = 0;             // from usage and the served model's price
  std::shared_ptr<limit::Ticket> limit_ticket;
  std::shared_ptr<limit::BudgetTicket> budget_ticket;
  // With shared state (state.redis): what the limit and budget stages leave for the LLM path's
  // one admission, and what that admission took (settled after the stages' on_settled).
  std::shared_ptr<limit::PendingAdmission> pending_admission;
  std::shared_ptr<limit::SharedTicket> shared_ticket;
  // What the limit and budget stages decided, for the inference log ("" when they did not run).
  std::string limit_decision, budget_decision;
  std::string refused_by;  // the limit or budget that refused it: "requests", "tokens", "concurrency",
                           // "budget:key", "budget:project"
};

// Set by the records stages (inference log, tracing, metrics).
struct Records {
  bool counted_in_flight = false;  // the metrics stage counted it (on_request ran)
  // This request is logged; its answer is captured (as the client got it: a whole body, or the
  // stream's events) up to capture_limit bytes.
  bool log_inference = false;
  bool capture_payloads = false;
  std::size_t capture_limit = 0;
  std::string response_capture;
  bool capture_truncated = false;
  // W3C trace context of this request's span.
  struct Trace {
    bool sampled = false;
    std::array<std::uint8_t, 16> trace_id{};
    std::array<std::uint8_t, 8> span_id{};         // the request's span
    std::array<std::uint8_t, 8> parent_span_id{};  // the client's span (zero: none)
    std::int64_t start_unix_ns = 0;
  } trace;
};

// Set by the guardrail stages (pipeline/guard.h): what the guardrails did — never the text they
// matched. Read by the records (access log, inference log, metrics, audit, spans).
struct GuardHit {
  const guard::GuardrailSpec* guardrail = nullptr;
  std::string entity;            // EMAIL_ADDRESS, a pattern's name, a secret kind, PROMPT_INJECTION, unsafe
  guard::Action action = guard::Action::kLog;
  bool output = false;           // found in the answer (else in the request)
  int count = 0;                 // matches of this guardrail, entity, action and direction
};
// A model guardrail the LLM path asks before the request goes upstream (its text is what the
// input guardrails left of the request: masks applied).
struct ModelCheck {
  const guard::GuardrailSpec* guardrail = nullptr;
  std::string text;
};
struct Guardrails {
  std::vector<GuardHit> hits;    // one per guardrail, entity, action and direction
  std::string blocked;           // "guardrail/entity" that refused the request or its answer
  bool input_masked = false;     // the request body went on with masks (the inference log keeps that body)
  std::vector<ModelCheck> checks;
  // Counts one match (the first kMaxHits distinct ones are kept).
  void hit(const guard::GuardrailSpec& g, std::string_view entity, guard::Action action, bool output);
  // "pii/EMAIL_ADDRESS:mask:input×2 dlp/databricks-pat:block:input", for logs; "" when none.
  std::string summary() const;
  static constexpr std::size_t kMaxHits = 32;
};

// Set as the request ends; read by on_complete.
struct Outcome {
  int status = 0;
  std::string error_code;  // empty on success
};

struct RequestContext {
  RequestContext();
  ~RequestContext();
  RequestContext(RequestContext&&) noexcept;
  RequestContext& operator=(RequestContext&&) noexcept;

  const config::Config* config = nullptr;
  const Pipeline* pipeline = nullptr;  // the snapshot's

  Ingress ingress;
  Identity identity;
  ModelRequest request;
  Upstream upstream;
  Accounting accounting;
  Records records;
  Guardrails guard;
  Outcome outcome;
  // Headers every answer to this request carries (x-ratelimit-*, x-should-retry, x-gatehouse-*).
  Headers response_headers;

  // Sets (or replaces) one of response_headers.
  void set_response_header(std::string_view name, std::string value);

  // What the records say of the request (access log, usage and inference rows, metrics, spans):
  // who called — the key's name, else the JWT user;
  const std::string& requester() const { return identity.key_name.empty() ? identity.user : identity.key_name; }
  // the target that served it (or was tried last), only once an attempt was made (served_model
  // is set before a target is skipped, as cooling or switched off), and its provider.
  const config::ModelConfig* attempted_model() const {
    return upstream.attempts > 0 ? upstream.served_model : nullptr;
  }
  std::string_view attempted_provider() const {
    return attempted_model() ? std::string_view(upstream.provider) : std::string_view();
  }

  // The most stages a pipeline may hold (Pipeline::add refuses more): each has one slot here,
  // held inline so that a request whose stages keep nothing allocates nothing for them.
  static constexpr std::size_t kMaxStages = 32;
  // A stage's slot (Stage::state): made by the stage on first use.
  std::unique_ptr<StageState>& slot(std::size_t i) { return slots_[i]; }
  StageState* find_slot(std::size_t i) const { return i < kMaxStages ? slots_[i].get() : nullptr; }

 private:
  std::array<std::unique_ptr<StageState>, kMaxStages> slots_{};
};

}  // namespace gatehouse::pipeline
