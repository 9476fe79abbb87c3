// Internal to gh_identity: base64url, JSON Web Key Sets (RFC 7517) turned into OpenSSL public
// keys, and the two signature checks the verifier accepts (RS256, ES256). No I/O here.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/encoding.h"

namespace gatehouse::identity {

// The only algorithms a token may be signed with. Each is bound to one key type: RS256 to RSA
// keys, ES256 to EC P-256 keys, so a key can never be used with an algorithm it was not made for.
enum class Alg { kRS256, kES256 };

std::string_view to_string(Alg alg);
// "RSA" or "EC P-256": what a message calls the key type `alg` needs.
std::string_view key_type_name(Alg alg);

// Unpadded base64url (JWS compact form): core/encoding.h's.
using gatehouse::base64url_decode;

struct Jwk {
  std::string kid;  // empty when the key has none
  Alg alg = Alg::kRS256;
  std::shared_ptr<EVP_PKEY> key;  // immutable once built; safe to verify with from many threads
};

// The keys one JWKS document gave. Immutable once built; the verifier swaps whole sets.
struct KeySet {
  std::vector<Jwk> keys;
  std::string source;  // where it came from (file path or URL without query), for logs
};

struct ParsedKeySet {
  std::shared_ptr<const KeySet> set;  // null when the document itself is unusable
  std::string error;                  // why `set` is null
  std::vector<std::string> skipped;   // one line per key that was ignored, and why
};

// Parses a JWKS document ({"keys":[...]}). Keys with "use" other than "sig", with "key_ops"
// lacking "verify", of another type (oct, OKP), curve or "alg", and RSA keys under 2048 bits
// are skipped (listed in `skipped`). A document with no usable key is an error.
ParsedKeySet parse_jwks(std::string_view json, std::string source);

// True when `signature` (raw JWS bytes: PKCS#1 v1.5 for RS256, r||s for ES256) is `key`'s
// signature of `signing_input` with SHA-256.
bool verify_signature(const Jwk& key, std::string_view signing_input, std::string_view signature);

}  // namespace gatehouse::identity
