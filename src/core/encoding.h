// base64url (RFC 4648 §5, unpadded) — JWS segments, gateway key secrets, MCP session ids — and
// shell-style globs over names (roles' models and tools, virtual servers, approvals).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse {

std::string base64url_encode(std::string_view bytes);
// Nullopt for any character outside the alphabet, padding included, or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

// fnmatch(3) without flags: '*' any run (slashes included), '?' one character, [...] a class.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace gatehouse
