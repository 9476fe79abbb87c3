// Everything one request carries through the stages: who asked, for what, and what happened.
// Stages keep no per-request state of their own; it lives here.
#pragma once

#include <chrono>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"

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
  const config::ModelConfig* model_config = nullptr;  // set once routed
  std::string provider;
  bool stream = false;

  // Set as the request ends; read by on_complete.
  int status = 0;
  std::string error_code;  // empty on success
  std::chrono::microseconds upstream_time{0};  // time the gateway waited for the upstream
  bool client_gone = false;
};

}  // namespace gatehouse::pipeline
