#include "guard/recognizers.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <utility>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

namespace gatehouse::guard::detail {

ByteSet byte_set(std::string_view spec) {
  ByteSet s;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const auto lo = static_cast<unsigned char>(spec[i]);
    if (i + 2 < spec.size() && spec[i + 1] == '-') {
      const auto hi = static_cast<unsigned char>(spec[i + 2]);
      for (unsigned c = lo; c <= hi; ++c) s.set(c);
      i += 2;
    } else {
      s.set(lo);
    }
  }
  return s;
}

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
// The byte at `i`, or 0 past the end (a NUL is in no recognizer's classes).
char at(std::string_view t, std::size_t i) { return i < t.size() ? t[i] : '\0'; }

std::string_view span_of(const Candidate& c) { return c.text.substr(c.start, c.end - c.start); }

// A following ".5" or "-7" continues a number: the span is a piece of a longer one.
bool continues_number(const Candidate& c, std::string_view joiners) {
  const char next = at(c.text, c.end);
  return next != '\0' && joiners.find(next) != std::string_view::npos &&
         digit(at(c.text, c.end + 1));
}
bool after_number(const Candidate& c, std::string_view joiners) {
  return c.start >= 2 && joiners.find(c.text[c.start - 1]) != std::string_view::npos &&
         digit(c.text[c.start - 2]);
}

// --- pii -------------------------------------------------------------------------------------

bool valid_email(const Candidate& c) {
  const std::string_view s = span_of(c);
  const std::size_t at_sign = s.find('@');
  if (at_sign == std::string_view::npos) return false;
  const std::string_view local = s.substr(0, at_sign), domain = s.substr(at_sign + 1);
  if (local.empty() || local.size() > 64 || local.back() == '.' ||
      local.find("..") != std::string_view::npos)
    return false;
  if (domain.size() > 253) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i < domain.size() && domain[i] != '.') continue;
    const std::string_view label = domain.substr(label_start, i - label_start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    label_start = i + 1;
  }
  // A following ".x" continues the domain (the longest end is tried first, so this only
  // refuses a cut one).
  return !(at(c.text, c.end) == '.' && alnum(at(c.text, c.end + 1)));
}

// 13-19 digits, one space or dash at most between them (the expression), a major network's
// first digit (2 Mastercard/Mir, 3 Amex/Diners/JCB, 4 Visa, 5 Mastercard/Maestro, 6 Discover/
// UnionPay/Maestro), not all one digit, Luhn.
bool valid_card(const Candidate& c) {
  std::array<int, 19> d{};
  std::size_t n = 0;
  for (char ch : span_of(c)) {
    if (!digit(ch)) continue;
    if (n == d.size()) return false;
    d[n++] = ch - '0';
  }
  if (n < 13 || d[0] < 2 || d[0] > 6) return false;
  if (std::all_of(d.begin(), d.begin() + n, [&](int x) { return x == d[0]; })) return false;
  int sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    int x = d[n - 1 - i];
    if (i % 2 == 1) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return sum % 10 == 0;
}

// AAA-GG-SSSS (or with spaces, the same separator twice): area not 000, 666 or 900-999, group
// not 00, serial not 0000; not a piece of a longer dashed number.
bool valid_ssn(const Candidate& c) {
  const std::string_view s = span_of(c);
  if (s.size() != 11 || s[3] != s[6]) return false;
  const int area = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  if (area == 0 || area == 666 || area >= 900) return false;
  if (s.substr(4, 2) == "00" || s.substr(7, 4) == "0000") return false;
  const std::string_view joiner = s[3] == '-' ? "-" : " ";
  return !after_number(c, joiner) && !continues_number(c, joiner);
}

struct IbanCountry {
  char code[3];
  int length;
};
// The IBAN registry's countries and lengths (SWIFT, 2023).
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

