#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "config/load.h"
#include "limit/limiter.h"
#include "pipeline/limit.h"

namespace gatehouse::pipeline {
namespace {

const std::string kModels = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
models:
  chat-small: {provider: local}
  chat-big: {provider: local}
)";

// A config (models + `limits_yaml`), a limiter on a fake clock, and the stage.
struct Fixture {
  std::shared_ptr<const config::Config> config;
  std::atomic<std::int64_t> now_ms{1'700'000'000'000};
  limit::InProcessLimiter limiter{[this] { return now_ms.load(); }};
  std::unique_ptr<LimitStage> stage;

  explicit Fixture(const std::string& limits_yaml) {
    auto r = config::load_string(kModels + "limits:\n" + limits_yaml, "test.yaml",
                                 [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.to_string();
    config = r.config;
    if (config) stage = std::make_unique<LimitStage>(*config, limiter);
  }
  void advance_s(std::int64_t s) { now_ms += s * 1000; }
};

RequestContext key_ctx(const std::string& key, const std::string& project = "", const std::string& model = "chat-small") {
  RequestContext c;
  c.request.model_request = true;
  c.request.model = model;
  c.identity.key_name = key;
  c.identity.project = project;
  c.request.estimated_input_tokens = 10;
  c.request.estimated_output_tokens = 10;
  return c;
}

RequestContext user_ctx(const std::string& user, std::vector<std::string> groups) {
  RequestContext c;
  c.request.model_request = true;
  c.request.model = "chat-small";
  c.identity.user = user;
  c.identity.groups = std::move(groups);
  c.identity.jwt = true;
  c.request.estimated_input_tokens = 10;
  c.request.estimated_output_tokens = 10;
  return c;
}

std::string header(const RequestContext& c, const std::string& name) {
  for (const auto& [k, v] : c.response_headers) {
    if (k == name) return v;
  }
  return "<none>";
}

// How many of `n` fresh requests made by `make` are admitted (their tickets are kept, unsettled).
template <typename Make>
int admitted(const Fixture& f, int n, Make make) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    RequestContext c = make();
    if (!f.stage->on_routed(c)) ++ok;
  }
  return ok;
}

// A key's own rule beats the key default; other keys get the default, each its own counter.
TEST(LimitStage, KeyMatchBeatsKeyDefault) {
  Fixture f("  - {scope: key, qpm: 3}\n  - {scope: key, match: k1, qpm: 1}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_EQ(admitted(f, 5, [] { return key_ctx("k1"); }), 1);
  EXPECT_EQ(admitted(f, 5, [] { return key_ctx("k2"); }), 3);
  EXPECT_EQ(admitted(f, 5, [] { return key_ctx("k3"); }), 3);
}

// JWT callers: the user's own rule, else its groups' (shared by members), else the user default.
TEST(LimitStage, UserMatchBeatsGroupWhichBeatsUserDefault) {
  Fixture f("  - {scope: user, qpm: 3}\n  - {scope: group, match: g1, qpm: 2}\n  - {scope: user, match: alice, qpm: 1}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_EQ(admitted(f, 5, [] { return user_ctx("alice", {"g1"}); }), 1);   // her own rule
  EXPECT_EQ(admitted(f, 5, [] { return user_ctx("bob", {"g1"}); }), 2);     // g1's
  EXPECT_EQ(admitted(f, 5, [] { return user_ctx("dave", {"g1"}); }), 0);    // g1 is shared: spent by bob
  EXPECT_EQ(admitted(f, 5, [] { return user_ctx("carol", {"g9"}); }), 3);   // no group rule: the default
  EXPECT_EQ(admitted(f, 5, [] { return user_ctx("erin", {}); }), 3);
}

// A user in two limited groups is refused only when both are spent.
TEST(LimitStage, AUserInTwoGroupsIsRefusedWhenBothAreSpent) {
  Fixture f("  - {scope: group, match: g1, qpm: 1}\n  - {scope: group, match: g2, qpm: 2}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_EQ(admitted(f, 3, [] { return user_ctx("bob", {"g1", "g2"}); }), 3);
  auto c = user_ctx("bob", {"g1", "g2"});
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_NE(d->message.find("group 'g1'"), std::string::npos) << d->message;
  // Another member of g2 only finds it spent too.
  EXPECT_EQ(admitted(f, 1, [] { return user_ctx("ann", {"g2"}); }), 0);
}

// A model-scope limit applies to every caller of that model, keys and users alike.
TEST(LimitStage, ModelLimitAppliesToEveryone) {
  Fixture f("  - {scope: model, match: chat-small, qpm: 2}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_EQ(admitted(f, 1, [] { return key_ctx("k1"); }), 1);
  EXPECT_EQ(admitted(f, 1, [] { return user_ctx("alice", {}); }), 1);
  auto c = key_ctx("k2");
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_NE(d->message.find("model 'chat-small'"), std::string::npos) << d->message;
  EXPECT_EQ(admitted(f, 3, [] { return key_ctx("k2", "", "chat-big"); }), 3);  // another model
}

// A project limit is shared by the project's keys.
TEST(LimitStage, ProjectLimitIsSharedByItsKeys) {
  Fixture f("  - {scope: project, match: p1, qpm: 2}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_EQ(admitted(f, 1, [] { return key_ctx("k1", "p1"); }), 1);
  EXPECT_EQ(admitted(f, 1, [] { return key_ctx("k2", "p1"); }), 1);
  auto c = key_ctx("k3", "p1");
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_NE(d->message.find("project 'p1'"), std::string::npos) << d->message;
  EXPECT_EQ(admitted(f, 2, [] { return key_ctx("k1", "p2"); }), 2);
  EXPECT_EQ(admitted(f, 2, [] { return key_ctx("k1"); }), 2);
}

// Admitted answers carry OpenAI's x-ratelimit-* headers for the tightest limit.
TEST(LimitStage, ResponseHeaders) {
  Fixture f("  - {scope: key, match: k1, qpm: 10, tpm: 1000}\n");
  ASSERT_TRUE(f.stage);
  auto c = key_ctx("k1");
  c.request.estimated_input_tokens = 100;
  c.request.estimated_output_tokens = 50;
  ASSERT_FALSE(f.stage->on_routed(c));
  EXPECT_TRUE(c.accounting.limit_ticket);
  EXPECT_EQ(header(c, "x-ratelimit-limit-requests"), "10");
  EXPECT_EQ(header(c, "x-ratelimit-remaining-requests"), "9");
  EXPECT_EQ(header(c, "x-ratelimit-reset-requests"), "1m0s");
  EXPECT_EQ(header(c, "x-ratelimit-limit-tokens"), "1000");
  EXPECT_EQ(header(c, "x-ratelimit-remaining-tokens"), "850");
  EXPECT_EQ(header(c, "x-ratelimit-reset-tokens"), "1m0s");
  EXPECT_EQ(header(c, "x-should-retry"), "<none>");
  f.advance_s(15);
  auto next = key_ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(next));
  EXPECT_EQ(header(next, "x-ratelimit-remaining-requests"), "8");
  EXPECT_EQ(header(next, "x-ratelimit-reset-requests"), "45s");
  // No tokens rule: no tokens headers.
  Fixture g("  - {scope: key, qpm: 10}\n");
  auto only_requests = key_ctx("k1");
  ASSERT_FALSE(g.stage->on_routed(only_requests));
  EXPECT_EQ(header(only_requests, "x-ratelimit-limit-tokens"), "<none>");
  EXPECT_EQ(header(only_requests, "x-ratelimit-limit-requests"), "10");
}

// A requests refusal: 429, rate_limited, type "requests", Retry-After, a message naming the key.
TEST(LimitStage, RequestsRefusalError) {
  Fixture f("  - {scope: key, match: k1, qpm: 1}\n");
  ASSERT_TRUE(f.stage);
  auto first = key_ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(first));
  f.advance_s(20);
  auto c = key_ctx("k1");
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 429);
  EXPECT_EQ(d->kind, ErrorKind::kRateLimited);
  EXPECT_EQ(d->source, ErrorSource::kGateway);
  EXPECT_TRUE(d->retryable);
  EXPECT_EQ(d->type, "requests");
  EXPECT_EQ(d->code, "rate_limit_exceeded");
  EXPECT_EQ(d->retry_after_s, 40);
  EXPECT_EQ(d->message, "Rate limit reached for key 'k1': 1 requests per minute; retry in 40s");
  EXPECT_FALSE(c.accounting.limit_ticket);
  EXPECT_EQ(header(c, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(header(c, "x-ratelimit-reset-requests"), "40s");
  EXPECT_EQ(header(c, "x-should-retry"), "<none>");
}

// A tokens refusal: type "tokens"; a request bigger than the limit is "never" (x-should-retry: false).
TEST(LimitStage, TokensRefusalErrors) {
  Fixture f("  - {scope: key, tpm: 100}\n");
  ASSERT_TRUE(f.stage);
  auto first = key_ctx("k1");
  first.request.estimated_input_tokens = 60;
  first.request.estimated_output_tokens = 20;
  ASSERT_FALSE(f.stage->on_routed(first));
  auto c = key_ctx("k1");
  c.request.estimated_input_tokens = 30;
  c.request.estimated_output_tokens = 20;
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, "tokens");
  EXPECT_EQ(d->code, "rate_limit_exceeded");
  EXPECT_EQ(d->retry_after_s, 60);
  EXPECT_NE(d->message.find("key 'k1': 100 tokens per minute (this request needs about 50)"), std::string::npos)
      << d->message;

  auto huge = key_ctx("k2");
  huge.request.estimated_input_tokens = 90;
  huge.request.estimated_output_tokens = 20;
  auto never = f.stage->on_routed(huge);
  ASSERT_TRUE(never);
  EXPECT_EQ(never->status, 429);
  EXPECT_EQ(never->type, "tokens");
  EXPECT_FALSE(never->retryable);
  EXPECT_EQ(never->retry_after_s, -1);
  EXPECT_NE(never->message.find("needs about 110 tokens, more than key 'k2' may use in a minute (100)"),
            std::string::npos)
      << never->message;
  EXPECT_EQ(header(huge, "x-should-retry"), "false");
}

// Concurrency: code concurrency_limit_exceeded; a slot frees when a request completes.
TEST(LimitStage, ConcurrencyRefusalAndRelease) {
  Fixture f("  - {scope: key, match: k1, concurrency: 1}\n");
  ASSERT_TRUE(f.stage);
  auto first = key_ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(first));
  auto c = key_ctx("k1");
  auto d = f.stage->on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 429);
  EXPECT_EQ(d->type, "requests");
  EXPECT_EQ(d->code, "concurrency_limit_exceeded");
  EXPECT_EQ(d->retry_after_s, 1);
  EXPECT_NE(d->message.find("key 'k1': at most 1 at once"), std::string::npos) << d->message;
  f.stage->on_complete(c);      // a refused request has no ticket: nothing happens
  f.stage->on_complete(first);  // the first ends
  f.stage->on_complete(first);  // exactly once: a second completion frees nothing more
  auto second = key_ctx("k1");
  EXPECT_FALSE(f.stage->on_routed(second));
  auto third = key_ctx("k1");
  EXPECT_TRUE(f.stage->on_routed(third));
}

// on_complete settles the estimate to the reported usage: the next request sees limit - actual.
TEST(LimitStage, OnCompleteSettlesTheActualTokens) {
  Fixture f("  - {scope: key, match: k1, tpm: 1000}\n");
  ASSERT_TRUE(f.stage);
  auto c = key_ctx("k1");
  c.request.estimated_input_tokens = 300;
  c.request.estimated_output_tokens = 400;
  ASSERT_FALSE(f.stage->on_routed(c));
  EXPECT_EQ(header(c, "x-ratelimit-remaining-tokens"), "300");
  c.accounting.usage.known = true;
  c.accounting.usage.input_tokens = 40;
  c.accounting.usage.output_tokens = 10;
  f.stage->on_complete(c);
  auto next = key_ctx("k1");
  next.request.estimated_input_tokens = 0;
  next.request.estimated_output_tokens = 0;
  ASSERT_FALSE(f.stage->on_routed(next));
  EXPECT_EQ(header(next, "x-ratelimit-remaining-tokens"), "950");
  // No usage at all (the request never reached a provider): nothing is charged.
  next.accounting.usage = {};
  f.stage->on_complete(next);
  auto unknown = key_ctx("k1");
  unknown.request.estimated_input_tokens = 500;
  unknown.request.estimated_output_tokens = 0;
  ASSERT_FALSE(f.stage->on_routed(unknown));
  f.stage->on_complete(unknown);  // usage neither known nor estimated: settles to 0
  auto after = key_ctx("k1");
  after.request.estimated_input_tokens = 0;
  after.request.estimated_output_tokens = 0;
  ASSERT_FALSE(f.stage->on_routed(after));
  EXPECT_EQ(header(after, "x-ratelimit-remaining-tokens"), "950");
}

// An estimated usage (the provider said nothing but may bill) is charged as the estimate.
TEST(LimitStage, EstimatedUsageIsCharged) {
  Fixture f("  - {scope: key, tpm: 1000}\n");
  ASSERT_TRUE(f.stage);
  auto c = key_ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(c));
  c.accounting.usage.estimated = true;
  c.accounting.usage.input_tokens = 100;
  c.accounting.usage.output_tokens = 100;
  f.stage->on_complete(c);
  auto next = key_ctx("k1");
  next.request.estimated_input_tokens = 0;
  next.request.estimated_output_tokens = 0;
  ASSERT_FALSE(f.stage->on_routed(next));
  EXPECT_EQ(header(next, "x-ratelimit-remaining-tokens"), "800");
}

// A refused request charges no other limit; non-model requests and unlimited configs pass untouched.
TEST(LimitStage, RejectedAndNonModelRequestsChargeNothing) {
  Fixture f("  - {scope: key, match: k1, qpm: 1}\n  - {scope: model, match: chat-small, qpm: 10}\n");
  ASSERT_TRUE(f.stage);
  auto a = key_ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(a));
  for (int i = 0; i < 3; ++i) {
    auto refused = key_ctx("k1");
    ASSERT_TRUE(f.stage->on_routed(refused));
  }
  auto not_model = key_ctx("k2");
  not_model.request.model_request = false;  // GET /v1/models and the like
  EXPECT_FALSE(f.stage->on_routed(not_model));
  EXPECT_TRUE(not_model.response_headers.empty());
  EXPECT_FALSE(not_model.accounting.limit_ticket);
  auto b = key_ctx("k2");
  ASSERT_FALSE(f.stage->on_routed(b));
  EXPECT_EQ(header(b, "x-ratelimit-remaining-requests"), "8");  // 10 - k1's one - this one

  Fixture none("  - {scope: model, match: chat-big, qpm: 1}\n");
  auto free = key_ctx("k1");
  EXPECT_FALSE(none.stage->on_routed(free));
  EXPECT_TRUE(free.response_headers.empty());
  EXPECT_FALSE(free.accounting.limit_ticket);
}

}  // namespace
}  // namespace gatehouse::pipeline
