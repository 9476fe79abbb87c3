// What a guardrail is, as configured (config/ reads it from YAML under `guardrails:`): a kind, an
// action, and what the kind needs. A leaf of the build: it knows nothing of requests or config
// files, so config/, the gateway, the CLI and the benchmarks all use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::guard {

// What happens to text a guardrail finds.
enum class Action : unsigned char {
  kBlock,  // the request (or the answer) is refused: 400 guardrail_blocked
  kMask,   // the match is replaced by <ENTITY> (or <pattern-name>)
  kLog,    // nothing changes; the hit is recorded (shadow mode)
};
std::string_view to_string(Action a);
std::optional<Action> parse_action(std::string_view s);

enum class Kind : unsigned char {
  kPii,              // built-in recognizers: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, ...
  kRegex,            // the user's own patterns
  kSecrets,          // built-in credential recognizers (provider keys, tokens, private keys)
  kPromptInjection,  // built-in heuristic phrases
  kModel,            // ask a gateway model (Llama Guard's convention); not a pattern scan
};
std::string_view to_string(Kind k);

// One user pattern of a regex guardrail.
struct PatternSpec {
  std::string name;               // also the mask label: <name>
  std::string regex;              // Hyperscan (PCRE subset) syntax
  std::optional<Action> action;   // unset: the guardrail's
  bool caseless = false;          // `flags: i`
  int line = 0, column = 0;       // where it was written (config errors)
};

struct GuardrailSpec {
  std::string name;
  Kind kind = Kind::kRegex;
  Action action = Action::kBlock;
  std::vector<std::string> entities;  // kPii: which entities (empty: every one); kSecrets: which kinds (empty: all)
  std::string region = "US";          // kPii: the region assumed for phone numbers without a country code
  std::vector<PatternSpec> patterns;  // kRegex
  // kModel: the gateway model asked, how long to wait, and what an error or timeout means.
  std::string model;
  std::chrono::milliseconds timeout{2000};
  bool block_on_error = false;        // on_error: block (default allow)
  bool operator==(const GuardrailSpec&) const = default;
};
inline bool operator==(const PatternSpec& a, const PatternSpec& b) {
  return a.name == b.name && a.regex == b.regex && a.action == b.action && a.caseless == b.caseless;
}

// The entity names a pii guardrail may list, and the secret kinds a secrets guardrail may list
// (also the mask labels: <EMAIL_ADDRESS>, <AWS_ACCESS_KEY_ID>).
std::span<const std::string_view> pii_entities();
std::span<const std::string_view> secret_kinds();
// The label of the prompt_injection recognizer's hits.
inline constexpr std::string_view kPromptInjectionEntity = "PROMPT_INJECTION";

// Whether `regex` compiles (as the scanner compiles it); the compiler's message when it does not.
std::optional<std::string> check_pattern(std::string_view regex, bool caseless);

}  // namespace gatehouse::guard
