#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// Identifies the caller by the credential it presents ("Authorization: Bearer <credential>", or
// "x-api-key" for Anthropic clients):
// * a JWT, when auth.jwt is configured and the credential has a JWT's shape: verified against
//   the identity provider's keys in memory; its groups map to roles (`groups:`);
// * otherwise a gateway key: the keys of the config file, then the store's (a KeyWatcher index
//   refreshed in the background). Only SHA-256 digests are held; the digest of the presented
//   key is looked up in a hash map (its timing can only reveal digest bits, which do not help
//   find a key) and confirmed with a constant-time comparison.
// No I/O per request.
class AuthenticateStage final : public Stage {
 public:
  AuthenticateStage(const config::Config& config, const Services& services);
  std::string_view name() const override { return "authenticate"; }
  Decision on_request(RequestContext& ctx) const override;

  // The key inside an Authorization header value ("Bearer <key>", scheme case-insensitive),
  // or empty.
  static std::string_view bearer_token(std::string_view authorization);

 private:
  struct Entry {
    config::Sha256 digest;
    const config::KeyConfig* key;
  };
  void assign_role(RequestContext& ctx, const std::string& role) const;

  const config::Config& config_;
  Services services_;
  std::unordered_map<std::string, Entry> by_digest_;
};

}  // namespace gatehouse::pipeline
