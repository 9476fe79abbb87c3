#include "guard/scanner.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

#include "guard/scanner_impl.h"

namespace gatehouse::guard {

using detail::Database;
using detail::Expr;
using detail::kContextBytes;
using detail::kUnbounded;
using detail::Recognizer;
using detail::Spans;

namespace detail {

namespace {

struct FreeDatabase {
  void operator()(const hs_database_t* d) const { hs_free_database(const_cast<hs_database_t*>(d)); }
};

std::variant<Database, std::string> compile_one(const std::string& regex, unsigned flags) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile(regex.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
    std::string message = error && error->message ? error->message : "does not compile";
    hs_free_compile_error(error);
    return message;
  }
  return Database(db, FreeDatabase{});
}

// Databases are immutable and thread-safe, and the built-ins' are the same in every scanner:
// compiled once per process (while some scanner uses them), so a reload or a test that builds
// many scanners does not pay Hyperscan's compile time (milliseconds per expression) again.
Database cached(const std::string& key, const std::function<Database()>& compile) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const hs_database_t>> cache;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end())
      if (auto db = it->second.lock()) return db;
  }
  Database db = compile();
  if (!db) return db;
  std::lock_guard lock(mu);
  for (auto it = cache.begin(); it != cache.end();)
    it = it->second.expired() ? cache.erase(it) : std::next(it);
  cache[key] = db;
  return db;
}

std::size_t max_width(const std::string& regex, unsigned flags) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_expression_info(regex.c_str(), flags, &info, &error) != HS_SUCCESS) {
    hs_free_compile_error(error);
    return kUnbounded;
  }
  const std::size_t w = info->max_width == UINT_MAX ? kUnbounded : info->max_width;
  std::free(info);  // allocated with Hyperscan's misc allocator: malloc unless set
  return w;
}

}  // namespace

std::variant<CompiledPattern, std::string> compile_pattern(std::string_view regex_view,
                                                           bool caseless) {
  if (regex_view.find('\0') != std::string_view::npos) return std::string("contains a NUL byte");
  const std::string regex(regex_view);
  const unsigned flags = caseless ? HS_FLAG_CASELESS : 0;
  auto plain = compile_one(regex, flags);
  if (auto* message = std::get_if<std::string>(&plain)) return std::move(*message);
  CompiledPattern out;
  out.width = max_width(regex, flags);
  auto som = compile_one(regex, flags | HS_FLAG_SOM_LEFTMOST);
  if (auto* db = std::get_if<Database>(&som)) out.som = std::move(*db);
  if (out.width == kUnbounded) {
    if (!out.som) return std::get<std::string>(som) + " (with start of match)";
    return out;
  }
  // Anchored probes: a match from one given start. They find where the next match starts after
  // one that hid it, and replace start of match where Hyperscan refuses it for large bounded
  // repeats ("Pattern is too large").
  auto at_0 = compile_one(R"(\A(?:)" + regex + ")", flags);
  auto after_1 = compile_one(R"(\A[\s\S](?:)" + regex + ")", flags);
  if (!std::holds_alternative<Database>(at_0) || !std::holds_alternative<Database>(after_1)) {
    if (!out.som) return std::get<std::string>(som) + " (with start of match)";
    return out;
  }
  out.probe_at_0 = std::get<Database>(std::move(at_0));
  out.probe_after_1 = std::get<Database>(std::move(after_1));
  return out;
}

}  // namespace detail

