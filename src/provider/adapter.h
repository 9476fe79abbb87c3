// A provider adapter knows one provider's paths, auth and wire format. It is built once per
// config snapshot and shared by every request (and every worker) of that snapshot. Everything
// provider-specific lives in the provider's own file; the gateway only sees this interface.
#pragma once

#include <string>
#include <string_view>

#include "api/request.h"
#include "http/server.h"
#include "http/upstream.h"

namespace gatehouse::provider {

class OAuthTokenSource;

// One upstream attempt, as the adapter needs it.
struct Outgoing {
  // The request in the provider's wire shape; `request`'s model spans refer to `body`.
  const api::CanonicalRequest& request;
  std::string_view body;
  std::string_view upstream_model;
  std::string_view request_id;
  // A bearer token for this attempt — from oauth(), or the caller's own for a passthrough
  // provider; empty for static credentials.
  std::string_view oauth_token;
  // The client's request when it spoke the provider's own shape (headers such as
  // anthropic-beta travel with a native pass-through); null when translated.
  const http::Request* native_client = nullptr;
};

class Adapter {
 public:
  virtual ~Adapter() = default;

  // The API shape the provider speaks (its requests, answers, streams and errors).
  virtual ApiShape shape() const = 0;
  // Where requests go and how long they may take.
  virtual const http::Origin& origin() const = 0;
  virtual http::CallTimeouts timeouts() const = 0;
  // Whether this provider serves the operation (chat, embeddings); a 400 names it otherwise.
  virtual bool supports(api::Operation op) const = 0;
  // The OAuth token source when the credential is fetched (Databricks service principals);
  // null for a static credential.
  virtual OAuthTokenSource* oauth() const { return nullptr; }

  // Fills `out` (method, target, headers, body) for one attempt. Runs on a worker: no I/O.
  virtual void prepare(const Outgoing& call, http::UpstreamRequest& out) const = 0;
};

// Sets what every upstream request carries: method POST, target, HTTP/1.1, Host, the JSON
// content type, Accept for a stream or not, User-Agent, x-request-id, keep-alive.
void prepare_common(const http::Origin& origin, std::string target, bool stream,
                    std::string_view request_id, http::UpstreamRequest& out);

}  // namespace gatehouse::provider
