#include "config/config.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace gatehouse::config {

Sha256 sha256(std::string_view data) {
  // OpenSSL 3's one-shot SHA256() looks the algorithm up in its provider registry on every call
  // (~6k instructions, measured); fetch it once and reuse one digest context per thread.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free};
  Sha256 out{};
  unsigned int len = 0;
  if (md == nullptr || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("OpenSSL SHA-256 is unavailable");
  }
  return out;
}

std::string_view to_string(DataClass c) {
  switch (c) {
    case DataClass::kPublic: return "public";
    case DataClass::kInternal: return "internal";
    case DataClass::kConfidential: return "confidential";
    case DataClass::kRestricted: return "restricted";
  }
  return "unknown";
}

std::optional<DataClass> parse_data_class(std::string_view s) {
  for (auto c : {DataClass::kPublic, DataClass::kInternal, DataClass::kConfidential, DataClass::kRestricted}) {
    if (s == to_string(c)) return c;
  }
  return std::nullopt;
}

std::string_view to_string(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::kOpenAICompatible: return "openai-compatible";
    case ProviderKind::kAnthropic: return "anthropic";
    case ProviderKind::kDatabricks: return "databricks";
  }
  return "unknown";
}

}  // namespace gatehouse::config