namespace {

// --- per-thread Hyperscan scratch and buffers ---------------------------------------------------

struct Hit {
  std::uint32_t expr;
  std::size_t end;
  bool operator<(const Hit& o) const { return expr != o.expr ? expr < o.expr : end < o.end; }
  bool operator==(const Hit& o) const = default;
};
struct Span {
  std::size_t start, end;
};

struct ThreadState {
  hs_scratch_t* scratch = nullptr;
  // The scanners `scratch` was grown for (a scratch only ever grows, so it fits them all): after
  // a reload, streams of the old snapshot and requests of the new one alternate on a thread.
  std::array<std::uint64_t, 4> fits{};
  std::size_t next_fit = 0;
  std::vector<Hit> hits;
  std::vector<std::size_t> ends;
  std::vector<Span> pairs, spans;
  std::vector<Match> found;
  ~ThreadState() {
    if (scratch) hs_free_scratch(scratch);
  }
};

ThreadState& thread_state() {
  thread_local ThreadState t;
  return t;
}

void grow(hs_scratch_t*& scratch, const Database& db) {
  if (db && hs_alloc_scratch(db.get(), &scratch) != HS_SUCCESS) throw std::bad_alloc();
}

// One scratch per thread serves every scanner: hs_alloc_scratch grows it to fit each database
// (several config snapshots' scanners coexist), once per scanner in a row.
hs_scratch_t* scratch_for(ThreadState& ts, const Scanner::Impl& impl) {
  if (std::find(ts.fits.begin(), ts.fits.end(), impl.id) != ts.fits.end()) return ts.scratch;
  grow(ts.scratch, impl.first_pass);
  for (const Expr& x : impl.exprs) {
    grow(ts.scratch, x.som);
    grow(ts.scratch, x.probe_at_0);
    grow(ts.scratch, x.probe_after_1);
  }
  ts.fits[ts.next_fit] = impl.id;
  ts.next_fit = (ts.next_fit + 1) % ts.fits.size();
  return ts.scratch;
}

void check_scan(hs_error_t rc) {
  // The databases and scratch are ours and valid; anything else is a broken invariant.
  if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
    std::fprintf(stderr, "gatehouse: hs_scan failed (%d)\n", rc);
    std::abort();
  }
}

unsigned scan_length(std::string_view text) {
  // Request and answer bodies are limited far below this by the HTTP layer.
  if (text.size() > UINT_MAX) throw std::length_error("guard: text over 4 GiB");
  return static_cast<unsigned>(text.size());
}

// Every (leftmost start, end) Hyperscan reports in text[from, to), as offsets into text.
void som_pairs(const Database& db, std::string_view text, std::size_t from, std::size_t to,
               hs_scratch_t* scratch, std::vector<Span>& out) {
  struct Ctx {
    std::vector<Span>* out;
    std::size_t base;
  } ctx{&out, from};
  auto on_match = [](unsigned, unsigned long long start, unsigned long long end, unsigned,
                     void* c) -> int {
    auto* x = static_cast<Ctx*>(c);
    x->out->push_back({x->base + std::size_t(start), x->base + std::size_t(end)});
    return 0;
  };
  out.clear();
  check_scan(hs_scan(db.get(), text.data() + from, scan_length(text.substr(from, to - from)), 0,
                     scratch, on_match, &ctx));
}

// The leftmost starts of the matches of `x` that end at `ends` (sorted) in text[a, b), for a
// pattern Hyperscan cannot compile with start of match: start by start from the first one a
// match can have, the anchored probe reports every end a match from there reaches (one scan of
// at most width bytes each), until every end has its start.
void probe_pairs(const Expr& x, std::string_view text, std::size_t a, std::size_t b,
                 const std::vector<std::size_t>& ends, hs_scratch_t* scratch,
                 std::vector<Span>& out, std::size_t only_start = SIZE_MAX) {
  out.clear();
  auto first = std::upper_bound(ends.begin(), ends.end(), a);
  auto last = std::upper_bound(first, ends.end(), b);
  if (first == last) return;
  std::vector<bool> done(std::size_t(last - first), false);
  std::size_t left = done.size();
  struct Ctx {
    std::size_t from, start;
    std::vector<std::size_t>::const_iterator first, last;
    std::vector<bool>* done;
    std::size_t* left;
    std::vector<Span>* out;
  };
  auto on_match = [](unsigned, unsigned long long, unsigned long long to, unsigned,
                     void* c) -> int {
    auto* k = static_cast<Ctx*>(c);
    const std::size_t end = k->from + std::size_t(to);
    auto it = std::lower_bound(k->first, k->last, end);
    if (it == k->last || *it != end) return 0;
    const std::size_t i = std::size_t(it - k->first);
    if ((*k->done)[i]) return 0;
    (*k->done)[i] = true;
    --*k->left;
    k->out->push_back({k->start, end});
    return 0;
  };
  const std::size_t n = text.size();
  std::size_t s = a == 0 ? 0 : a + 1;
  const std::size_t stop = only_start == SIZE_MAX ? *(last - 1) : only_start + 1;
  if (only_start != SIZE_MAX) s = only_start;
  for (; left > 0 && s < stop; ++s) {
    const std::size_t from = s == 0 ? 0 : s - 1;
    const std::size_t to = std::min(n, s + x.width + kContextBytes);
    Ctx ctx{from, s, first, last, &done, &left, &out};
    check_scan(hs_scan((s == 0 ? x.probe_at_0 : x.probe_after_1).get(), text.data() + from,
                       scan_length(text.substr(from, to - from)), 0, scratch, on_match, &ctx));
  }
}

