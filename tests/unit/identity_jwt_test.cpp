// JwtVerifier against keys and tokens made here with OpenSSL: RS256/ES256, the claim checks,
// algorithm confusion, JWKS from a file and from a URL served by a small Beast server.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "identity/jwt.h"

namespace gatehouse::identity {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

// ---- keys, JWKS and signing, with OpenSSL ----

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string b64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  out.resize(std::size_t(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
  std::string out(std::size_t(pad ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), int(out.size()));
  BN_free(bn);
  return out;
}

bool is_rsa(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA"); }

// The public JWK of `key`, with a "kid" unless `kid` is empty.
json::object jwk(EVP_PKEY* key, std::string_view kid) {
  json::object o;
  if (is_rsa(key)) {
    o["kty"] = "RSA";
    o["n"] = b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_N));
    o["e"] = b64url(bn_param(key, OSSL_PKEY_PARAM_RSA_E));
  } else {
    o["kty"] = "EC";
    o["crv"] = "P-256";
    o["x"] = b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    o["y"] = b64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  }
  if (!kid.empty()) o["kid"] = kid;
  o["use"] = "sig";
  return o;
}

std::string jwks(std::initializer_list<json::object> keys) {
  json::array a;
  for (const auto& k : keys) a.push_back(k);
  return json::serialize(json::object{{"keys", a}});
}

// A JWS compact token: RS256 with an RSA key, ES256 (r||s) with an EC key.
std::string sign(const json::object& header, const json::object& claims, EVP_PKEY* key) {
  const std::string input = b64url(json::serialize(header)) + "." + b64url(json::serialize(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key, nullptr), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()),
            1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (!is_rsa(key)) {  // DER -> r||s
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + b64url(sig);
}

std::string hs256(const json::object& header, const json::object& claims, std::string_view secret) {
  const std::string input = b64url(json::serialize(header)) + "." + b64url(json::serialize(claims));
  unsigned char mac[32];
  std::size_t len = 0;
  EXPECT_TRUE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                        sizeof mac, &len));
  return input + "." + b64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, std::size_t(n));
  BIO_free(bio);
  return pem;
}

// Generated once: RSA-2048 takes a while.
struct Keys {
  Pkey rsa{EVP_RSA_gen(2048)};
  Pkey ec{EVP_EC_gen("P-256")};
  Pkey ec2{EVP_EC_gen("P-256")};
  static const Keys& get() {
    static Keys keys;
    return keys;
  }
};

// ---- test fixtures ----

