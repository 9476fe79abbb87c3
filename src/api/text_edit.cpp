// Replacing text pieces in a body (api/text.h): each edited string token becomes the JSON string
// of its new text; every other byte is copied as it came.
#include <algorithm>
#include <cassert>

#include <simdjson.h>

#include "api/request.h"
#include "api/text.h"

namespace gatehouse::api {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// `s` with every invalid UTF-8 sequence replaced by U+FFFD (each maximal bad prefix once).
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(char(b));
      ++i;
      continue;
    }
    std::size_t n = 0;                   // continuation bytes the lead byte announces
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) lo = 0xA0;  // no overlongs
      if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    }
    std::size_t good = 0;
    for (std::size_t k = 1; k <= n && i + k < s.size(); ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
      good = k;
    }
    if (n > 0 && good == n) {
      out.append(s.substr(i, n + 1));
    } else {
      out.append(kReplacement);
    }
    i += good + 1;
  }
  return out;
}

}  // namespace

std::string apply_text_edits(std::string_view body, std::vector<TextEdit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const TextEdit& a, const TextEdit& b) { return a.offset < b.offset; });
  std::size_t grow = 0;
  for (const TextEdit& e : edits) grow += e.text.size() + e.text.size() / 8 + 2;
  std::string out;
  out.reserve(body.size() + grow);
  std::size_t at = 0;
  for (const TextEdit& e : edits) {
    // Overlapping or outside the body: a caller's bug. Skipped rather than read out of bounds.
    const bool fits =
        e.offset >= at && e.offset <= body.size() && e.length <= body.size() - e.offset;
    assert(fits && "apply_text_edits: edits overlap or lie outside the body");
    if (!fits) continue;
    out.append(body.substr(at, e.offset - at));
    // A mask cut inside a multi-byte character must not make the body invalid JSON.
    out.append(simdjson::validate_utf8(e.text) ? json_quote(e.text)
                                               : json_quote(valid_utf8(e.text)));
    at = e.offset + e.length;
  }
  out.append(body.substr(at));
  return out;
}

}  // namespace gatehouse::api