// The first match that starts at or after `from` (> 0), with its longest end among `ends`:
// probed start by start (finditer's "search again after the match").
std::optional<Span> next_start_after(const Expr& x, std::string_view text, std::size_t from,
                                     const std::vector<std::size_t>& ends, hs_scratch_t* scratch) {
  auto first = std::upper_bound(ends.begin(), ends.end(), from);
  if (first == ends.end()) return std::nullopt;
  std::vector<Span> reached;
  for (std::size_t s = from; s < ends.back(); ++s) {
    probe_pairs(x, text, s - 1, std::min(text.size(), s + x.width + kContextBytes), ends, scratch,
                reached, s);
    if (!reached.empty()) {
      Span best = reached.front();
      for (const Span& r : reached) best.end = std::max(best.end, r.end);
      return best;
    }
  }
  return std::nullopt;
}

// Spans::kExact: for each end the first pass found, the leftmost start (found in the region
// where a match ending there can start, with bytes of context on both sides); then, like a
// regex engine's finditer, the longest match of the first start, the next start after it...
void exact_spans(const Expr& x, std::string_view text, const std::vector<std::size_t>& ends,
                 ThreadState& ts, hs_scratch_t* scratch) {
  const std::size_t n = text.size();
  auto& pairs = ts.pairs;
  std::vector<Span> all;
  auto region = [&](std::size_t a, std::size_t b) {
    if (x.som)
      som_pairs(x.som, text, a, b, scratch, pairs);
    else
      probe_pairs(x, text, a, b, ends, scratch, pairs);
    for (const Span& p : pairs) {
      // A match that starts on the context byte before the region, or ends where the region
      // (not the text) ends, is an artefact of the cut: the real ones end where the first pass
      // said, and start after a (first) byte that is context.
      if (a > 0 && p.start <= a) continue;
      if (!std::binary_search(ends.begin(), ends.end(), p.end)) continue;
      all.push_back(p);
    }
  };
  std::size_t a = 0, b = 0;
  bool open = false;
  for (std::size_t e : ends) {
    const std::size_t from = (x.width == kUnbounded || e <= x.width + 1) ? 0 : e - x.width - 1;
    const std::size_t to = std::min(n, e + kContextBytes);
    if (open && from <= b) {
      b = std::max(b, to);
      continue;
    }
    if (open) region(a, b);
    a = from, b = to, open = true;
  }
  if (open) region(a, b);
  std::sort(all.begin(), all.end(), [](const Span& l, const Span& r) {
    return l.start != r.start ? l.start < r.start : l.end > r.end;
  });
  std::size_t last_end = 0;
  bool any = false;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Span& p = all[i];
    if (any && p.start < last_end) {
      // A match ends after the one kept, but its leftmost start is inside it: a match may still
      // start after it ([a-z]{20,250} over 300 letters: the last 50). Look for the next start.
      if (p.end > last_end && x.probe_after_1) {
        if (auto next = next_start_after(x, text, last_end, ends, scratch)) {
          ts.spans.push_back(*next);
          last_end = next->end;
        } else {
          break;  // no match starts after the one kept
        }
      }
      continue;
    }
    ts.spans.push_back(p);
    last_end = p.end;
    any = true;
  }
}

