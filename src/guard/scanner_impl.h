// Scanner::Impl: the compiled form of a scanner (its expressions and Hyperscan databases), shared
// by scanner.cpp (build, scan) and hold.cpp (what a stream holds back). Internal to guard/.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "guard/recognizers.h"
#include "guard/scanner.h"

namespace gatehouse::guard {

namespace detail {

using Database = std::shared_ptr<const hs_database_t>;

inline constexpr std::size_t kUnbounded = SIZE_MAX;
// A stream holds back at most this much for a pattern whose matches have no length bound (like
// `[^\s]+`): a match that starts further back is known by then and is held while it grows
// (stream.cpp). README.md says what this means for patterns that match across gaps.
inline constexpr std::size_t kUnboundedWindow = 256;
// Bytes after a match that decide it: \b and the validators read text[end] (and text[end + 1]
// after a byte of the match's class), `$` matches before a final newline.
inline constexpr std::size_t kContextBytes = 2;

// What a stream must hold back for one expression (hold.cpp): a match is made of `cls` bytes,
// starts with a `first` byte and with one of `prefixes` (when there are any), and is at most
// `cap - kContextBytes` long.
struct HoldShape {
  ByteSet cls = all_bytes();
  ByteSet first = all_bytes();
  std::vector<std::string> prefixes;
  bool caseless = false;
  bool pem = false;
  std::size_t cap = 0;
};

// One Hyperscan expression of the first pass, and what finds and confirms its spans. Rules that
// share one (the same entity in two pii guardrails) share it.
struct Expr {
  Spans spans = Spans::kExact;
  const Recognizer* builtin = nullptr;  // null: a user pattern
  std::string detect;                   // the first pass's expression
  unsigned flags = 0;                   // HS_FLAG_CASELESS or 0
  std::size_t width = 0;                // the longest match (kUnbounded: no bound)
  std::string region;                   // PHONE_NUMBER: libphonenumber's default region
  Database som;                         // the span expression, with start of match
  // A bounded user pattern's anchored probes, `\A(?:P)` and `\A[\s\S](?:P)` (one byte of left
  // context): the matches from one given start. They find the next start after a kept match that
  // hid it, and stand in for `som` where Hyperscan refuses start of match (large bounded repeats).
  Database probe_at_0, probe_after_1;
  HoldShape hold;
  std::vector<std::uint32_t> rules;  // the rules it reports
  GuardrailSet guardrails = 0;       // the guardrails of those rules
};

// A user pattern compiled as the scanner compiles it: checked for the first pass (no start of
// match), then for spans (with start of match, or the anchored probes when Hyperscan refuses
// that); Hyperscan's message when it does not compile.
struct CompiledPattern {
  Database som, probe_at_0, probe_after_1;
  std::size_t width = 0;
};
std::variant<CompiledPattern, std::string> compile_pattern(std::string_view regex, bool caseless);

// Literal strings one of which every match of the user pattern `regex` starts with (compared
// caselessly when the pattern is); empty when that cannot be told for sure (hold.cpp).
std::vector<std::string> literal_prefixes(std::string_view regex);
// Narrows `first` to the prefixes' first bytes once the shape is complete.
void finish(HoldShape& h);

// The expressions grouped by how hold() looks at them (hold.cpp), built once per scanner.
struct HoldIndex {
  std::vector<std::uint32_t> anywhere;  // any byte, no prefix: they hold their cap
  // Any byte, prefixes: by the first bytes of their prefixes, looked at in one pass.
  std::array<std::vector<std::uint32_t>, 256> by_first;
  std::size_t by_first_cap = 0;
  std::vector<std::uint32_t> runs;  // a class of bytes (the built-ins), PEM blocks
};
void index_holds(const std::vector<Expr>& exprs, HoldIndex& out);

}  // namespace detail

struct Scanner::Impl {
  std::uint64_t id = 0;         // unique per scanner: each thread's scratch knows what it fits
  detail::Database first_pass;  // every expression (id = index in exprs); null when none
  std::vector<detail::Expr> exprs;
  detail::HoldIndex holds;
};

}  // namespace gatehouse::guard
