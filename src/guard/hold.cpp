// What a stream must hold back (Scanner::hold, Scanner::window). A match that may still grow, or
// whose end is not yet decided, must not be released in part; everything else should go out at
// once, since held text is time to first token. For each expression: a match is made of bytes
// of its class (the built-ins: an email of [A-Za-z0-9._%+@-], a card of digits, spaces and
// dashes), so it cannot cross a byte outside the class: only the trailing run of class bytes can
// hold an unfinished match. Within that run it starts with one of its first bytes, and, where
// every match starts with a literal (dapi, AKIA, -----BEGIN, a user pattern's jdbc:databricks://),
// only where that literal (or, at the very end, a beginning of it) is. A match is at most `width`
// long, so the run is looked at only that far back (plus the bytes after a match that decide it).
#include <algorithm>
#include <cctype>
#include <cstring>

#include "guard/scanner_impl.h"

namespace gatehouse::guard {

namespace detail {

namespace {

unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

bool starts_like(std::string_view text, std::size_t p, const std::string& prefix, bool caseless) {
  const std::size_t m = std::min(prefix.size(), text.size() - p);
  for (std::size_t i = 0; i < m; ++i) {
    const auto a = static_cast<unsigned char>(text[p + i]);
    const auto b = static_cast<unsigned char>(prefix[i]);
    if (a == b) continue;
    if (!caseless || lower(a) != lower(b)) return false;
  }
  return true;
}

// A built-in's hold: the trailing run of its class, from its first possible start.
std::size_t hold_run(const HoldShape& h, std::string_view text) {
  const std::size_t n = text.size(), lim = std::min(n, h.cap);
  if (h.pem) {
    // A key block starts at a '-' of its BEGIN line and is held until it is closed (or cannot
    // be one any more).
    const char* base = text.data();
    for (std::size_t p = n - lim; p < n;) {
      const void* dash = std::memchr(base + p, '-', n - p);
      if (!dash) break;
      p = std::size_t(static_cast<const char*>(dash) - base);
      if (pem_extent(text, p).open) return n - p;
      ++p;
    }
    return 0;
  }
  std::size_t run = 0;
  while (run < lim && h.cls[static_cast<unsigned char>(text[n - 1 - run])]) ++run;
  for (std::size_t p = n - run; p < n; ++p) {
    if (!h.first[static_cast<unsigned char>(text[p])]) continue;
    if (!h.prefixes.empty() &&
        std::none_of(h.prefixes.begin(), h.prefixes.end(),
                     [&](const std::string& pre) { return starts_like(text, p, pre, h.caseless); }))
      continue;
    return n - p;
  }
  return 0;
}

bool is_meta(char c) { return std::strchr("^$.|?*+()[]{}\\", c) != nullptr; }

// The top-level alternatives of `regex` (split at `|` outside groups and classes); empty when
// its brackets do not balance (Hyperscan refuses it anyway).
std::vector<std::string_view> alternatives(std::string_view re) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      // A class: a ']' right after '[' or '[^' is a member, escapes inside are skipped.
      std::size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      for (; j < re.size() && re[j] != ']'; ++j)
        if (re[j] == '\\') ++j;
      if (j >= re.size()) return {};
      i = j;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) return {};
    } else if (c == '|' && depth == 0) {
      out.push_back(re.substr(from, i - from));
      from = i + 1;
    }
  }
  if (depth != 0) return {};
  out.push_back(re.substr(from));
  return out;
}