// Spans::kWindowed: from the first start (in a window that reaches the first pass's next end)
// on, its ends, longest first, until one passes the `after` check and the validator. A start
// right after a `before` byte is inside a longer token, and the recognizer's valid_start may
// refuse others: such starts are skipped without a scan. The next start searched is after the
// match, or after the refused start.
void windowed_spans(const Expr& x, std::string_view text, const std::vector<std::size_t>& ends,
                    ThreadState& ts, hs_scratch_t* scratch, std::size_t starts_from,
                    std::size_t starts_before) {
  const Recognizer& r = *x.builtin;
  const std::size_t n = text.size(), w = x.width;
  auto& pairs = ts.pairs;
  std::vector<std::size_t> ends_of_start;
  auto may_start = [&](std::size_t t) {
    return r.first.test(static_cast<unsigned char>(text[t])) &&
           !(t > 0 && r.before.test(static_cast<unsigned char>(text[t - 1]))) &&
           (!r.valid_start || r.valid_start(text, t));
  };
  auto next_start = [&](std::size_t t) {
    while (t < n && !may_start(t)) ++t;
    return t;
  };
  // A start is decided from the text around it and from where the last accepted match ended;
  // none straddles starts_from (the caller's word), so the search may begin there.
  std::size_t cursor = next_start(starts_from), i = 0;
  for (;;) {
    while (i < ends.size() && ends[i] <= cursor) ++i;
    if (i == ends.size() || cursor >= starts_before) break;
    const std::size_t lo = std::max(cursor, ends[i] > w ? ends[i] - w : 0);
    const std::size_t hi = std::min(n, lo + 2 * w + 1);
    som_pairs(x.som, text, lo, hi, scratch, pairs);
    if (pairs.empty()) {
      cursor = next_start(lo + w + 1);
      continue;
    }
    std::size_t s = SIZE_MAX;
    for (const Span& p : pairs) s = std::min(s, p.start);
    if (s > lo + w) {  // its longer matches may reach past this window
      cursor = next_start(s);
      continue;
    }
    if (!may_start(s)) {
      cursor = next_start(s + 1);
      continue;
    }
    ends_of_start.clear();
    for (const Span& p : pairs)
      if (p.start == s) ends_of_start.push_back(p.end);
    std::sort(ends_of_start.begin(), ends_of_start.end(), std::greater<>());
    bool accepted = false;
    int tries = 0;
    for (std::size_t e : ends_of_start) {
      if (e - s > w) continue;
      if (e < n && r.after.test(static_cast<unsigned char>(text[e]))) continue;
      if (tries++ == r.tries) break;
      if (r.valid && !r.valid({text, s, e, x.region})) continue;
      ts.spans.push_back({s, e});
      cursor = e;
      accepted = true;
      break;
    }
    if (!accepted) cursor = next_start(s + 1);
  }
}

// Spans::kPem: the BEGIN line that ends at a first-pass end starts at most 66 bytes before it;
// pem_extent reads the block from there.
void pem_spans(std::string_view text, const std::vector<std::size_t>& ends, ThreadState& ts) {
  constexpr std::string_view kBegin = "-----BEGIN";
  std::size_t cursor = 0;
  for (std::size_t e : ends) {
    if (e <= cursor || e < kBegin.size()) continue;
    const std::size_t from = std::max(cursor, e > 66 ? e - 66 : 0);
    const std::size_t p = text.rfind(kBegin, e - kBegin.size());
    if (p == std::string_view::npos || p < from) continue;
    const detail::PemExtent ext = detail::pem_extent(text, p);
    if (ext.end == 0) continue;
    ts.spans.push_back({p, ext.end});
    cursor = ext.end;
  }
}

