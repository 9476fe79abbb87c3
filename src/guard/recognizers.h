// The built-in recognizers (pii entities, secret kinds, injection phrases): their Hyperscan
// expressions, the bytes their matches are made of (for a stream's hold) and their validators.
// Internal to guard/: the scanner compiles them, tests read them through the Scanner.
#pragma once

#include <bitset>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::guard::detail {

using ByteSet = std::bitset<256>;
// "A-Za-z0-9._%+-": ranges written a-b, anything else (a '-' first or last) as itself.
ByteSet byte_set(std::string_view spec);
inline ByteSet all_bytes() { return ByteSet().set(); }

// How the exact spans of an expression are found, once the first pass has seen where its
// matches end.
enum class Spans : unsigned char {
  // The expression itself, compiled with start of match, scanned over the region where matches
  // ending at the first pass's ends can start (assertions like \b allowed). Every user pattern.
  kExact,
  // An assertion-free span expression, from the first possible start on, one start at a time
  // (finditer): its ends are tried longest first against the context checks and the validator;
  // a start that fails lets later starts be tried. The first pass only says where to look, so
  // its expression can be a short prefix of the span (cheap) and the span expression can leave
  // repeats unbounded (Hyperscan refuses large bounded repeats with start of match): `max_len`
  // bounds a span instead.
  kWindowed,
  // A PEM private key block, read in code from its BEGIN line to its END line.
  kPem,
};

// The context a validator gets: the text around the span and the guardrail's phone region.
struct Candidate {
  std::string_view text;  // the whole scanned text
  std::size_t start = 0, end = 0;
  std::string_view region;
};

struct Recognizer {
  std::string_view entity;  // the rule's label: EMAIL_ADDRESS, AWS_ACCESS_KEY_ID, ...
  std::string detect;       // the first pass's expression
  std::string span;         // kWindowed: the span expression (empty: `detect`)
  Spans spans = Spans::kWindowed;
  bool caseless = false;
  std::size_t max_len = 0;            // the longest match (span) there can be
  ByteSet cls = all_bytes();          // every byte of a match is one of these
  ByteSet first = all_bytes();        // a match starts with one of these
  ByteSet before;                     // kWindowed: a match never starts right after one of these
  ByteSet after;                      // kWindowed: nor ends right before one of these
  std::vector<std::string> prefixes;  // every match starts with one of these (empty: no rule)
  int tries = 1;  // kWindowed: how many ends of one start are tried, longest first
  // kWindowed: whether a match may start at text[s] at all (beyond `first` and `before`), from
  // the text before it; null: wherever those allow. Starts it refuses are not even looked at.
  bool (*valid_start)(std::string_view text, std::size_t s) = nullptr;
  // kWindowed: whether the span is one (beyond the context checks above); null: every span.
  // It may read the text before the span freely, and after it only text[end] and, when that
  // byte is in `cls`, text[end + 1] (a stream holds back exactly that much: see hold.cpp).
  bool (*valid)(const Candidate&) = nullptr;
};

// The recognizers of a pii entity, of a secret kind, and the prompt-injection phrases; empty
// for a name that is not one.
std::span<const Recognizer> pii_recognizers(std::string_view entity);
std::span<const Recognizer> secret_recognizers(std::string_view kind);
std::span<const Recognizer> injection_recognizers();

// Whether libphonenumber knows `region` (a CLDR two-letter code such as "US" or "GB").
bool phone_region_known(std::string_view region);

// kPem: the key block that starts at text[p] (`-----BEGIN ... PRIVATE KEY-----`, then its body
// and END line when they follow, or the BEGIN line alone), as the text has it now.
struct PemExtent {
  std::size_t end = 0;  // where the match ends (0: no match starts at p)
  bool open = false;    // the text ends inside it: more text could make it (longer or) a match
};
PemExtent pem_extent(std::string_view text, std::size_t p);
inline constexpr std::size_t kPemMaxBody = 8192;  // bytes between the BEGIN and END lines

}  // namespace gatehouse::guard::detail