// The literal bytes every match of `alt` starts with: plain characters and escaped
// punctuation, up to the first thing that is not one (a class, a group, an escape like \d, a
// non-ASCII byte); a character that a quantifier makes optional is not part of it.
std::string leading_literal(std::string_view alt) {
  std::size_t i = 0;
  // Zero-width at the start: they do not change which bytes a match starts with.
  for (;;) {
    if (alt.substr(i, 1) == "^") {
      i += 1;
    } else if (alt.substr(i, 2) == R"(\b)" || alt.substr(i, 2) == R"(\A)") {
      i += 2;
    } else {
      break;
    }
  }
  std::string out;
  while (i < alt.size()) {
    char lit = 0;
    std::size_t len = 0;
    const char c = alt[i];
    if (c == '\\') {
      if (i + 1 >= alt.size()) break;
      const char e = alt[i + 1];
      if (static_cast<unsigned char>(e) >= 0x80 || std::isalnum(static_cast<unsigned char>(e)) ||
          std::iscntrl(static_cast<unsigned char>(e)))
        break;
      lit = e, len = 2;
    } else {
      if (is_meta(c) || static_cast<unsigned char>(c) >= 0x80 ||
          std::iscntrl(static_cast<unsigned char>(c)))
        break;
      lit = c, len = 1;
    }
    const std::size_t next = i + len;
    const char q = next < alt.size() ? alt[next] : '\0';
    if (q == '?' || q == '*' || q == '{') break;
    out += lit;
    if (q == '+') break;
    i = next;
  }
  return out;
}

}  // namespace

void finish(HoldShape& h) {
  if (h.prefixes.empty()) return;
  // Only where a prefix's first byte is can a match start: the cheap test comes first.
  ByteSet first;
  for (const std::string& pre : h.prefixes) {
    const auto c = static_cast<unsigned char>(pre[0]);
    first.set(c);
    if (h.caseless) {
      first.set(lower(c));
      if (c >= 'a' && c <= 'z') first.set(c - ('a' - 'A'));
    }
  }
  h.first &= first;
}

void index_holds(const std::vector<Expr>& exprs, HoldIndex& out) {
  for (std::uint32_t i = 0; i < exprs.size(); ++i) {
    const HoldShape& h = exprs[i].hold;
    if (h.pem || !h.cls.all()) {
      out.runs.push_back(i);
    } else if (h.prefixes.empty()) {
      out.anywhere.push_back(i);
    } else {
      for (unsigned c = 0; c < 256; ++c)
        if (h.first[c]) out.by_first[c].push_back(i);
      out.by_first_cap = std::max(out.by_first_cap, h.cap);
    }
  }
}

std::vector<std::string> literal_prefixes(std::string_view regex) {
  std::vector<std::string> out;
  for (std::string_view alt : alternatives(regex)) {
    std::string lit = leading_literal(alt);
    if (lit.empty()) return {};
    out.push_back(std::move(lit));
  }
  return out;
}

}  // namespace detail

std::size_t Scanner::hold(std::string_view text, GuardrailSet set) const {
  const detail::HoldIndex& index = impl_->holds;
  const auto& exprs = impl_->exprs;
  const std::size_t n = text.size();
  std::size_t most = 0;
  for (std::uint32_t i : index.anywhere)
    if (exprs[i].guardrails & set) most = std::max(most, std::min(n, exprs[i].hold.cap));
  // Expressions with prefixes, in one pass from the furthest start any of them allows: the first
  // position where one may start is the longest hold they ask for.
  for (std::size_t p = n - std::min(n, index.by_first_cap); p + most < n; ++p) {
    bool found = false;
    for (std::uint32_t i : index.by_first[static_cast<unsigned char>(text[p])]) {
      const detail::HoldShape& h = exprs[i].hold;
      if (!(exprs[i].guardrails & set) || p + h.cap < n) continue;
      if (std::any_of(h.prefixes.begin(), h.prefixes.end(), [&](const std::string& pre) {
            return detail::starts_like(text, p, pre, h.caseless);
          })) {
        found = true;
        break;
      }
    }
    if (found) {
      most = n - p;
      break;
    }
  }
  for (std::uint32_t i : index.runs) {
    if (!(exprs[i].guardrails & set) || exprs[i].hold.cap <= most) continue;
    most = std::max(most, detail::hold_run(exprs[i].hold, text));
  }
  return most;
}

std::size_t Scanner::window(GuardrailSet set) const {
  std::size_t most = 0;
  for (const detail::Expr& x : impl_->exprs)
    if (x.guardrails & set) most = std::max(most, x.hold.cap);
  return most;
}

}  // namespace gatehouse::guard