const Clock::time_point kNow =
    Clock::time_point(std::chrono::seconds(1'700'000'000));  // 2023-11-14T22:13:20Z
const std::int64_t kNowS = 1'700'000'000;

json::object claims() {
  return {{"iss", "https://idp.example.com"},
          {"aud", "gatehouse"},
          {"sub", "alice"},
          {"exp", kNowS + 600},
          {"iat", kNowS},
          {"groups", json::array{"eng", "ops"}}};
}

json::object header(std::string_view alg, std::string_view kid) {
  json::object h{{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) h["kid"] = kid;
  return h;
}

class TempFile {
 public:
  explicit TempFile(std::string_view text) {
    static std::atomic<int> n{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("gh-jwks-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".json"))
                .string();
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

config::JwtConfig jwt_config() {
  config::JwtConfig c;
  c.enabled = true;
  c.issuer = "https://idp.example.com";
  c.audience = "gatehouse";
  c.leeway = 60s;
  return c;
}

// A verifier whose keys are the usual three (RSA "rsa1", EC "ec1") from a file.
class JwtVerify : public ::testing::Test {
 protected:
  void SetUp() override { load(jwks({jwk(keys.rsa.get(), "rsa1"), jwk(keys.ec.get(), "ec1")})); }

  void load(const std::string& set, config::JwtConfig c = jwt_config()) {
    file_ = std::make_unique<TempFile>(set);
    c.jwks_file = file_->path();
    verifier_ = std::make_unique<JwtVerifier>(c);
    ASSERT_EQ(verifier_->start(), std::nullopt);
  }

  std::variant<Identity, Error> verify(const std::string& token, Clock::time_point now = kNow) {
    return verifier_->verify(token, now);
  }

  // The 401 for `token`, checked for its shape and that it does not echo the token.
  Error refused(const std::string& token, Clock::time_point now = kNow) {
    auto r = verify(token, now);
    EXPECT_TRUE(std::holds_alternative<Error>(r)) << "accepted";
    if (!std::holds_alternative<Error>(r)) return {};
    Error e = std::get<Error>(r);
    EXPECT_EQ(e.status, 401);
    EXPECT_EQ(e.kind, ErrorKind::kUnauthenticated);
    EXPECT_EQ(e.code, "invalid_token");
    EXPECT_FALSE(e.retryable);
    for (std::size_t i = 0; i + 16 <= token.size(); i += 8) {
      EXPECT_EQ(e.message.find(token.substr(i, 16)), std::string::npos) << e.message;
    }
    return e;
  }

  Identity accepted(const std::string& token, Clock::time_point now = kNow) {
    auto r = verify(token, now);
    EXPECT_TRUE(std::holds_alternative<Identity>(r)) << std::get<Error>(r).message;
    return std::holds_alternative<Identity>(r) ? std::get<Identity>(r) : Identity{};
  }

  const Keys& keys = Keys::get();
  std::unique_ptr<TempFile> file_;
  std::unique_ptr<JwtVerifier> verifier_;
};

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

bool ok(const std::variant<Identity, Error>& r) { return std::holds_alternative<Identity>(r); }

TEST_F(JwtVerify, AcceptsRs256AndNamesTheCaller) {
  auto id = accepted(sign(header("RS256", "rsa1"), claims(), keys.rsa.get()));
  EXPECT_EQ(id.user, "alice");
  EXPECT_EQ(id.groups, (std::vector<std::string>{"eng", "ops"}));
  EXPECT_EQ(id.issuer, "https://idp.example.com");
  EXPECT_EQ(id.expires, kNow + 600s);
}

TEST_F(JwtVerify, AcceptsEs256) {
  auto id = accepted(sign(header("ES256", "ec1"), claims(), keys.ec.get()));
  EXPECT_EQ(id.user, "alice");
}

TEST_F(JwtVerify, RefusesAnExpiredTokenSayingWhen) {
  auto c = claims();
  c["exp"] = kNowS - 61;  // past the 60 s leeway
  auto e = refused(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
  EXPECT_HAS(e.message, "expired at 2023-11-14T22:12:19Z");
  EXPECT_HAS(e.message, "now 2023-11-14T22:13:20Z");
  c["exp"] = kNowS - 59;  // within it
  accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
}

TEST_F(JwtVerify, RefusesATokenNotYetValid) {
  auto c = claims();
  c["nbf"] = kNowS + 120;
  auto e = refused(sign(header("ES256", "ec1"), c, keys.ec.get()));
  EXPECT_HAS(e.message, "not valid before 2023-11-14T22:15:20Z");
  c["nbf"] = kNowS + 30;  // within the leeway
  accepted(sign(header("ES256", "ec1"), c, keys.ec.get()));
  c["iat"] = kNowS + 120;
  EXPECT_HAS(refused(sign(header("ES256", "ec1"), c, keys.ec.get())).message,
             "issued in the future");
}

TEST_F(JwtVerify, LeewayComesFromTheConfig) {
  auto c = claims();
  c["exp"] = kNowS - 30;
  const auto token = sign(header("RS256", "rsa1"), c, keys.rsa.get());
  accepted(token);
  auto strict = jwt_config();
  strict.leeway = 0s;
  load(jwks({jwk(keys.rsa.get(), "rsa1")}), strict);
  EXPECT_HAS(refused(token).message, "leeway 0 s");
  c["exp"] = 1'700'000'000.5;  // NumericDate may be fractional
  accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
}

TEST_F(JwtVerify, RequiresExp) {
  auto c = claims();
  c.erase("exp");
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message, "no \"exp\"");
  c["exp"] = "tomorrow";
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message, "malformed");
}

TEST_F(JwtVerify, RefusesAnotherIssuerNamingBoth) {
  auto c = claims();
  c["iss"] = "https://evil.example.com";
  auto e = refused(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
  EXPECT_HAS(e.message, "\"https://evil.example.com\"");
  EXPECT_HAS(e.message, "\"https://idp.example.com\"");
  c["iss"] = "https://idp.example.com/";  // exact match only
  refused(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
}

TEST_F(JwtVerify, AudienceMayBeAStringOrAnArrayAndMustIncludeOurs) {
  auto c = claims();
  c["aud"] = "another-app";
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message,
             "does not include \"gatehouse\"");
  c["aud"] = json::array{"another-app", "third"};
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message,
             "\"another-app\", \"third\"");
  c["aud"] = json::array{"another-app", "gatehouse"};
  accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
  c.erase("aud");
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message, "no \"aud\"");
}

TEST_F(JwtVerify, RefusesAlgNone) {
  const std::string unsigned_token = b64url(json::serialize(header("none", "rsa1"))) + "." +
                                     b64url(json::serialize(claims())) + ".";
  EXPECT_TRUE(looks_like_jwt(unsigned_token));
  auto e = refused(unsigned_token);
  EXPECT_HAS(e.message, "\"none\" is refused");
  // A real signature does not make "none" acceptable either.
  auto signed_none = sign(header("none", "rsa1"), claims(), keys.rsa.get());
  refused(signed_none);
}

TEST_F(JwtVerify, RefusesHs256SignedWithThePublicKey) {
  // The classic confusion: the RSA public key (PEM, as published) used as an HMAC secret.
  for (const auto& secret :
       {public_pem(keys.rsa.get()), json::serialize(jwk(keys.rsa.get(), "rsa1"))}) {
    auto e = refused(hs256(header("HS256", "rsa1"), claims(), secret));
    EXPECT_HAS(e.message, "\"HS256\" is refused");
  }
  refused(hs256(header("HS512", ""), claims(), "secret"));
  refused(sign(header("RS512", "rsa1"), claims(), keys.rsa.get()));
  refused(sign(header("PS256", "rsa1"), claims(), keys.rsa.get()));
}

TEST_F(JwtVerify, AKeyOnlyVerifiesItsOwnAlgorithm) {
  // RS256 naming the EC key's kid, and ES256 naming the RSA key's.
  auto e = refused(sign(header("RS256", "ec1"), claims(), keys.rsa.get()));
  EXPECT_HAS(e.message, "is an EC P-256 key; it cannot verify an RS256 token");
  e = refused(sign(header("ES256", "rsa1"), claims(), keys.ec.get()));
  EXPECT_HAS(e.message, "is an RSA key");
  // A JWK whose "alg" disagrees with its type is not loaded as a key for the other algorithm.
  auto mislabeled = jwk(keys.rsa.get(), "rsa2");
  mislabeled["alg"] = "ES256";
  load(jwks({jwk(keys.ec.get(), "ec1"), mislabeled}));
  EXPECT_HAS(refused(sign(header("RS256", "rsa2"), claims(), keys.rsa.get())).message,
             "not one of");
}

TEST_F(JwtVerify, RefusesAnUnknownKid) {
  auto e = refused(sign(header("RS256", "rsa-next"), claims(), keys.rsa.get()));
  EXPECT_HAS(e.message, "key id \"rsa-next\" is not one of the identity provider's signing keys");
}

TEST_F(JwtVerify, RefusesTamperedTokens) {
  const auto token = sign(header("RS256", "rsa1"), claims(), keys.rsa.get());
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  auto c = claims();
  c["sub"] = "mallory";
  const auto swapped = token.substr(0, dot1 + 1) + b64url(json::serialize(c)) + token.substr(dot2);
  EXPECT_HAS(refused(swapped).message, "signature does not verify");
  auto flipped = token;
  flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
  EXPECT_HAS(refused(flipped).message, "signature does not verify");
  const auto ec_token = sign(header("ES256", "ec1"), claims(), keys.ec.get());
  EXPECT_HAS(refused(ec_token.substr(0, ec_token.rfind('.') + 1) + b64url(std::string(64, '\x01')))
                 .message,
             "signature does not verify");
  EXPECT_HAS(refused(token.substr(0, dot2)).message, "malformed");
  EXPECT_HAS(refused(token + ".x").message, "malformed");
  EXPECT_HAS(refused(token.substr(0, dot2 + 1) + "!!").message, "malformed");
  EXPECT_HAS(refused("e30." + token.substr(dot1 + 1)).message, "no \"alg\"");
}

TEST_F(JwtVerify, GroupsMayBeAnArrayOrOneString) {
  auto c = claims();
  c["groups"] = "eng";
  EXPECT_EQ(accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get())).groups,
            std::vector<std::string>{"eng"});
  c["groups"] = json::array{"a", 7, "b"};
  EXPECT_EQ(accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get())).groups,
            (std::vector<std::string>{"a", "b"}));
  c.erase("groups");
  EXPECT_TRUE(accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get())).groups.empty());
}

