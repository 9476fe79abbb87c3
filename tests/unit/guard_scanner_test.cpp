// The scanner: regex guardrails and their per-pattern actions, overlaps, guardrail sets, build
// and pattern errors, the exact spans of user patterns (bounded, unbounded, too large for start
// of match), odd input (invalid UTF-8, NUL bytes, a megabyte), and how much a stream must hold.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "guard_util.h"

namespace gatehouse::guard {
namespace {

using testing::Found;
using testing::found;
using testing::pattern;

constexpr GuardrailSet kAll = ~GuardrailSet(0);

TEST(GuardSpec, ActionsAndKinds) {
  for (Action a : {Action::kBlock, Action::kMask, Action::kLog})
    EXPECT_EQ(parse_action(to_string(a)), a);
  EXPECT_EQ(parse_action("deny"), std::nullopt);
  EXPECT_EQ(to_string(Kind::kPii), "pii");
  EXPECT_EQ(to_string(Kind::kRegex), "regex");
  EXPECT_EQ(to_string(Kind::kSecrets), "secrets");
  EXPECT_EQ(to_string(Kind::kPromptInjection), "prompt_injection");
  EXPECT_EQ(to_string(Kind::kModel), "model");
  EXPECT_EQ(pii_entities().size(), 6u);
  EXPECT_GE(secret_kinds().size(), 8u);
}

TEST(GuardSpec, CheckPattern) {
  EXPECT_EQ(check_pattern(R"(dapi[a-f0-9]{32})", false), std::nullopt);
  EXPECT_EQ(check_pattern(R"(jdbc:databricks://[^\s]+)", true), std::nullopt);
  // Too large for start of match: probed instead, so it is accepted.
  EXPECT_EQ(check_pattern(R"([A-Za-z0-9]{20,250})", false), std::nullopt);
  for (const char* bad : {"(", "a{2,1}", "", "a*", R"((?<=a)b)", R"((a)\1)", "[z-a]"}) {
    auto message = check_pattern(bad, false);
    ASSERT_TRUE(message.has_value()) << bad;
    EXPECT_FALSE(message->empty()) << bad;
  }
  EXPECT_NE(check_pattern("a*", false)->find("empty"), std::string::npos);
  EXPECT_TRUE(check_pattern(std::string("a\0b", 3), false).has_value());
}

TEST(GuardScanner, BuildErrorsNameThePattern) {
  auto built = Scanner::build(
      {testing::pii(), testing::regex("dlp", {pattern("ok", "abc"), pattern("ok2", "def"),
                                              pattern("broken", "ab(c")})});
  ASSERT_TRUE(std::holds_alternative<Scanner::BuildError>(built));
  auto e = std::get<Scanner::BuildError>(built);
  EXPECT_EQ(e.guardrail, 1u);
  EXPECT_EQ(e.pattern, 2u);
  EXPECT_NE(e.message.find("paren"), std::string::npos) << e.message;

  built = Scanner::build({testing::pii({"EMAIL_ADDRESS", "PASSPORT"})});
  ASSERT_TRUE(std::holds_alternative<Scanner::BuildError>(built));
  e = std::get<Scanner::BuildError>(built);
  EXPECT_EQ(e.guardrail, 0u);
  EXPECT_EQ(e.pattern, 1u);
  EXPECT_NE(e.message.find("PASSPORT"), std::string::npos);

  built = Scanner::build({testing::secrets({"AZURE_KEY"})});
  ASSERT_TRUE(std::holds_alternative<Scanner::BuildError>(built));

  std::vector<GuardrailSpec> many(kMaxGuardrails + 1, testing::pii({"EMAIL_ADDRESS"}));
  EXPECT_TRUE(std::holds_alternative<Scanner::BuildError>(Scanner::build(many)));
  many.pop_back();
  EXPECT_TRUE(testing::build(many) != nullptr);
}

TEST(GuardScanner, ModelGuardrailsAreNoScan) {
  GuardrailSpec model;
  model.name = "llama-guard";
  model.kind = Kind::kModel;
  model.model = "guard-model";
  auto s = testing::build({model, testing::pii({"EMAIL_ADDRESS"})});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->guardrail_count(), 2u);
  EXPECT_EQ(s->guardrail(0).model, "guard-model");
  std::vector<Match> m;
  s->scan("mail jane@example.com", 0b01, m);
  EXPECT_TRUE(m.empty());
  s->scan("mail jane@example.com", 0b10, m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(s->rule(m[0].rule).guardrail, 1u);

  auto none = testing::build({model});
  ASSERT_TRUE(none);
  m.clear();
  none->scan("anything", kAll, m);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(none->hold("anything", kAll), 0u);
  EXPECT_EQ(none->window(kAll), 0u);
}

TEST(GuardScanner, RegexPatternsWithTheirActions) {
  auto s = testing::build({testing::regex(
      "dlp",
      {pattern("databricks-pat", "dapi[a-f0-9]{32}", Action::kBlock),
       pattern("jdbc-connection-string", R"(jdbc:databricks://[^\s]+)", Action::kMask),
       pattern("project-code", R"(PRJ-\d{4})")},
      Action::kLog)});
  const std::string text =
      "use dapi0123456789abcdef0123456789abcdef with "
      "jdbc:databricks://adb-1.azuredatabricks.net:443/default;transportMode=http for PRJ-1234.";
  std::vector<Match> m;
  s->scan(text, kAll, m);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(s->rule(m[0].rule).entity, "databricks-pat");
  EXPECT_EQ(s->rule(m[0].rule).action, Action::kBlock);
  EXPECT_EQ(text.substr(m[1].start, m[1].end - m[1].start),
            "jdbc:databricks://adb-1.azuredatabricks.net:443/default;transportMode=http");
  EXPECT_EQ(s->rule(m[1].rule).action, Action::kMask);
  EXPECT_EQ(s->rule(m[2].rule).entity, "project-code");
  EXPECT_EQ(s->rule(m[2].rule).action, Action::kLog);  // the guardrail's
  EXPECT_EQ(m[2].end - m[2].start, 8u);
}

TEST(GuardScanner, Caseless) {
  auto s = testing::build(
      {testing::regex("words", {pattern("loud", R"(top\s+secret)", Action::kMask, true),
                                pattern("exact", "Codename", Action::kMask, false)})});
  EXPECT_EQ(found(*s, "this is TOP   Secret, codename x"), (Found{{"loud", "TOP   Secret"}}));
  EXPECT_EQ(found(*s, "Codename x"), (Found{{"exact", "Codename"}}));
}

TEST(GuardScanner, OverlapsKeepTheFirstThenTheLonger) {
  auto s = testing::build({testing::regex("r",
                                          {pattern("abc", "abc"), pattern("bcdef", "bcdef"),
                                           pattern("xy", "xy"), pattern("xyzw", "xyzw")},
                                          Action::kMask)});
  EXPECT_EQ(found(*s, "abcdef"), (Found{{"abc", "abc"}}));
  EXPECT_EQ(found(*s, "xyzw"), (Found{{"xyzw", "xyzw"}}));
  EXPECT_EQ(found(*s, "abcdef xyzw abc"),
            (Found{{"abc", "abc"}, {"xyzw", "xyzw"}, {"abc", "abc"}}));
}

TEST(GuardScanner, StricterActionWinsAnOverlap) {
  // A shadow-mode (log) rule that starts first must not unmask or unblock what another finds.
  auto s = testing::build({testing::regex("shadow", {pattern("wide", R"(user \S+)")}, Action::kLog),
                           testing::pii({"EMAIL_ADDRESS"}, Action::kMask),
                           testing::secrets({"AWS_ACCESS_KEY_ID"}, Action::kBlock)});
  EXPECT_EQ(found(*s, "user jane@example.com"), (Found{{"EMAIL_ADDRESS", "jane@example.com"}}));
  EXPECT_EQ(found(*s, "user AKIAIOSFODNN7EXAMPLE"),
            (Found{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"}}));
  EXPECT_EQ(found(*s, "user bob"), (Found{{"wide", "user bob"}}));
}

TEST(GuardScanner, GuardrailSetSelects) {
  auto s = testing::build({testing::pii({"EMAIL_ADDRESS"}, Action::kMask, "a"),
                           testing::pii({"EMAIL_ADDRESS", "US_SSN"}, Action::kBlock, "b"),
                           testing::regex("c", {pattern("ticket", R"(TCK-\d+)")}, Action::kLog)});
  const std::string text = "jane@example.com 123-45-6789 TCK-42";
  std::vector<Match> m;
  s->scan(text, 0b001, m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(s->rule(m[0].rule).guardrail, 0u);
  m.clear();
  s->scan(text, 0b100, m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(s->rule(m[0].rule).entity, "ticket");
  m.clear();
  // The same email in two guardrails: one match, the block one.
  s->scan(text, 0b011, m);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(s->rule(m[0].rule).guardrail, 1u);
  EXPECT_EQ(s->rule(m[0].rule).action, Action::kBlock);
  EXPECT_EQ(s->rule(m[1].rule).entity, "US_SSN");
  m.clear();
  std::vector<Match> c;
  s->candidates(text, 0b011, c);
  EXPECT_EQ(c.size(), 3u);  // the email once per guardrail, before overlaps are resolved
  s->scan(text, 0, m);
  EXPECT_TRUE(m.empty());
}

TEST(GuardScanner, ScanAppends) {
  auto s = testing::build({testing::pii({"EMAIL_ADDRESS"})});
  std::vector<Match> m{{0, 1, 0}};
  s->scan("a jane@example.com", kAll, m);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].start, 2u);
}

TEST(GuardScanner, UserPatternSpans) {
  auto s = testing::build({testing::regex(
      "r",
      {pattern("word", R"(\bfoo\w*)"), pattern("anchored", R"(^START)"), pattern("tail", R"(END$)"),
       pattern("long", R"(\b[A-Za-z0-9]{20,250}\b)"), pattern("alt", "cat|category")},
      Action::kMask)});
  const std::string far(5000, ' ');
  const std::string text = "START foobar xfoo " + far + " foo_baz " + far +
                           " abcdefghijklmnopqrstuvwxyz0123 category START END";
  EXPECT_EQ(found(*s, text), (Found{{"anchored", "START"},
                                    {"word", "foobar"},
                                    {"word", "foo_baz"},
                                    {"long", "abcdefghijklmnopqrstuvwxyz0123"},
                                    {"alt", "category"},
                                    {"tail", "END"}}));
  // Longer than the bounded repeat allows: no word boundary where 250 characters end.
  EXPECT_EQ(found(*s, std::string(300, 'a')), Found{});
  EXPECT_EQ(found(*s, "ENDING"), Found{});
}

TEST(GuardScanner, NextMatchStartsAfterTheOneKept) {
  // As a regex engine's finditer: after a match, the next one is searched from its end, even
  // where the leftmost start of a later end lies inside the kept match.
  auto s = testing::build({testing::regex(
      "r", {pattern("long", "[a-z]{20,250}"), pattern("short", "[0-9]{3,5}")}, Action::kMask)});
  const std::string letters(300, 'q');
  EXPECT_EQ(found(*s, "<" + letters + ">"),
            (Found{{"long", letters.substr(0, 250)}, {"long", letters.substr(0, 50)}}));
  EXPECT_EQ(found(*s, "12345678 x"), (Found{{"short", "12345"}, {"short", "678"}}));
  EXPECT_EQ(found(*s, "1234567 x"), (Found{{"short", "12345"}}));  // "67" is too short
}

TEST(GuardScanner, UnboundedPatternSpansTheWholeRun) {
  auto s = testing::build(
      {testing::regex("r", {pattern("url", R"(jdbc:databricks://[^\s]+)")}, Action::kMask)});
  const std::string url = "jdbc:databricks://" + std::string(100000, 'x');
  EXPECT_EQ(found(*s, "a " + url + " b " + url), (Found{{"url", url}, {"url", url}}));
}

TEST(GuardScanner, MatchesTakeWholeUtf8Characters) {
  auto s = testing::build({testing::regex("r", {pattern("x2", "x.")}, Action::kMask)});
  EXPECT_EQ(found(*s, "a x\xc3\xa9 b"), (Found{{"x2", "x\xc3\xa9"}}));        // é
  EXPECT_EQ(found(*s, "a x\xe2\x82\xac"), (Found{{"x2", "x\xe2\x82\xac"}}));  // €
  EXPECT_EQ(found(*s, "a x\xc3"), (Found{{"x2", "x\xc3"}}));                  // cut: left as it is
}

TEST(GuardScanner, InvalidUtf8AndNulBytes) {
  auto s = testing::build({testing::pii(), testing::secrets(), testing::injection(),
                           testing::regex("r", {pattern("any", R"([^\s]+@)")}, Action::kLog)});
  using namespace std::string_literals;
  const std::string text =
      "\xff\xfe\x00\x80 jane@example.com \xc3\x28 +1 650 253 0000\x00\xe2\x82\x00\xf0\x9f\x98\x80 "
      "AKIAIOSFODNN7EXAMPLE \xed\xa0\x80"s;
  ASSERT_EQ(text.size(), 73u);
  std::vector<Match> m;
  s->scan(text, kAll, m);
  bool email = false, phone = false, aws = false;
  for (const Match& x : m) {
    email |= s->rule(x.rule).entity == "EMAIL_ADDRESS";
    phone |= s->rule(x.rule).entity == "PHONE_NUMBER";
    aws |= s->rule(x.rule).entity == "AWS_ACCESS_KEY_ID";
  }
  EXPECT_TRUE(email && phone && aws);
  // Random bytes: no crash, spans inside the text and sorted, non-overlapping.
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string junk(1 + rng() % 2000, '\0');
    for (char& c : junk)
      c = static_cast<char>(rng() % 4 == 0 ? "0123456789@.-: "[rng() % 15] : rng());
    m.clear();
    s->scan(junk, kAll, m);
    for (std::size_t i = 0; i < m.size(); ++i) {
      ASSERT_LT(m[i].start, m[i].end);
      ASSERT_LE(m[i].end, junk.size());
      if (i) {
        ASSERT_LE(m[i - 1].end, m[i].start);
      }
    }
    (void)s->hold(junk, kAll);
  }
}

TEST(GuardScanner, MegabyteText) {
  auto s = testing::build({testing::pii(), testing::secrets(), testing::injection()});
  std::string text;
  const std::string prose =
      "The quick brown fox jumps over the lazy dog, and then it rested for a while near the "
      "river bank, watching 17 boats and 3 ducks pass by on a calm afternoon in 2024. ";
  while (text.size() < (1 << 20)) text += prose;
  const std::size_t at1 = 1000, at2 = text.size() / 2, at3 = text.size() - 500;
  text.insert(at3, " jane@example.com ");
  text.insert(at2, " 4111 1111 1111 1111 ");
  text.insert(at1, " AKIAIOSFODNN7EXAMPLE ");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(found(*s, text), (Found{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
                                    {"CREDIT_CARD", "4111 1111 1111 1111"},
                                    {"EMAIL_ADDRESS", "jane@example.com"}}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(GuardScanner, ThreadsShareScanners) {
  auto a = testing::build({testing::pii()});
  auto b = testing::build(
      {testing::secrets(), testing::regex("r", {pattern("p", "[a-z]{3}-\\d{20,200}")})});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        if (found(*a, "x jane@example.com y") != Found{{"EMAIL_ADDRESS", "jane@example.com"}})
          ++wrong;
        if (found(*b, "k AKIAIOSFODNN7EXAMPLE abc-123456789012345678901") !=
            Found{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
                  {"p", "abc-123456789012345678901"}})
          ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
}

TEST(GuardHold, NothingInProseWithLiteralPrefixPatterns) {
  auto s = testing::build({testing::regex("dlp", {pattern("pat", "dapi[a-f0-9]{32}"),
                                                  pattern("jdbc", R"(jdbc:databricks://[^\s]+)")}),
                           testing::secrets()});
  EXPECT_EQ(s->hold("The quick brown fox jumps over the lazy dog.", kAll), 0u);
  EXPECT_EQ(s->hold("I have 3 apples and 4 pears\n", kAll), 0u);
  // A last letter that begins a prefix ("d" of dapi, "e" of eyJ, "s" of sk-) is held alone.
  for (const char* prose : {"Hello world", "I have 3 apples and 4 pears", "Done", "yes"})
    EXPECT_LE(s->hold(prose, kAll), 1u) << prose;
  EXPECT_EQ(s->hold("the data", kAll), 0u);
  EXPECT_EQ(s->hold("the da", kAll), 2u);
  EXPECT_EQ(s->hold("token dapi0123", kAll), 8u);
  EXPECT_EQ(s->hold("see jdbc:datab", kAll), 10u);
  EXPECT_EQ(s->hold("Thanks", kAll), 1u);  // "s" may begin "sk-"
  EXPECT_EQ(s->hold("key: sk-abc", kAll), 6u);
  EXPECT_EQ(s->hold("AKIAIOSFODNN7EXAMPLE", kAll), 20u);  // may still grow: AKIA... is 20 exactly
  EXPECT_EQ(s->hold("AKIAIOSFODNN7EXAMPLE ", kAll), 0u);
  EXPECT_EQ(s->hold("-----BEGIN RSA PRIVATE KEY-----\nMIIE", kAll), 36u);
  // Closed: only its last dashes are held, as they could begin another "-----BEGIN".
  EXPECT_EQ(s->hold("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", kAll),
            5u);
  EXPECT_EQ(s->hold("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", kAll),
            0u);
  const std::string open = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIV";
  EXPECT_EQ(s->hold(open, kAll), open.size());
  // The longest hold: a key block's body can be 8 KiB.
  EXPECT_GT(s->window(kAll), 8192u);
  EXPECT_EQ(s->window(0), 0u);
}

TEST(GuardHold, TheTrailingRunOfAnEntitysCharacters) {
  auto s = testing::build({testing::pii()});
  EXPECT_EQ(s->hold("write to jane.do", kAll), 7u);  // may become jane.doe@example.com
  EXPECT_EQ(s->hold("write to jane.doe@exam", kAll), 13u);
  EXPECT_EQ(s->hold("call 650 253", kAll), 7u);  // a phone number starts at a digit
  EXPECT_EQ(s->hold("call 650 253 ", kAll), 8u);
  EXPECT_EQ(s->hold("call me.", kAll), 3u);  // "me." may become me.x@example.com
  EXPECT_EQ(s->hold("call me!", kAll), 0u);
  // A run longer than any match is held only as far back as a match can start (an email is
  // at most 318 bytes).
  EXPECT_EQ(s->hold(std::string(1000, 'a'), kAll), 64u + 1u + 253u + 2u);
  EXPECT_EQ(s->window(kAll), 64u + 1u + 253u + 2u);
}

TEST(GuardHold, UserPatternsWithoutPrefixHoldTheirWidth) {
  auto s = testing::build({testing::regex("a", {pattern("digits", R"(\b\d{3}-\d{4}\b)")}),
                           testing::regex("b", {pattern("unbounded", R"(\w+@corp)")}),
                           testing::regex("c", {pattern("alt", "foo|bar")})});
  EXPECT_EQ(s->hold("hello there friend", 0b001), 8u + 2u);
  EXPECT_EQ(s->window(0b001), 8u + 2u);
  EXPECT_EQ(s->hold("hello there friend", 0b010), 18u);
  EXPECT_EQ(s->hold(std::string(1000, ' '), 0b010), 256u + 2u);
  EXPECT_EQ(s->window(kAll), 256u + 2u);
  EXPECT_EQ(s->hold("a ba", 0b100), 2u);
  EXPECT_EQ(s->hold("a fo", 0b100), 2u);
  EXPECT_EQ(s->hold("a fool", 0b100), 4u);
  EXPECT_EQ(s->hold("a fox", 0b100), 0u);
}

}  // namespace
}  // namespace gatehouse::guard
