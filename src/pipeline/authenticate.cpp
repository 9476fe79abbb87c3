#include "pipeline/authenticate.h"

#include <openssl/crypto.h>

#include <cctype>

namespace gatehouse::pipeline {

namespace {
std::string digest_key(const config::Sha256& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}
}  // namespace

AuthenticateStage::AuthenticateStage(const std::vector<config::KeyConfig>& keys) {
  for (const auto& k : keys) by_digest_.emplace(digest_key(k.sha256), Entry{k.sha256, k.name});
}

std::string_view AuthenticateStage::bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return {};
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return rest;
}

Decision AuthenticateStage::on_request(RequestContext& ctx) const {
  const bool anthropic = ctx.shape == ApiShape::kAnthropic;
  std::string_view key;
  if (!ctx.authorization.empty()) {
    key = bearer_token(ctx.authorization);
    if (key.empty()) {
      return Error::unauthenticated(
          "the Authorization header must be 'Bearer <key>' with your Gatehouse key");
    }
  } else if (!ctx.api_key.empty()) {
    key = ctx.api_key;  // Anthropic clients send x-api-key
  } else {
    return Error::unauthenticated(
        anthropic ? "no API key: send your Gatehouse key as 'x-api-key: <key>' or 'Authorization: Bearer <key>'"
                  : "no API key: send your Gatehouse key as 'Authorization: Bearer <key>'");
  }
  config::Sha256 digest = config::sha256(key);
  auto it = by_digest_.find(digest_key(digest));
  if (it == by_digest_.end() ||
      CRYPTO_memcmp(it->second.digest.data(), digest.data(), digest.size()) != 0) {
    // Never echo the key, not even a prefix: it may be a real credential pasted by mistake.
    return Error::unauthenticated("invalid API key: check the Gatehouse key you were given");
  }
  ctx.key_name = it->second.name;
  return std::nullopt;
}

}  // namespace gatehouse::pipeline