// Country code, two check digits, the account part: the country's length, spaces (if any)
// after every 4 characters, and the ISO 7064 mod-97 check over the rearranged string.
bool valid_iban(const Candidate& c) {
  const std::string_view s = span_of(c);
  std::string compact;
  compact.reserve(s.size());
  const bool grouped = s.find(' ') != std::string_view::npos;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (grouped && i % 5 == 4) {
      if (s[i] != ' ') return false;
      continue;
    }
    if (s[i] == ' ') return false;
    compact += s[i];
  }
  if (s.back() == ' ') return false;
  const auto* country =
      std::find_if(std::begin(kIbanCountries), std::end(kIbanCountries),
                   [&](const IbanCountry& k) { return compact.compare(0, 2, k.code) == 0; });
  if (country == std::end(kIbanCountries) || int(compact.size()) != country->length) return false;
  unsigned remainder = 0;
  auto feed = [&](char ch) {
    if (digit(ch)) {
      remainder = (remainder * 10 + unsigned(ch - '0')) % 97;
    } else {
      const unsigned v = unsigned(ch - 'A') + 10;
      remainder = (remainder * 100 + v) % 97;
    }
  };
  for (std::size_t i = 4; i < compact.size(); ++i) feed(compact[i]);
  for (std::size_t i = 0; i < 4; ++i) feed(compact[i]);
  return remainder == 1;
}

bool valid_ipv4(const Candidate& c) {
  const std::string address(span_of(c));
  in_addr out{};
  // glibc's inet_pton takes exactly four decimal octets 0-255 without leading zeros.
  return inet_pton(AF_INET, address.c_str(), &out) == 1 && !continues_number(c, ".");
}

bool valid_ipv6(const Candidate& c) {
  const std::string_view s = span_of(c);
  // Without a decimal digit, "::" and C++ or Ruby names like "dead::beef" or "Abc::def" parse.
  if (std::none_of(s.begin(), s.end(), digit)) return false;
  const std::string address(s);
  in6_addr out{};
  return inet_pton(AF_INET6, address.c_str(), &out) == 1 && !continues_number(c, ".");
}

const i18n::phonenumbers::PhoneNumberUtil& phone_util() {
  // libphonenumber's singleton; its methods are thread-safe.
  return *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
}

// libphonenumber's verdict on `number` (parsed with `region` when it has no country code: valid
// for its region's numbering plan). Parsing costs 5-20 us, so the last verdicts are kept per
// thread: a stream scans the text it holds again at every event.
bool libphonenumber_valid(std::string_view number, std::string_view region) {
  struct Entry {
    std::string key;
    bool valid = false;
  };
  thread_local std::array<Entry, 32> recent;
  thread_local std::size_t oldest = 0;
  std::string key(region);
  key += ':';
  key += number;
  for (const Entry& e : recent)
    if (e.key == key) return e.valid;
  Entry& e = recent[oldest];
  oldest = (oldest + 1) % recent.size();
  i18n::phonenumbers::PhoneNumber parsed;
  const auto& util = phone_util();
  const bool valid = util.Parse(std::string(number), std::string(region), &parsed) ==
                         i18n::phonenumbers::PhoneNumberUtil::NO_PARSING_ERROR &&
                     util.IsValidNumber(parsed);
  e.key = std::move(key);
  e.valid = valid;
  return valid;
}

// A number that starts right after "5 " or "5-" is a later group of a longer one (a card's, an
// IBAN's): a phone number does not start there.
bool phone_start(std::string_view text, std::size_t s) {
  return !(s >= 2 && std::string_view(" .-/").find(text[s - 1]) != std::string_view::npos &&
           digit(text[s - 2]));
}

// 7-15 digits, not dotted like an IPv4 address, not a piece of a longer run of numbers (a card
// number's first groups), then libphonenumber.
bool valid_phone(const Candidate& c) {
  const std::string_view s = span_of(c);
  const auto digits = std::count_if(s.begin(), s.end(), digit);
  if (digits < 7 || digits > 15) return false;
  if (std::count(s.begin(), s.end(), '.') == 3 &&
      std::all_of(s.begin(), s.end(), [](char ch) { return digit(ch) || ch == '.'; }))
    return false;
  if (continues_number(c, ".-") || after_number(c, ".-")) return false;
  if (s.find(' ') != std::string_view::npos && (continues_number(c, " ") || after_number(c, " ")))
    return false;
  return libphonenumber_valid(s, c.region);
}

// --- secrets ---------------------------------------------------------------------------------

bool valid_jwt(const Candidate& c) {
  const std::string_view s = span_of(c);
  const std::size_t dot1 = s.find('.'), dot2 = s.find('.', dot1 + 1);
  // A real header ({"alg":...}) and payload are longer than the expression's minimum.
  return dot1 >= 10 && dot2 - dot1 > 10 && s.size() - dot2 > 10;
}

struct Tables {
  std::vector<std::pair<std::string_view, std::vector<Recognizer>>> pii, secrets;
  std::vector<Recognizer> injection;
};

