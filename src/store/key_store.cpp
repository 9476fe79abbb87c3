#include "store/key_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace gatehouse::store {

namespace {
constexpr std::string_view kSecretPrefix = "gh_";
constexpr std::size_t kShownPrefixLength = 8;
}  // namespace

std::string new_secret() {
  std::array<unsigned char, 32> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("the random number generator failed (OpenSSL RAND_bytes)");
  }
  // base64 of 32 bytes is 43 characters and one '='; base64url swaps "+/" for "-_" and drops it.
  std::array<unsigned char, 45> b64{};
  int n = EVP_EncodeBlock(b64.data(), bytes.data(), static_cast<int>(bytes.size()));
  std::string secret(kSecretPrefix);
  for (int i = 0; i < n && b64[i] != '='; ++i) {
    char c = static_cast<char>(b64[i]);
    secret += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return secret;
}

std::string secret_prefix(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  return std::string(secret.substr(0, kShownPrefixLength));
}

}  // namespace gatehouse::store
