// Everything one request carries through the stages: who asked, for what, and what happened.
// Stages keep no per-request state of their own; it lives here.
#pragma once

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

struct RequestContext {
  // Set by the listener/ingress before any stage runs.
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string_view authorization;  // the raw Authorization header; empty when absent
  std::string_view api_key;        // the raw x-api-key header (Anthropic clients); empty when absent
  ApiShape shape = ApiShape::kOpenAI;  // the API shape the client speaks: errors come in it
  const config::Config* config = nullptr;
  std::chrono::steady_clock::time_point started;
  std::int64_t started_unix_ms = 0;  // the same moment on the wall clock (records)
  bool model_request = false;        // chat, embeddings, messages, invocations (a usage row)

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

  // Set as the request ends; read by on_complete.
  int status = 0;
  std::string error_code;  // empty on success
  std::chrono::microseconds upstream_time{0};  // time the gateway waited for the upstream
  std::chrono::microseconds upstream_first_byte{0};  // from sending to the response head (last attempt)
  int attempts = 0;                // upstream attempts made (retries and fallbacks included)
  bool client_gone = false;
  const config::ModelConfig* served_model = nullptr;  // the target that answered (or was tried last)
  bool upstream_answered = false;  // a provider accepted the request (2xx head): it may bill it
  Usage usage;                     // what the provider reported (or the estimate, when it did not)
  double cost_usd = 0;             // from usage and served_model's price
};

}  // namespace gatehouse::pipeline