Recognizer windowed(std::string_view entity, std::string detect, std::string span,
                    std::size_t max_len, std::string_view cls, std::string_view first,
                    std::string_view before, std::string_view after, int tries,
                    bool (*valid)(const Candidate&), std::vector<std::string> prefixes = {},
                    bool (*valid_start)(std::string_view, std::size_t) = nullptr) {
  Recognizer r;
  r.entity = entity;
  r.detect = std::move(detect);
  r.span = std::move(span);
  r.spans = Spans::kWindowed;
  r.max_len = max_len;
  r.cls = byte_set(cls);
  r.first = byte_set(first);
  r.before = byte_set(before);
  r.after = byte_set(after);
  r.tries = tries;
  r.valid = valid;
  r.prefixes = std::move(prefixes);
  r.valid_start = valid_start;
  return r;
}

// A prompt-injection phrase: caseless, spaces between its words (1-3 whitespace bytes), found
// with \b in front; `prefixes` are its possible first words (a stream holds text back only
// where one of them begins).
Recognizer phrase(std::string regex, std::size_t max_len, std::vector<std::string> prefixes) {
  Recognizer r;
  r.entity = "PROMPT_INJECTION";
  std::string expanded;
  for (char ch : regex) {
    if (ch == ' ')
      expanded += R"(\s{1,3})";
    else
      expanded += ch;
  }
  r.detect = R"(\b)" + expanded;
  r.spans = Spans::kExact;
  r.caseless = true;
  r.max_len = max_len;
  r.prefixes = std::move(prefixes);
  return r;
}

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    constexpr std::string_view kWord = "A-Za-z0-9_";
    // A match may not follow or precede a letter, digit or underscore (the built-ins' \b).
    t.pii.push_back(
        {"EMAIL_ADDRESS",
         {windowed("EMAIL_ADDRESS", R"([A-Za-z0-9._%+\-]@[A-Za-z0-9])",
                   R"([A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,24})", 64 + 1 + 253,
                   "A-Za-z0-9._%+@-", "A-Za-z0-9", "A-Za-z0-9", "A-Za-z0-9_@-", 4, valid_email)}});
    t.pii.push_back({"PHONE_NUMBER",
                     {windowed("PHONE_NUMBER", R"(\d(?:[ .\-()/]{0,3}\d){6})",
                               R"(\+?\(?\d(?:[ .\-/()]{0,3}\d)*)", 32, "0-9 ./()+-", "0-9(+",
                               "A-Za-z0-9_+", "A-Za-z0-9_:", 12, valid_phone, {}, phone_start)}});
    t.pii.push_back({"CREDIT_CARD",
                     {windowed("CREDIT_CARD", R"(\d(?:[ \-]?\d){12})", R"((?:\d[ \-]?){12,18}\d)",
                               37, "0-9 -", "0-9", kWord, kWord, 8, valid_card)}});
    t.pii.push_back({"US_SSN",
                     {windowed("US_SSN", R"(\d{3}[\- ]\d{2}[\- ]\d{4})", "", 11, "0-9 -", "0-9",
                               kWord, kWord, 1, valid_ssn)}});
    t.pii.push_back({"IBAN_CODE",
                     {windowed("IBAN_CODE", R"([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11})",
                               R"([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})", 4 + 30 * 2, "A-Z0-9 ",
                               "A-Z", kWord, kWord, 32, valid_iban)}});
    t.pii.push_back(
        {"IP_ADDRESS",
         {windowed("IP_ADDRESS", R"((?:\d{1,3}\.){3}\d{1,3})", "", 15, "0-9.", "0-9", "A-Za-z0-9_.",
                   kWord, 4, valid_ipv4),
          windowed("IP_ADDRESS",
                   R"((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?)", "",
                   7 * 5 + 15, "0-9A-Fa-f:.", "0-9A-Fa-f:", "A-Za-z0-9_:", "A-Za-z0-9_:", 8,
                   valid_ipv6)}});

    // Tokens: the whole run of token characters, so `after` is the token's own class.
    t.secrets.push_back(
        {"DATABRICKS_TOKEN",
         {windowed("DATABRICKS_TOKEN", R"(dapi[0-9a-f]{32})", R"(dapi[0-9a-f]{32}(?:-\d{1,2})?)",
                   39, "a-z0-9-", "d", kWord, kWord, 2, nullptr, {"dapi"})}});
    // sk-ant- is Anthropic's: the plain form needs 20 letters or digits right after "sk-", so
    // "sk-ant-api03-..." is no OpenAI key.
    t.secrets.push_back(
        {"OPENAI_API_KEY",
         {windowed("OPENAI_API_KEY",
                   R"(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20}|[A-Za-z0-9]{20}))",
                   R"(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{20,}))", 400,
                   "A-Za-z0-9_-", "s", "A-Za-z0-9_-", "A-Za-z0-9_-", 1, nullptr, {"sk-"})}});
    t.secrets.push_back({"ANTHROPIC_API_KEY",
                         {windowed("ANTHROPIC_API_KEY", R"(sk-ant-[A-Za-z0-9_\-]{20})",
                                   R"(sk-ant-[A-Za-z0-9_\-]{20,})", 400, "A-Za-z0-9_-", "s",
                                   "A-Za-z0-9_-", "A-Za-z0-9_-", 1, nullptr, {"sk-ant-"})}});
    t.secrets.push_back({"AWS_ACCESS_KEY_ID",
                         {windowed("AWS_ACCESS_KEY_ID", R"((?:AKIA|ASIA)[A-Z0-9]{16})", "", 20,
                                   "A-Z0-9", "A", kWord, kWord, 1, nullptr, {"AKIA", "ASIA"})}});
    t.secrets.push_back(
        {"GITHUB_TOKEN",
         {windowed("GITHUB_TOKEN", R"(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})",
                   R"(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})", 300, "A-Za-z0-9_",
                   "g", kWord, kWord, 1, nullptr,
                   {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"})}});
    t.secrets.push_back(
        {"SLACK_TOKEN",
         {windowed("SLACK_TOKEN", R"(xox[abprs]-[A-Za-z0-9\-]{10})",
                   R"(xox[abprs]-[A-Za-z0-9\-]{10,})", 300, "A-Za-z0-9-", "x", "A-Za-z0-9_-",
                   "A-Za-z0-9_-", 1, nullptr, {"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"})}});
    {
      Recognizer pem;
      pem.entity = "PRIVATE_KEY";
      pem.detect = R"(-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----)";
      pem.spans = Spans::kPem;
      pem.max_len = 2 * (10 + 40 + 16) + kPemMaxBody;
      pem.first = byte_set("-");
      pem.prefixes = {"-----BEGIN"};
      t.secrets.push_back({"PRIVATE_KEY", {std::move(pem)}});
    }
    t.secrets.push_back(
        {"JWT",
         {windowed("JWT", R"(eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{10})",
                   R"(eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", 8192,
                   "A-Za-z0-9_.-", "e", "A-Za-z0-9_.-", "A-Za-z0-9_-", 1, valid_jwt, {"eyJ"})}});

    // Prompt injection: phrases that ask a model to drop its instructions or reveal them. A
    // space stands for 1-3 whitespace bytes. Known limits: README.md.
    const std::string kSome = "(?:(?:all|any|the|my|your|of|these|those|every) ){0,3}";
    t.injection = {
        phrase("ignore " + kSome +
                   "(?:previous|prior|above|earlier|preceding|former|original|system|initial) "
                   "(?:instructions?|prompts?|rules|directions|guidelines|context|messages?|"
                   "commands?)",
               120, {"ignore"}),
        phrase("disregard " + kSome +
                   "(?:(?:previous|prior|above|earlier|system|initial) )?"
                   "(?:instructions?|prompts?|rules|guidelines|directions|programming)",
               120, {"disregard"}),
        phrase("forget " +
                   std::string("(?:(?:all|everything|any|your|the|previous|prior|above) ){1,3}") +
                   "(?:instructions?|rules|prompts?|guidelines|you (?:were|have been) told)",
               100, {"forget"}),
        phrase("you are now (?:DAN\\b|in (?:developer|god|jailbreak|unrestricted) mode|"
               "jailbroken|unrestricted|unfiltered|uncensored|an? (?:unrestricted|unfiltered|"
               "uncensored))",
               70, {"you"}),
        phrase("(?:reveal|show|print|repeat|output|display|leak|dump|tell me|give me) (?:me )?"
               "(?:your|the) (?:(?:full|exact|entire|complete|verbatim) )?"
               "(?:system prompt|(?:initial|original|hidden|secret|system) "
               "(?:instructions|prompt|message))",
               110,
               {"reveal", "show", "print", "repeat", "output", "display", "leak", "dump", "tell",
                "give"}),
        phrase("pretend (?:that )?you (?:have|had|are under) no (?:rules|restrictions|"
               "limitations|limits|guidelines|filters|content polic(?:y|ies))",
               90, {"pretend"}),
        phrase("jailbr(?:eak|oken)", 10, {"jailbr"}),
        phrase("do anything now\\b", 24, {"do"}),
        phrase("act as (?:an? )?(?:unrestricted|unfiltered|uncensored|jailbroken)", 50, {"act"}),
        phrase("(?:enable|enter|activate|switch to) (?:developer|dev|god|DAN|jailbreak) mode", 50,
               {"enable", "enter", "activate", "switch"}),
        phrase("(?:override|bypass) (?:(?:your|the|all|any) ){1,2}(?:(?:safety|content) )?"
               "(?:instructions|rules|guidelines|restrictions|filters|guardrails|policies)",
               100, {"override", "bypass"}),
    };
    return t;
  }();
  return t;
}

std::span<const Recognizer> find(
    const std::vector<std::pair<std::string_view, std::vector<Recognizer>>>& list,
    std::string_view name) {
  for (const auto& [n, r] : list)
    if (n == name) return r;
  return {};
}

// Where a `-----BEGIN` or `-----END` line's "[A-Z ]{0,40}PRIVATE KEY-----" part that starts at
// `q` ends; 0 if it is none, SIZE_MAX if the text ends before that is known.
std::size_t pem_label_end(std::string_view t, std::size_t q) {
  constexpr std::string_view kTail = "PRIVATE KEY-----";
  for (std::size_t i = 0; i <= 40; ++i, ++q) {
    const std::size_t have = std::min(kTail.size(), t.size() - std::min(t.size(), q));
    if (t.compare(q, have, kTail, 0, have) == 0) {
      if (have == kTail.size()) return q + kTail.size();
      return SIZE_MAX;
    }
    if (q >= t.size()) return SIZE_MAX;
    const char ch = t[q];
    if (!(ch == ' ' || (ch >= 'A' && ch <= 'Z'))) return 0;
  }
  return 0;
}

}  // namespace

std::span<const Recognizer> pii_recognizers(std::string_view entity) {
  return find(tables().pii, entity);
}
std::span<const Recognizer> secret_recognizers(std::string_view kind) {
  return find(tables().secrets, kind);
}
std::span<const Recognizer> injection_recognizers() { return tables().injection; }

bool phone_region_known(std::string_view region) {
  static const std::set<std::string> regions = [] {
    std::set<std::string> out;
    phone_util().GetSupportedRegions(&out);
    return out;
  }();
  return regions.count(std::string(region)) > 0;
}

PemExtent pem_extent(std::string_view t, std::size_t p) {
  constexpr std::string_view kBegin = "-----BEGIN", kEnd = "-----END";
  const std::size_t have = std::min(kBegin.size(), t.size() - p);
  if (t.compare(p, have, kBegin, 0, have) != 0) return {};
  if (have < kBegin.size()) return {0, true};
  const std::size_t header = pem_label_end(t, p + kBegin.size());
  if (header == 0) return {};
  if (header == SIZE_MAX) return {0, true};
  // The body: base64, line breaks and the headers of an encrypted key (Proc-Type: 4,ENCRYPTED,
  // DEK-Info: ...). A dash only inside a word, so "-----" can only be the END line.
  static const ByteSet body = byte_set("A-Za-z0-9+/= \t\r\n\v\f:,");
  const std::size_t limit = header + kPemMaxBody;
  for (std::size_t q = header; q < t.size(); ++q) {
    if (q >= limit) return {header, false};
    const auto ch = static_cast<unsigned char>(t[q]);
    if (body.test(ch)) continue;
    if (ch != '-') return {header, false};
    if (q + 1 >= t.size()) return {header, true};
    if (alnum(t[q + 1])) {
      ++q;
      continue;
    }
    const std::size_t end_have = std::min(kEnd.size(), t.size() - q);
    if (t.compare(q, end_have, kEnd, 0, end_have) != 0) return {header, false};
    if (end_have < kEnd.size()) return {header, true};
    const std::size_t footer = pem_label_end(t, q + kEnd.size());
    if (footer == 0) return {header, false};
    if (footer == SIZE_MAX) return {header, true};
    return {footer, false};
  }
  return {header, true};
}

}  // namespace gatehouse::guard::detail