// A span that cuts a UTF-8 character (a user pattern's `.` or `[^\s]` stops after any byte)
// takes the whole character, so masking never leaves half of one. Invalid sequences stay as
// they are.
bool continuation(std::string_view t, std::size_t i) {
  return i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80;
}
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;
}
// The [lead, lead + length) of the valid character that byte `i` (a continuation byte) is in.
std::optional<Span> character_at(std::string_view t, std::size_t i) {
  for (std::size_t k = 1; k <= 3 && k <= i; ++k) {
    if (continuation(t, i - k)) continue;
    const std::size_t lead = i - k, len = sequence_length(static_cast<unsigned char>(t[lead]));
    if (len <= k || lead + len > t.size()) return std::nullopt;
    for (std::size_t j = lead + 1; j < lead + len; ++j)
      if (!continuation(t, j)) return std::nullopt;
    return Span{lead, lead + len};
  }
  return std::nullopt;
}
void widen_to_characters(std::string_view t, Span& s) {
  if (continuation(t, s.start))
    if (auto c = character_at(t, s.start)) s.start = c->start;
  if (continuation(t, s.end))
    if (auto c = character_at(t, s.end)) s.end = c->end;
}

int tier(Action a) {
  switch (a) {
    case Action::kBlock:
      return 0;
    case Action::kMask:
      return 1;
    case Action::kLog:
      return 2;
  }
  return 0;
}

}  // namespace

// --- build ---------------------------------------------------------------------------------------

