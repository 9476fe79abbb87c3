// Everything one request carries through the stages: who asked, for what, and what happened.
// Stages keep no per-request state of their own; it lives here.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

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

  // Set by the authenticate stage.
  std::string key_name;

  // Set by the ingress codec and router.
  std::string model;       // as the client named it
  std::string provider;
  bool stream = false;

  // Set as the request ends; read by on_complete.
  int status = 0;
  std::string error_code;  // empty on success
  std::chrono::microseconds upstream_time{0};  // time the gateway waited for the upstream
  bool client_gone = false;
};

}  // namespace gatehouse::pipeline
