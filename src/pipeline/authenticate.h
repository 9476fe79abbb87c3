#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// Identifies the caller by a gateway key sent as "Authorization: Bearer <key>". Only SHA-256
// digests are held; the check is in memory (no I/O per request). The digest of the presented
// key is looked up in a hash map (its timing can only reveal digest bits, which do not help
// find a key) and confirmed with a constant-time comparison.
class AuthenticateStage final : public Stage {
 public:
  explicit AuthenticateStage(const std::vector<config::KeyConfig>& keys);
  std::string_view name() const override { return "authenticate"; }
  Decision on_request(RequestContext& ctx) const override;

  // The key inside an Authorization header value ("Bearer <key>", scheme case-insensitive),
  // or empty.
  static std::string_view bearer_token(std::string_view authorization);

 private:
  struct Entry {
    config::Sha256 digest;
    std::string name;
  };
  std::unordered_map<std::string, Entry> by_digest_;
};

}  // namespace gatehouse::pipeline