std::variant<std::shared_ptr<const Scanner>, Scanner::BuildError> Scanner::build(
    std::vector<GuardrailSpec> specs) {
  if (specs.size() > kMaxGuardrails)
    return BuildError{kMaxGuardrails, 0,
                      "at most " + std::to_string(kMaxGuardrails) + " guardrails per config"};
  if (hs_valid_platform() != HS_SUCCESS)
    return BuildError{0, 0, "this CPU cannot run Hyperscan (it needs SSSE3)"};
  std::shared_ptr<Scanner> scanner(new Scanner());
  scanner->impl_ = std::make_unique<Impl>();
  Impl& impl = *scanner->impl_;
  static std::atomic<std::uint64_t> next_id{1};
  impl.id = next_id++;

  struct Origin {
    std::size_t guardrail, pattern;
  };
  std::optional<BuildError> failed;
  std::vector<Origin> origins;  // per expression: where it was first asked for
  std::map<std::string, std::uint32_t> by_key;
  auto add_rule = [&](std::size_t g, std::string entity, Action action) {
    scanner->rules_.push_back({std::uint32_t(g), std::move(entity), action});
    return std::uint32_t(scanner->rules_.size() - 1);
  };
  auto attach = [&](const std::string& key, std::uint32_t rule, Origin origin, auto&& make) {
    auto [it, fresh] = by_key.try_emplace(key, std::uint32_t(impl.exprs.size()));
    if (fresh) {
      impl.exprs.push_back(make());
      origins.push_back(origin);
    }
    Expr& x = impl.exprs[it->second];
    x.rules.push_back(rule);
    x.guardrails |= GuardrailSet(1) << scanner->rules_[rule].guardrail;
  };
  auto add_builtin = [&](std::uint32_t rule, const Recognizer& r, std::string region,
                         Origin origin) {
    const std::string key = "builtin\n" + r.detect + "\n" + region;
    attach(key, rule, origin, [&] {
      Expr x;
      x.spans = r.spans;
      x.builtin = &r;
      x.detect = r.detect;
      x.flags = r.caseless ? HS_FLAG_CASELESS : 0;
      x.width = r.max_len;
      x.region = region;
      if (r.spans != Spans::kPem) {
        const std::string& span =
            r.spans == Spans::kWindowed && !r.span.empty() ? r.span : r.detect;
        const unsigned flags = x.flags | HS_FLAG_SOM_LEFTMOST;
        x.som = detail::cached("som\n" + std::to_string(flags) + "\n" + span, [&] {
          auto db = detail::compile_one(span, flags);
          if (auto* message = std::get_if<std::string>(&db)) {
            // Only a Hyperscan that differs from the one the unit tests ran with gets here.
            failed = BuildError{origin.guardrail, origin.pattern,
                                "built-in " + std::string(r.entity) + ": " + *message};
            return Database();
          }
          return std::get<Database>(db);
        });
      }
      x.hold.cls = r.cls;
      x.hold.first = r.first;
      x.hold.prefixes = r.prefixes;
      x.hold.caseless = r.caseless;
      x.hold.pem = r.spans == Spans::kPem;
      x.hold.cap = r.max_len + kContextBytes;
      detail::finish(x.hold);
      return x;
    });
  };

  for (std::size_t g = 0; g < specs.size(); ++g) {
    const GuardrailSpec& spec = specs[g];
    switch (spec.kind) {
      case Kind::kModel:
        break;
      case Kind::kPii:
      case Kind::kSecrets: {
        const bool pii = spec.kind == Kind::kPii;
        const auto all = pii ? pii_entities() : secret_kinds();
        std::vector<std::string> names(spec.entities.begin(), spec.entities.end());
        if (names.empty()) names.assign(all.begin(), all.end());
        for (std::size_t j = 0; j < names.size(); ++j) {
          const auto recognizers =
              pii ? detail::pii_recognizers(names[j]) : detail::secret_recognizers(names[j]);
          if (recognizers.empty())
            return BuildError{
                g, j, std::string(pii ? "unknown pii entity " : "unknown secret kind ") + names[j]};
          std::string region;
          if (names[j] == "PHONE_NUMBER") {
            if (!detail::phone_region_known(spec.region))
              return BuildError{g, j, "unknown phone number region " + spec.region};
            region = spec.region;
          }
          const std::uint32_t rule = add_rule(g, names[j], spec.action);
          for (const Recognizer& r : recognizers) add_builtin(rule, r, region, {g, j});
          if (failed) return *failed;
        }
        break;
      }
      case Kind::kPromptInjection: {
        const std::uint32_t rule = add_rule(g, std::string(kPromptInjectionEntity), spec.action);
        for (const Recognizer& r : detail::injection_recognizers())
          add_builtin(rule, r, "", {g, 0});
        if (failed) return *failed;
        break;
      }
      case Kind::kRegex:
        for (std::size_t j = 0; j < spec.patterns.size(); ++j) {
          const PatternSpec& p = spec.patterns[j];
          auto compiled = detail::compile_pattern(p.regex, p.caseless);
          if (auto* message = std::get_if<std::string>(&compiled))
            return BuildError{g, j, std::move(*message)};
          const std::uint32_t rule = add_rule(g, p.name, p.action.value_or(spec.action));
          const std::string key = std::string("user\n") + (p.caseless ? "i" : "") + "\n" + p.regex;
          attach(key, rule, {g, j}, [&] {
            auto& c = std::get<detail::CompiledPattern>(compiled);
            Expr x;
            x.spans = Spans::kExact;
            x.detect = p.regex;
            x.flags = p.caseless ? HS_FLAG_CASELESS : 0;
            x.width = c.width;
            x.som = std::move(c.som);
            x.probe_at_0 = std::move(c.probe_at_0);
            x.probe_after_1 = std::move(c.probe_after_1);
            x.hold.prefixes = detail::literal_prefixes(p.regex);
            x.hold.caseless = p.caseless;
            x.hold.cap = std::min(c.width, detail::kUnboundedWindow) + kContextBytes;
            detail::finish(x.hold);
            return x;
          });
        }
        break;
    }
  }

  if (!impl.exprs.empty()) {
    std::vector<const char*> expressions;
    std::vector<unsigned> flags, ids;
    std::string key = "first\n";
    for (std::size_t i = 0; i < impl.exprs.size(); ++i) {
      expressions.push_back(impl.exprs[i].detect.c_str());
      flags.push_back(impl.exprs[i].flags);
      ids.push_back(unsigned(i));
      key += std::to_string(impl.exprs[i].flags) + ":" + impl.exprs[i].detect + "\n";
    }
    impl.first_pass = detail::cached(key, [&]() -> Database {
      hs_database_t* db = nullptr;
      hs_compile_error_t* error = nullptr;
      if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), unsigned(ids.size()),
                           HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
        const Origin o = error && error->expression >= 0 ? origins[std::size_t(error->expression)]
                                                         : origins.front();
        failed = BuildError{o.guardrail, o.pattern,
                            error && error->message ? error->message : "does not compile"};
        hs_free_compile_error(error);
        return nullptr;
      }
      return Database(db, detail::FreeDatabase{});
    });
    if (failed) return *failed;
  }
  detail::index_holds(impl.exprs, impl.holds);
  scanner->specs_ = std::move(specs);
  return std::shared_ptr<const Scanner>(std::move(scanner));
}

