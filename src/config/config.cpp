#include "config/config.h"

#include <openssl/sha.h>

namespace gatehouse::config {

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace gatehouse::config
