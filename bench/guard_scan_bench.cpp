// Guardrail scanning kernels: Scanner::scan throughput with 16 DLP-like patterns on text with no
// match (the one pass every request pays) and with matches, the built-in recognizers, and a
// stream's cost per event. Run: build/release/bench/guard_scan_bench (see docs/benchmarks.md).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "guard/scanner.h"
#include "guard/stream.h"

namespace {

using namespace gatehouse::guard;

PatternSpec pattern(std::string name, std::string re) {
  PatternSpec p;
  p.name = std::move(name);
  p.regex = std::move(re);
  return p;
}

// Sixteen patterns of the kind a DLP policy lists: credentials, connection strings, ids.
GuardrailSpec dlp16() {
  GuardrailSpec g;
  g.name = "dlp";
  g.kind = Kind::kRegex;
  g.action = Action::kMask;
  g.patterns = {
      pattern("databricks-pat", R"(dapi[a-f0-9]{32})"),
      pattern("jdbc", R"(jdbc:databricks://[^\s]+)"),
      pattern("aws-key", R"(AKIA[A-Z0-9]{16})"),
      pattern("aws-secret", R"(aws_secret_access_key\s*=\s*[A-Za-z0-9/+=]{40})"),
      pattern("openai", R"(sk-[A-Za-z0-9]{48})"),
      pattern("github", R"(ghp_[A-Za-z0-9]{36})"),
      pattern("slack", R"(xox[bp]-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24})"),
      pattern("pem", R"(-----BEGIN [A-Z ]*PRIVATE KEY-----)"),
      pattern("ssn", R"(\b\d{3}-\d{2}-\d{4}\b)"),
      pattern("card", R"(\b4\d{3}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b)"),
      pattern("email", R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"),
      pattern("ipv4", R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)"),
      pattern("postgres-url", R"(postgres(?:ql)?://[^\s:]+:[^\s@]+@[^\s]+)"),
      pattern("password-assign", R"(password\s*[:=]\s*\S{8,})"),
      pattern("azure-conn", R"(AccountKey=[A-Za-z0-9+/=]{88})"),
      pattern("project-code", R"(PRJ-\d{6})"),
  };
  return g;
}

std::shared_ptr<const Scanner> build(std::vector<GuardrailSpec> specs) {
  auto built = Scanner::build(std::move(specs));
  if (auto* e = std::get_if<Scanner::BuildError>(&built)) {
    fprintf(stderr, "build: %s\n", e->message.c_str());
    std::abort();
  }
  return std::get<0>(built);
}

std::string prose(std::size_t size) {
  const std::string s =
      "The quick brown fox jumps over the lazy dog, and then it rested for a while near the "
      "river bank, watching the boats go by on a calm afternoon. Nobody asked it for anything, "
      "so it answered nothing at all; it simply enjoyed the sun and the sound of the water. ";
  std::string out;
  while (out.size() < size) out += s;
  out.resize(size);
  return out;
}

void scan(benchmark::State& state, const Scanner& s, const std::string& text) {
  std::vector<Match> out;
  for (auto _ : state) {
    out.clear();
    s.scan(text, ~GuardrailSet(0), out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["matches"] = double(out.size());
}

void BM_Dlp16NoMatch(benchmark::State& state) {
  static auto s = build({dlp16()});
  scan(state, *s, prose(std::size_t(state.range(0))));
}
BENCHMARK(BM_Dlp16NoMatch)->Arg(1 << 10)->Arg(100 << 10);

void BM_Dlp16WithMatches(benchmark::State& state) {
  static auto s = build({dlp16()});
  std::string text = prose(std::size_t(state.range(0)));
  // A few hits, as a prompt that carries a credential or two would.
  text.replace(text.size() / 3, 36, "dapi0123456789abcdef0123456789abcdef");
  text.replace(text.size() / 2, 20, "AKIAIOSFODNN7EXAMPLE");
  text.replace(text.size() * 2 / 3, 16, "jane@example.com");
  scan(state, *s, text);
}
BENCHMARK(BM_Dlp16WithMatches)->Arg(1 << 10)->Arg(100 << 10);

GuardrailSpec builtin(Kind kind) {
  GuardrailSpec g;
  g.name = std::string(to_string(kind));
  g.kind = kind;
  g.action = Action::kMask;
  return g;
}

void BM_BuiltinsNoMatch(benchmark::State& state) {
  static auto s =
      build({builtin(Kind::kPii), builtin(Kind::kSecrets), builtin(Kind::kPromptInjection)});
  scan(state, *s, prose(std::size_t(state.range(0))));
}
BENCHMARK(BM_BuiltinsNoMatch)->Arg(1 << 10)->Arg(100 << 10);

// A streamed answer of ~8 KB in 4-byte events (a token each), every guardrail on: the cost of
// scanning as it flows, per event.
void BM_StreamPerEvent(benchmark::State& state) {
  static auto s = build(
      {builtin(Kind::kPii), builtin(Kind::kSecrets), builtin(Kind::kPromptInjection), dlp16()});
  std::string text = prose(8 << 10);
  text.replace(4000, 16, "jane@example.com");
  std::size_t events = 0;
  for (auto _ : state) {
    TextStream ts;
    for (std::size_t at = 0; at < text.size(); at += 4, ++events)
      benchmark::DoNotOptimize(ts.feed(*s, ~GuardrailSet(0), std::string_view(text).substr(at, 4)));
    benchmark::DoNotOptimize(ts.finish(*s, ~GuardrailSet(0)));
  }
  state.counters["events"] = benchmark::Counter(double(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StreamPerEvent);

}  // namespace
