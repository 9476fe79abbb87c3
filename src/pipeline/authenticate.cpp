#include "pipeline/authenticate.h"

#include <openssl/crypto.h>

#include <cctype>
#include <chrono>

#include "identity/jwt.h"
#include "store/key_rules.h"
#include "store/key_watcher.h"

namespace gatehouse::pipeline {

namespace {
std::string digest_key(const config::Sha256& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}
}  // namespace

AuthenticateStage::AuthenticateStage(const config::Config& config, std::shared_ptr<const identity::JwtVerifier> jwt,
                                     std::shared_ptr<const store::KeyWatcher> stored_keys)
    : config_(config), jwt_(std::move(jwt)), stored_keys_(std::move(stored_keys)) {
  for (const auto& k : config.keys) by_digest_.emplace(digest_key(k.sha256), Entry{k.sha256, &k});
}

void AuthenticateStage::assign_role(RequestContext& ctx, const std::string& role) const {
  if (role.empty()) return;
  auto it = config_.roles.find(role);
  if (it == config_.roles.end()) return;  // a stored key whose role was since removed: none
  for (const auto* r : ctx.identity.roles) {
    if (r == &it->second) return;
  }
  ctx.identity.roles.push_back(&it->second);
  ctx.identity.role_names += (ctx.identity.role_names.empty() ? "" : ", ") + role;
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
  const bool anthropic = ctx.ingress.shape == ApiShape::kAnthropic;
  std::string_view key;
  if (!ctx.ingress.authorization.empty()) {
    key = bearer_token(ctx.ingress.authorization);
    if (key.empty()) {
      return Error::unauthenticated(
          "the Authorization header must be 'Bearer <key>' with your Gatehouse key");
    }
  } else if (!ctx.ingress.api_key.empty()) {
    key = ctx.ingress.api_key;  // Anthropic clients send x-api-key
  } else {
    return Error::unauthenticated(
        anthropic ? "no API key: send your Gatehouse key as 'x-api-key: <key>' or 'Authorization: Bearer <key>'"
                  : "no API key: send your Gatehouse key as 'Authorization: Bearer <key>'");
  }
  ctx.identity.bearer = key;

  if (jwt_ && identity::looks_like_jwt(key)) {
    auto verified = jwt_->verify(key);
    if (auto* e = std::get_if<Error>(&verified)) return std::move(*e);
    auto& id = std::get<identity::Identity>(verified);
    ctx.identity.jwt = true;
    ctx.identity.user = std::move(id.user);
    ctx.identity.groups = std::move(id.groups);
    for (const auto& g : ctx.identity.groups) {
      if (auto it = config_.groups.find(g); it != config_.groups.end()) assign_role(ctx, it->second);
    }
    return std::nullopt;
  }

  config::Sha256 digest = config::sha256(key);
  if (auto it = by_digest_.find(digest_key(digest));
      it != by_digest_.end() &&
      CRYPTO_memcmp(it->second.digest.data(), digest.data(), digest.size()) == 0) {
    ctx.identity.key_name = it->second.key->name;
    ctx.identity.project = it->second.key->project;
    assign_role(ctx, it->second.key->role);
    return std::nullopt;
  }
  if (stored_keys_) {
    auto index = stored_keys_->current();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (const auto* stored = index ? index->find(digest, now) : nullptr) {
      ctx.identity.key_name = stored->name;
      ctx.identity.project = stored->project;
      assign_role(ctx, stored->role);
      return std::nullopt;
    }
    // Only the holder of the key itself learns that it expired (a digest match).
    if (const auto expired = index ? index->expired_at(digest, now) : 0) {
      return Error::unauthenticated("this Gatehouse key expired at " + store::format_utc(expired) +
                                    ": ask whoever issued it for a new one");
    }
  }
  // Never echo the key, not even a prefix: it may be a real credential pasted by mistake.
  return Error::unauthenticated("invalid API key: check the Gatehouse key you were given");
}

}  // namespace gatehouse::pipeline
