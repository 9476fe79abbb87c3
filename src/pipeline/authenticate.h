#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include <memory>

#include "pipeline/stage.h"

namespace gatehouse::identity {
class JwtVerifier;
}
namespace gatehouse::store {
class KeyWatcher;
}

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
  // `jwt` (null without auth.jwt) verifies tokens; `stored_keys` (null without a store) holds the
  // store's keys.
  AuthenticateStage(const config::Config& config, std::shared_ptr<const identity::JwtVerifier> jwt,
                    std::shared_ptr<const store::KeyWatcher> stored_keys);
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
  std::shared_ptr<const identity::JwtVerifier> jwt_;
  std::shared_ptr<const store::KeyWatcher> stored_keys_;
  std::unordered_map<std::string, Entry> by_digest_;
};

}  // namespace gatehouse::pipeline