Scanner::~Scanner() = default;

// --- scan ----------------------------------------------------------------------------------------

void Scanner::candidates(std::string_view text, GuardrailSet set, std::vector<Match>& out,
                         std::size_t starts_from, std::size_t starts_before) const {
  if (!impl_->first_pass || text.empty()) return;
  ThreadState& ts = thread_state();
  hs_scratch_t* scratch = scratch_for(ts, *impl_);
  struct Ctx {
    const Impl* impl;
    GuardrailSet set;
    std::vector<Hit>* hits;
  } ctx{impl_.get(), set, &ts.hits};
  auto on_match = [](unsigned id, unsigned long long, unsigned long long end, unsigned,
                     void* c) -> int {
    auto* x = static_cast<Ctx*>(c);
    if (x->impl->exprs[id].guardrails & x->set) x->hits->push_back({id, std::size_t(end)});
    return 0;
  };
  ts.hits.clear();
  check_scan(
      hs_scan(impl_->first_pass.get(), text.data(), scan_length(text), 0, scratch, on_match, &ctx));
  if (ts.hits.empty()) return;  // the common case: one pass over the text, nothing else

  std::sort(ts.hits.begin(), ts.hits.end());
  ts.hits.erase(std::unique(ts.hits.begin(), ts.hits.end()), ts.hits.end());
  for (std::size_t i = 0; i < ts.hits.size();) {
    const std::uint32_t id = ts.hits[i].expr;
    ts.ends.clear();
    for (; i < ts.hits.size() && ts.hits[i].expr == id; ++i) ts.ends.push_back(ts.hits[i].end);
    const Expr& x = impl_->exprs[id];
    ts.spans.clear();
    switch (x.spans) {
      case Spans::kExact:
        exact_spans(x, text, ts.ends, ts, scratch);
        break;
      case Spans::kWindowed:
        windowed_spans(x, text, ts.ends, ts, scratch, starts_from, starts_before);
        break;
      case Spans::kPem:
        pem_spans(text, ts.ends, ts);
        break;
    }
    for (Span s : ts.spans) {
      if (s.start >= starts_before) continue;
      widen_to_characters(text, s);
      for (std::uint32_t rule : x.rules)
        if ((set >> rules_[rule].guardrail) & 1) out.push_back({s.start, s.end, rule});
    }
  }
}

void Scanner::resolve(std::vector<Match>& matches) const {
  std::sort(matches.begin(), matches.end(), [&](const Match& a, const Match& b) {
    const int ta = tier(rules_[a.rule].action), tb = tier(rules_[b.rule].action);
    if (ta != tb) return ta < tb;
    if (a.start != b.start) return a.start < b.start;
    if (a.end != b.end) return a.end > b.end;
    return a.rule < b.rule;
  });
  std::vector<Match> kept;
  kept.reserve(matches.size());
  for (const Match& m : matches) {
    auto it = std::lower_bound(kept.begin(), kept.end(), m.start,
                               [](const Match& k, std::size_t s) { return k.start < s; });
    if (it != kept.end() && it->start < m.end) continue;
    if (it != kept.begin() && std::prev(it)->end > m.start) continue;
    kept.insert(it, m);
  }
  matches = std::move(kept);
}

void Scanner::scan(std::string_view text, GuardrailSet set, std::vector<Match>& out) const {
  std::vector<Match>& found = thread_state().found;
  found.clear();
  candidates(text, set, found);
  if (found.empty()) return;
  resolve(found);
  out.insert(out.end(), found.begin(), found.end());
}

}  // namespace gatehouse::guard