TEST_F(JwtVerify, UserAndGroupsClaimsComeFromTheConfig) {
  auto cfg = jwt_config();
  cfg.user_claim = "email";
  cfg.groups_claim = "roles";
  load(jwks({jwk(keys.rsa.get(), "rsa1")}), cfg);
  auto c = claims();
  c["email"] = "alice@example.com";
  c["roles"] = json::array{"admin"};
  auto id = accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get()));
  EXPECT_EQ(id.user, "alice@example.com");
  EXPECT_EQ(id.groups, std::vector<std::string>{"admin"});
  c["email"] = 12345;  // numbers are rendered as text
  EXPECT_EQ(accepted(sign(header("RS256", "rsa1"), c, keys.rsa.get())).user, "12345");
  c.erase("email");
  EXPECT_HAS(refused(sign(header("RS256", "rsa1"), c, keys.rsa.get())).message,
             "no \"email\" claim");
}

TEST_F(JwtVerify, AKeyWithoutKidServesTokensWithoutKid) {
  load(jwks({jwk(keys.rsa.get(), ""), jwk(keys.ec.get(), "")}));
  accepted(sign(header("RS256", ""), claims(), keys.rsa.get()));
  accepted(sign(header("ES256", ""), claims(), keys.ec.get()));
  load(jwks({jwk(keys.ec.get(), ""), jwk(keys.ec2.get(), "")}));  // two of a kind: ambiguous
  EXPECT_HAS(refused(sign(header("ES256", ""), claims(), keys.ec.get())).message,
             "cannot tell which");
}

