#include "guard/spec.h"

#include <array>
#include <variant>

#include "guard/scanner_impl.h"

namespace gatehouse::guard {

std::string_view to_string(Action a) {
  switch (a) {
    case Action::kBlock:
      return "block";
    case Action::kMask:
      return "mask";
    case Action::kLog:
      return "log";
  }
  return "block";
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "block") return Action::kBlock;
  if (s == "mask") return Action::kMask;
  if (s == "log") return Action::kLog;
  return std::nullopt;
}

std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::kPii:
      return "pii";
    case Kind::kRegex:
      return "regex";
    case Kind::kSecrets:
      return "secrets";
    case Kind::kPromptInjection:
      return "prompt_injection";
    case Kind::kModel:
      return "model";
  }
  return "regex";
}

namespace {
constexpr std::array<std::string_view, 6> kPiiEntities = {
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS"};
constexpr std::array<std::string_view, 8> kSecretKinds = {
    "DATABRICKS_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_ACCESS_KEY_ID",
    "GITHUB_TOKEN",     "SLACK_TOKEN",    "PRIVATE_KEY",       "JWT"};
}  // namespace

std::span<const std::string_view> pii_entities() { return kPiiEntities; }
std::span<const std::string_view> secret_kinds() { return kSecretKinds; }

std::optional<std::string> check_pattern(std::string_view regex, bool caseless) {
  auto compiled = detail::compile_pattern(regex, caseless);
  if (auto* error = std::get_if<std::string>(&compiled)) return std::move(*error);
  return std::nullopt;
}

}  // namespace gatehouse::guard
