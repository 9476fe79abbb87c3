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

namespace gatehouse::config {

std::optional<Price> databricks_list_price(std::string_view endpoint) {
  // Per million tokens, input/output, as the project's reference notes give them; not checked
  // against Databricks' price page (prices differ by cloud and region): a model's own `price:`
  // always wins, and docs/limits.md says so.
  struct Entry {
    std::string_view name;
    double in, out;
  };
  static constexpr Entry kList[] = {
      {"databricks-meta-llama-3-3-70b-instruct", 0.54, 0.54},
      {"databricks-meta-llama-3-1-405b-instruct", 5.00, 15.00},
      {"databricks-dbrx-instruct", 0.75, 2.25},
      {"databricks-mixtral-8x7b-instruct", 0.50, 1.00},
      {"databricks-bge-large-en", 0.10, 0.0},
  };
  for (const auto& e : kList) {
    if (e.name == endpoint) return Price{e.in, e.out, -1, true};
  }
  return std::nullopt;
}

std::string_view to_string(LimitScope s) {
  switch (s) {
    case LimitScope::kModel: return "model";
    case LimitScope::kKey: return "key";
    case LimitScope::kUser: return "user";
    case LimitScope::kGroup: return "group";
    case LimitScope::kProject: return "project";
    case LimitScope::kTool: return "tool";
  }
  return "?";
}

std::string_view to_string(BudgetScope s) { return s == BudgetScope::kKey ? "key" : "project"; }

}  // namespace gatehouse::config

namespace gatehouse::config {

std::string_view to_string(RouteStrategy s) {
  switch (s) {
    case RouteStrategy::kPriority: return "priority";
    case RouteStrategy::kWeighted: return "weighted";
    case RouteStrategy::kLatency: return "latency";
  }
  return "?";
}

}  // namespace gatehouse::config

namespace gatehouse::config {

int Config::guardrail_index(std::string_view name) const {
  for (std::size_t i = 0; i < guardrails.size(); ++i) {
    if (guardrails[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const McpServerConfig* McpConfig::find_server(std::string_view name) const {
  auto it = servers.find(std::string(name));
  return it == servers.end() ? nullptr : &it->second;
}

const McpVirtualConfig* McpConfig::find_virtual(std::string_view name) const {
  auto it = virtual_servers.find(std::string(name));
  return it == virtual_servers.end() ? nullptr : &it->second;
}

const guard::GuardrailSpec* Config::find_guardrail(std::string_view name) const {
  int i = guardrail_index(name);
  return i < 0 ? nullptr : &guardrails[std::size_t(i)];
}

}  // namespace gatehouse::config

namespace gatehouse::config {

std::string redact_url_password(std::string_view url) {
  std::string out(url);
  // The user-info's password: between the first ':' after "scheme://" and the last '@' before the
  // query (a password may hold an unencoded '@' once ${ENV} is expanded).
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t query = out.find('?', start);
    const std::size_t at = out.rfind('@', query == std::string::npos ? std::string::npos : query);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // A password given as a parameter: ?password=... or &password=... (and conninfo's password=...).
  for (std::size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    const bool starts = pos == 0 || out[pos - 1] == '?' || out[pos - 1] == '&' || out[pos - 1] == ' ';
    pos += 9;
    if (!starts) continue;
    std::size_t end = out.find_first_of("& ", pos);
    if (end == std::string::npos) end = out.size();
    out.replace(pos, end - pos, "***");
    pos += 3;
  }
  return out;
}

std::string StoreConfig::shown() const {
  return postgres_url.empty() ? sqlite_path : redact_url_password(postgres_url);
}

}  // namespace gatehouse::config