TEST_F(JwtVerify, ManyThreadsShareOneVerifier) {
  const auto rs = sign(header("RS256", "rsa1"), claims(), keys.rsa.get());
  const auto es = sign(header("ES256", "ec1"), claims(), keys.ec.get());
  std::atomic<int> accepted_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) accepted_count += ok(verifier_->verify(i % 2 ? rs : es, kNow));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted_count.load(), 200);
}

TEST(JwtShape, LooksLikeJwtIsCheapAndStrict) {
  const auto token = sign(header("RS256", "rsa1"), claims(), Keys::get().rsa.get());
  EXPECT_TRUE(looks_like_jwt(token));
  EXPECT_FALSE(looks_like_jwt("gh-4f9a8b7c6d5e"));
  EXPECT_FALSE(looks_like_jwt(""));
  EXPECT_FALSE(looks_like_jwt("a.b.c"));
  EXPECT_FALSE(looks_like_jwt(b64url("{\"typ\":\"JWT\"}") + ".e30.sig"));  // no alg
  EXPECT_FALSE(looks_like_jwt(b64url("[1]") + ".e30.sig"));
  EXPECT_FALSE(looks_like_jwt(token + "."));
  EXPECT_FALSE(looks_like_jwt("sk-abc.def.ghi jkl"));
}

TEST(JwtVerifierNoKeys, AnswersUnavailableUntilKeysAreLoaded) {
  JwtVerifier v(jwt_config());
  auto r = v.verify(sign(header("RS256", "rsa1"), claims(), Keys::get().rsa.get()), kNow);
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  const auto& e = std::get<Error>(r);
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(e.retryable);
  EXPECT_HAS(e.message, "signing keys are not loaded yet");
}

// ---- JWKS from a file ----

