#include "admin/session.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/encoding.h"

namespace gatehouse::admin {

namespace {

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
// The cookie's plaintext starts with this: another format (a later version) is refused, not misread.
constexpr std::string_view kVersion = "v1";

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }
};

std::string sha256_of(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

// 32 hex digits from OpenSSL's CSPRNG: a session id or a CSRF token no one can predict.
std::string secret_hex() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("console sessions: no random bytes");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

// Wipes a plaintext however the function holding it returns.
struct Cleanse {
  std::string& s;
  ~Cleanse() { OPENSSL_cleanse(s.data(), s.size()); }
};

}  // namespace

ConsoleSessions::ConsoleSessions(std::string_view secret) {
  if (secret.empty()) {
    if (RAND_bytes(key_, sizeof key_) != 1) throw std::runtime_error("console sessions: no random bytes");
    return;
  }
  secret_digest_ = sha256_of(secret);
  // The key is a hash of the secret under a label, so the same secret used elsewhere (another
  // product, another purpose) never yields this key.
  std::string k = sha256_of("gatehouse console session key v1\n" + std::string(secret));
  std::memcpy(key_, k.data(), sizeof key_);
}

bool ConsoleSessions::made_from(std::string_view secret) const {
  return secret.empty() ? secret_digest_.empty() : secret_digest_ == sha256_of(secret);
}

ConsoleSession ConsoleSessions::start(std::string credential, std::int64_t expires_at) const {
  return ConsoleSession{secret_hex(), std::move(credential), secret_hex(), expires_at};
}

std::string ConsoleSessions::seal(const ConsoleSession& s) const {
  std::string plain = std::string(kVersion) + "\n" + std::to_string(s.expires_at) + "\n" + s.id + "\n" + s.csrf +
                      "\n" + s.credential;
  unsigned char nonce[kNonce];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("console sessions: no random bytes");
  std::string out(kNonce + plain.size() + kTag, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(o, nonce, kNonce);
  CipherCtx c;
  int len = 0;
  if (!c.p || EVP_EncryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, key_, nonce) != 1 ||
      EVP_EncryptUpdate(c.p, o + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(c.p, o + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_GET_TAG, kTag, o + kNonce + plain.size()) != 1) {
    throw std::runtime_error("console sessions: sealing failed");
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return base64url_encode(out);
}

std::optional<ConsoleSession> ConsoleSessions::open(std::string_view cookie, std::int64_t now) const {
  if (cookie.empty() || cookie.size() > 16384) return std::nullopt;
  auto raw = base64url_decode(cookie);
  if (!raw || raw->size() < kNonce + kTag + 1) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
  const std::size_t n = raw->size() - kNonce - kTag;
  std::string plain(n, '\0');
  Cleanse wipe{plain};
  CipherCtx c;
  int len = 0;
  if (!c.p || EVP_DecryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, key_, in) != 1 ||
      EVP_DecryptUpdate(c.p, reinterpret_cast<unsigned char*>(plain.data()), &len, in + kNonce,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_TAG, kTag, const_cast<unsigned char*>(in + kNonce + n)) != 1 ||
      EVP_DecryptFinal_ex(c.p, reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return std::nullopt;  // another key, or altered
  }
  // v1 \n expires \n id \n csrf \n credential
  std::string_view rest = plain;
  std::string_view parts[4];
  for (auto& p : parts) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    p = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
  }
  if (parts[0] != kVersion) return std::nullopt;
  ConsoleSession s;
  auto [ptr, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), s.expires_at);
  if (ec != std::errc() || ptr != parts[1].data() + parts[1].size() || s.expires_at <= now) return std::nullopt;
  s.id = parts[2];
  s.csrf = parts[3];
  s.credential = rest;
  std::lock_guard lock(mutex_);
  if (ended_.contains(s.id)) return std::nullopt;
  return s;
}

void ConsoleSessions::end(const ConsoleSession& s, std::int64_t now) {
  std::lock_guard lock(mutex_);
  // What has expired is refused anyway: the list holds only sessions that would still be open.
  std::erase_if(ended_, [now](const auto& e) { return e.second <= now; });
  ended_[s.id] = s.expires_at;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view v = pair.substr(eq + 1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      return v;
    }
  }
  return {};
}

}  // namespace gatehouse::admin
