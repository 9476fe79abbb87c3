#include "store/key_store.h"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "core/encoding.h"

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
  // 32 bytes are 43 base64url characters.
  return std::string(kSecretPrefix) +
         base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string secret_prefix(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  return std::string(secret.substr(0, kShownPrefixLength));
}

}  // namespace gatehouse::store