TEST(JwksFile, SkipsKeysNotForSignatures) {
  const auto& keys = Keys::get();
  auto enc = jwk(keys.ec2.get(), "enc1");
  enc["use"] = "enc";
  json::object oct{{"kty", "oct"}, {"k", b64url("secret")}, {"kid", "hmac"}};
  TempFile file(jwks({jwk(keys.rsa.get(), "rsa1"), enc, oct}));
  auto c = jwt_config();
  c.jwks_file = file.path();
  JwtVerifier v(c);
  ASSERT_EQ(v.start(), std::nullopt);
  EXPECT_TRUE(std::holds_alternative<Identity>(
      v.verify(sign(header("RS256", "rsa1"), claims(), keys.rsa.get()), kNow)));
  auto r = v.verify(sign(header("ES256", "enc1"), claims(), keys.ec2.get()), kNow);
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  EXPECT_HAS(std::get<Error>(r).message, "not one of");
  r = v.verify(hs256(header("HS256", "hmac"), claims(), "secret"), kNow);
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  EXPECT_EQ(std::get<Error>(r).status, 401);
  EXPECT_EQ(v.jwks_fetches(), 0u);
}

TEST(JwksFile, StartSaysWhatIsWrongWithTheFile) {
  auto start = [](const std::string& path) {
    auto c = jwt_config();
    c.jwks_file = path;
    JwtVerifier v(c);
    return v.start().value_or("");
  };
  EXPECT_HAS(start("/nonexistent/jwks.json"), "cannot read /nonexistent/jwks.json");
  TempFile garbage("not json");
  EXPECT_HAS(start(garbage.path()), "not JSON");
  TempFile no_keys("{\"issuer\":\"x\"}");
  EXPECT_HAS(start(no_keys.path()), "no \"keys\" array");
  TempFile unusable("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}");
  EXPECT_HAS(start(unusable.path()), "no usable signing key");
  Pkey small(EVP_RSA_gen(1024));
  TempFile weak(jwks({jwk(small.get(), "weak")}));
  EXPECT_HAS(start(weak.path()), "no usable signing key");
}

// ---- JWKS from a URL ----

// Serves a JWKS document on loopback (an ephemeral port) and counts the requests.
class JwksServer {
 public:
  JwksServer() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~JwksServer() {
    ioc_.stop();
    thread_.join();
  }
  void set(unsigned status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  int requests() const { return requests_.load(); }
  std::string url(std::string_view scheme = "http") const {
    return std::string(scheme) +
           "://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           "/.well-known/jwks.json";
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    auto [ec, n] =
        co_await beast::http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beast::http::response<beast::http::string_body> res;
    {
      std::lock_guard lock(mu_);
      res.result(status_);
      res.body() = body_;
    }
    ++requests_;
    res.set(beast::http::field::content_type, "application/json");
    res.keep_alive(false);
    res.prepare_payload();
    co_await beast::http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::mutex mu_;
  unsigned status_ = 200;
  std::string body_;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = 3s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(JwksUrl, FetchesAtStartRefetchesOnceForUnknownKidsAndPicksUpARotatedKey) {
  const auto& keys = Keys::get();
  JwksServer server;
  server.set(200, jwks({jwk(keys.rsa.get(), "rsa1")}));
  auto c = jwt_config();
  c.jwks_url = server.url();
  JwtVerifier v(c);
  ASSERT_EQ(v.start(), std::nullopt);
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() == 1; }));
  EXPECT_EQ(server.requests(), 1);
  EXPECT_TRUE(ok(v.verify(sign(header("RS256", "rsa1"), claims(), keys.rsa.get()), kNow)));

