// A provider adapter knows one provider's paths, auth and wire format. It is built once per
// config snapshot and shared by every request of that snapshot.
#pragma once

#include <string>

#include "api/openai.h"
#include "http/upstream.h"

namespace gatehouse::provider {

class Adapter {
 public:
  virtual ~Adapter() = default;

  // Where requests go and how long they may take.
  virtual const http::Origin& origin() const = 0;
  virtual http::CallTimeouts timeouts() const = 0;

  // Fills `out` (method, target, headers, body) for one upstream attempt of `request`.
  // `client_body` is the body as the client sent it; the adapter replaces the model with
  // `upstream_model` and the client's credential with the provider's. Runs on a worker: no I/O.
  virtual void prepare(const api::CanonicalRequest& request, std::string_view client_body,
                       std::string_view upstream_model, std::string_view request_id,
                       http::UpstreamRequest& out) const = 0;
};

}  // namespace gatehouse::provider
