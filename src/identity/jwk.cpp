#include "identity/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace gatehouse::identity {

namespace json = boost::json;

namespace {

struct Free {
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

constexpr int kMinRsaBits = 2048;
constexpr std::size_t kP256FieldBytes = 32;

// A JWK member that must be a base64url string; nullopt when absent, mistyped or not base64url.
std::optional<std::string> b64_member(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  return base64url_decode(v->get_string());
}

std::string_view string_member(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// Builds the RSA public key of a JWK, or says why not.
std::shared_ptr<EVP_PKEY> rsa_key(const json::object& jwk, std::string& why) {
  auto n = b64_member(jwk, "n");
  auto e = b64_member(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) {
    why = "its \"n\" or \"e\" is missing or not base64url";
    return nullptr;
  }
  Owned<BIGNUM> bn_n(BN_bin2bn(bytes(*n), int(n->size()), nullptr));
  Owned<BIGNUM> bn_e(BN_bin2bn(bytes(*e), int(e->size()), nullptr));
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    why = "OpenSSL could not hold its parameters";
    return nullptr;
  }
  auto key = from_params("RSA", bld.get());
  if (!key) {
    why = "OpenSSL refused its modulus and exponent";
    return nullptr;
  }
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    why = "its modulus has " + std::to_string(EVP_PKEY_get_bits(key.get())) + " bits; at least " +
          std::to_string(kMinRsaBits) + " are required";
    return nullptr;
  }
  return key;
}

// Builds the EC P-256 public key of a JWK (the point must lie on the curve), or says why not.
std::shared_ptr<EVP_PKEY> p256_key(const json::object& jwk, std::string& why) {
  auto x = b64_member(jwk, "x");
  auto y = b64_member(jwk, "y");
  if (!x || !y || x->size() > kP256FieldBytes || y->size() > kP256FieldBytes) {
    why = "its \"x\" or \"y\" is missing, not base64url, or longer than 32 bytes";
    return nullptr;
  }
  // SEC 1 uncompressed point: 0x04 || X || Y, each coordinate left-padded to the field size.
  std::string point(1 + 2 * kP256FieldBytes, '\0');
  point[0] = 0x04;
  point.replace(1 + kP256FieldBytes - x->size(), x->size(), *x);
  point.replace(1 + 2 * kP256FieldBytes - y->size(), y->size(), *y);
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    why = "OpenSSL could not hold its parameters";
    return nullptr;
  }
  auto key = from_params("EC", bld.get());
  Owned<EVP_PKEY_CTX> check(key ? EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr)
                                : nullptr);
  if (!key || !check || EVP_PKEY_public_check(check.get()) != 1) {
    why = "its point is not on the P-256 curve";
    return nullptr;
  }
  return key;
}

// The key a JWK describes, when it is a verification key the gateway may use; otherwise null
// with the reason in `why`.
std::optional<Jwk> read_jwk(const json::object& o, std::string& why) {
  std::string_view use = string_member(o, "use");
  if (o.contains("use") && use != "sig") {
    why = "its \"use\" is not \"sig\"";
    return std::nullopt;
  }
  if (const json::value* ops = o.if_contains("key_ops")) {
    bool verify = false;
    if (ops->is_array()) {
      for (const auto& op : ops->get_array())
        verify = verify || (op.is_string() && op.get_string() == "verify");
    }
    if (!verify) {
      why = "its \"key_ops\" do not include \"verify\"";
      return std::nullopt;
    }
  }
  std::string_view kty = string_member(o, "kty");
  std::string_view alg = string_member(o, "alg");
  Jwk jwk;
  jwk.kid = std::string(string_member(o, "kid"));
  if (kty == "RSA") {
    if (o.contains("alg") && alg != "RS256") {
      why = "its \"alg\" is not RS256";
      return std::nullopt;
    }
    jwk.alg = Alg::kRS256;
    jwk.key = rsa_key(o, why);
  } else if (kty == "EC") {
    if (string_member(o, "crv") != "P-256") {
      why = "its curve is not P-256";
      return std::nullopt;
    }
    if (o.contains("alg") && alg != "ES256") {
      why = "its \"alg\" is not ES256";
      return std::nullopt;
    }
    jwk.alg = Alg::kES256;
    jwk.key = p256_key(o, why);
  } else {
    why = "its \"kty\" is not RSA or EC";
    return std::nullopt;
  }
  if (!jwk.key) return std::nullopt;
  return jwk;
}

}  // namespace

std::string_view to_string(Alg alg) { return alg == Alg::kRS256 ? "RS256" : "ES256"; }

std::string_view key_type_name(Alg alg) { return alg == Alg::kRS256 ? "RSA" : "EC P-256"; }


ParsedKeySet parse_jwks(std::string_view text, std::string source) {
  ParsedKeySet out;
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) {
    out.error = "not JSON (" + ec.message() + ")";
    return out;
  }
  const json::value* keys = doc.is_object() ? doc.get_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) {
    out.error = "not a JWKS document: no \"keys\" array";
    return out;
  }
  auto set = std::make_shared<KeySet>();
  set->source = std::move(source);
  std::size_t index = 0;
  for (const json::value& k : keys->get_array()) {
    std::string why = "it is not an object";
    std::optional<Jwk> jwk = k.is_object() ? read_jwk(k.get_object(), why) : std::nullopt;
    if (jwk) {
      set->keys.push_back(std::move(*jwk));
    } else {
      std::string_view kid =
          k.is_object() ? string_member(k.get_object(), "kid") : std::string_view();
      out.skipped.push_back(
          "key " + (kid.empty() ? "#" + std::to_string(index) : "\"" + std::string(kid) + "\"") +
          " ignored: " + why);
    }
    ++index;
  }
  if (set->keys.empty()) {
    out.error = "no usable signing key (RS256 with RSA >= 2048 bits, or ES256 with EC P-256)";
    return out;
  }
  out.set = std::move(set);
  return out;
}

bool verify_signature(const Jwk& jwk, std::string_view signing_input, std::string_view signature) {
  std::string der;
  if (jwk.alg == Alg::kES256) {
    // JWS carries ECDSA as r||s, 32 bytes each (RFC 7518 §3.4); OpenSSL verifies DER.
    if (signature.size() != 2 * kP256FieldBytes) return false;
    Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes(signature), int(kP256FieldBytes), nullptr);
    BIGNUM* s = BN_bin2bn(bytes(signature) + kP256FieldBytes, int(kP256FieldBytes), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) return false;
    der.resize(std::size_t(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &p) != len) return false;
    signature = der;
  }
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, jwk.key.get(),
                                 nullptr) == 1 &&
         EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(signing_input),
                          signing_input.size()) == 1;
}

}  // namespace gatehouse::identity