  // The provider rotates a key in; the gateway has not seen it yet.
  server.set(200, jwks({jwk(keys.rsa.get(), "rsa1"), jwk(keys.ec2.get(), "ec-next")}));
  const auto rotated = sign(header("ES256", "ec-next"), claims(), keys.ec2.get());
  auto r = v.verify(rotated, kNow);
  ASSERT_FALSE(ok(r));
  EXPECT_HAS(std::get<Error>(r).message, "not one of");
  EXPECT_FALSE(ok(v.verify(sign(header("ES256", "made-up"), claims(), keys.ec.get()), kNow)));
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() == 2; }));
  EXPECT_TRUE(ok(v.verify(rotated, kNow)));
  // Still unknown kids within 30 s of the early fetch: no more fetches.
  EXPECT_FALSE(ok(v.verify(sign(header("ES256", "made-up-2"), claims(), keys.ec.get()), kNow)));
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(v.jwks_fetches(), 2u);
  EXPECT_EQ(server.requests(), 2);
}

TEST(JwksUrl, AnswersUnavailableUntilTheFirstFetchSucceeds) {
  const auto& keys = Keys::get();
  JwksServer server;
  server.set(500, "{\"error\":\"down\"}");
  auto c = jwt_config();
  c.jwks_url = server.url();
  c.jwks_refresh = 100ms;  // failed fetches are retried after min(1 s doubling, refresh)
  JwtVerifier v(c);
  ASSERT_EQ(v.start(), std::nullopt);
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() >= 1; }));
  const auto token = sign(header("ES256", "ec1"), claims(), keys.ec.get());
  auto r = v.verify(token, kNow);
  ASSERT_FALSE(ok(r));
  EXPECT_EQ(std::get<Error>(r).status, 503);
  EXPECT_TRUE(std::get<Error>(r).retryable);
  server.set(200, jwks({jwk(keys.ec.get(), "ec1")}));
  EXPECT_TRUE(eventually([&] { return ok(v.verify(token, kNow)); }));
}

TEST(JwksUrl, AFailedRefreshKeepsTheKeys) {
  const auto& keys = Keys::get();
  JwksServer server;
  server.set(200, jwks({jwk(keys.ec.get(), "ec1")}));
  auto c = jwt_config();
  c.jwks_url = server.url();
  c.jwks_refresh = 20ms;
  JwtVerifier v(c);
  ASSERT_EQ(v.start(), std::nullopt);
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() >= 1; }));
  const auto token = sign(header("ES256", "ec1"), claims(), keys.ec.get());
  EXPECT_TRUE(ok(v.verify(token, kNow)));
  server.set(200, "<html>maintenance</html>");
  const auto before = v.jwks_fetches();
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() >= before + 3; }));
  EXPECT_TRUE(ok(v.verify(token, kNow)));
  // A periodic refresh (no unknown kid needed) brings a new set in whole: the old key is gone.
  server.set(200, jwks({jwk(keys.ec2.get(), "ec2")}));
  const auto next = sign(header("ES256", "ec2"), claims(), keys.ec2.get());
  EXPECT_TRUE(eventually([&] { return ok(v.verify(next, kNow)); }));
  EXPECT_FALSE(ok(v.verify(token, kNow)));
}

TEST(JwksUrl, StopsAtOnceWhileAFetchHangs) {
  // A listening socket nobody accepts on: the connection opens, the answer never comes.
  asio::io_context ioc;
  asio::ip::tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto c = jwt_config();
  c.jwks_url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/jwks";
  const auto started = std::chrono::steady_clock::now();
  {
    JwtVerifier v(c);
    ASSERT_EQ(v.start(), std::nullopt);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(v.jwks_fetches(), 0u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

TEST(JwksUrl, HttpsVerifiesTheServerAndABadUrlIsRefused) {
  JwksServer server;  // plain HTTP: a TLS handshake with it fails, so no keys
  server.set(200, jwks({jwk(Keys::get().ec.get(), "ec1")}));
  auto c = jwt_config();
  c.jwks_url = server.url("https");
  JwtVerifier v(c);
  ASSERT_EQ(v.start(), std::nullopt);
  ASSERT_TRUE(eventually([&] { return v.jwks_fetches() >= 1; }));
  EXPECT_EQ(
      std::get<Error>(v.verify(sign(header("ES256", "ec1"), claims(), Keys::get().ec.get()), kNow))
          .status,
      503);
  c.jwks_url = "ftp://idp.example.com/jwks";
  JwtVerifier bad(c);
  EXPECT_TRUE(bad.start().has_value());
}

}  // namespace
}  // namespace gatehouse::identity
