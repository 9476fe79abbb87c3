#include "core/request_id.h"

#include <cstdint>
#include <random>

namespace gatehouse {

std::string new_request_id() {
  // One generator per thread, seeded from the OS: no lock on the request path.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "req_";
  id.resize(4 + 24);
  std::uint64_t a = rng();
  std::uint64_t b = rng();
  for (int i = 0; i < 16; ++i) id[4 + i] = kHex[(a >> (i * 4)) & 0xF];
  for (int i = 0; i < 8; ++i) id[20 + i] = kHex[(b >> (i * 4)) & 0xF];
  return id;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace gatehouse
