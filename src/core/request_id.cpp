#include "core/request_id.h"

#include <cstdint>
#include <random>

namespace gatehouse {

std::string random_hex(std::size_t digits) {
  // One generator per thread, seeded from the OS: no lock on the request path.
  // (Ids, not secrets: the console's session ids and CSRF tokens come from OpenSSL's RAND_bytes.)
  thread_local std::mt19937_64 rng = [] {
    std::random_device os;
    std::seed_seq seed{os(), os(), os(), os(), os(), os(), os(), os()};
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (i % 16 == 0) bits = rng();
    out[i] = kHex[bits & 0xF];
    bits >>= 4;
  }
  return out;
}

std::string new_request_id() { return "req_" + random_hex(24); }

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
