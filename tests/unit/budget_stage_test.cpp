#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "config/load.h"
#include "limit/budget.h"
#include "pipeline/budget.h"

namespace gatehouse::pipeline {
namespace {

using namespace std::chrono;

const std::string kConfig = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
models:
  chat-small: {provider: local, price: {input_per_million: 1000, output_per_million: 2000}}
  free-model: {provider: local}
store: {sqlite: "./unused.db"}
)";

std::int64_t utc(year_month_day d, int hour = 0) {
  return duration_cast<milliseconds>(sys_days(d).time_since_epoch() + hours(hour)).count();
}

// A config (models + `budgets_yaml`), a ledger on a fake clock, and the stage.
struct Fixture {
  std::shared_ptr<const config::Config> config;
  std::int64_t now_ms = utc(2024y / March / 15, 12);
  limit::BudgetLedger ledger{[this] { return now_ms; }};
  std::unique_ptr<BudgetStage> stage;

  explicit Fixture(const std::string& budgets_yaml) {
    auto r = config::load_string(kConfig + "budgets:\n" + budgets_yaml, "test.yaml",
                                 [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.to_string();
    config = r.config;
    if (config) stage = std::make_unique<BudgetStage>(*config, ledger, nullptr);
  }

  RequestContext ctx(const std::string& key, const std::string& project = "", const std::string& model = "chat-small") {
    RequestContext c;
    c.request.model_request = true;
    c.config = config.get();
    c.request.model = model;
    c.request.model_config = &config->models.at(model);
    c.identity.key_name = key;
    c.identity.project = project;
    return c;
  }

  // One request that is admitted and then costs `usd`; false when it was refused.
  bool spend(const std::string& key, double usd, const std::string& project = "") {
    auto c = ctx(key, project);
    if (stage->on_routed(c)) return false;
    c.upstream.served_model = c.request.model_config;
    c.accounting.cost_usd = usd;
    stage->on_complete(c);
    return true;
  }
};

std::string header(const RequestContext& c, const std::string& name) {
  for (const auto& [k, v] : c.response_headers) {
    if (k == name) return v;
  }
  return "<none>";
}

// A key's budget is refused once settled costs reach it: 429 budget_exceeded, no retry.
TEST(BudgetStage, KeyBudgetIsExceededAfterEnoughSpend) {
  Fixture f("  - {scope: key, match: k1, usd: 1.0, period: daily}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_TRUE(f.spend("k1", 0.6));
  EXPECT_TRUE(f.spend("k1", 0.5));
  EXPECT_DOUBLE_EQ(f.ledger.spent("key:k1", limit::Period::kDaily), 1.1);
  auto c = f.ctx("k1");
  auto e = f.stage->on_routed(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 429);
  EXPECT_EQ(e->kind, ErrorKind::kRateLimited);
  EXPECT_EQ(e->code, "budget_exceeded");
  EXPECT_EQ(e->type, "insufficient_quota");
  EXPECT_EQ(e->retry_after_s, 12 * 3600);  // at midnight UTC
  EXPECT_EQ(e->message, "key 'k1' has spent its daily budget ($1.10 of $1.00); it resets in 12h 0m");
  EXPECT_EQ(header(c, "x-should-retry"), "false");
  EXPECT_FALSE(c.accounting.budget_ticket);
  // Another key has no budget and is not affected.
  EXPECT_TRUE(f.spend("k2", 5));
  // The next day the budget is fresh.
  f.now_ms = utc(2024y / March / 16, 0);
  EXPECT_TRUE(f.spend("k1", 0.1));
}

// A budget without match applies to every key, each with its own spend.
TEST(BudgetStage, DefaultBudgetAppliesToEveryKey) {
  Fixture f("  - {scope: key, usd: 1}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_TRUE(f.spend("k1", 1.0));
  EXPECT_FALSE(f.spend("k1", 0.1));
  EXPECT_TRUE(f.spend("k2", 0.9));
  EXPECT_TRUE(f.spend("k2", 0.2));
  EXPECT_FALSE(f.spend("k2", 0.1));
  EXPECT_TRUE(f.spend("k3", 0.1));
  auto c = f.ctx("k1");
  auto e = f.stage->on_routed(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("key 'k1' has spent its monthly budget"), std::string::npos) << e->message;
  // A key's own rule for the same period replaces the default.
  Fixture g("  - {scope: key, usd: 1}\n  - {scope: key, match: vip, usd: 100}\n");
  EXPECT_TRUE(g.spend("vip", 50));
  EXPECT_TRUE(g.spend("vip", 1));
}

// A project budget is shared by the project's keys.
TEST(BudgetStage, ProjectBudgetIsSharedByItsKeys) {
  Fixture f("  - {scope: project, match: p1, usd: 2, period: weekly}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_TRUE(f.spend("k1", 1.5, "p1"));
  EXPECT_TRUE(f.spend("k2", 0.5, "p1"));
  EXPECT_FALSE(f.spend("k3", 0.1, "p1"));
  EXPECT_TRUE(f.spend("k3", 0.1, "p2"));
  EXPECT_TRUE(f.spend("k3", 0.1));
  auto c = f.ctx("k1", "p1");
  auto e = f.stage->on_routed(c);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("project 'p1' has spent its weekly budget ($2.00 of $2.00)"), std::string::npos)
      << e->message;
  EXPECT_EQ(e->retry_after_s, (utc(2024y / March / 18) - f.now_ms) / 1000);  // next Monday
}

// A total budget never resets: no Retry-After and a message saying so.
TEST(BudgetStage, TotalBudgetSaysItDoesNotReset) {
  Fixture f("  - {scope: key, match: k1, usd: 1, period: total}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_TRUE(f.spend("k1", 1));
  auto c = f.ctx("k1");
  auto e = f.stage->on_routed(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->retry_after_s, -1);
  EXPECT_NE(e->message.find("it is a total budget and does not reset"), std::string::npos) << e->message;
  EXPECT_EQ(header(c, "x-should-retry"), "false");
}

// The estimated cost (from the model's price) is reserved while a request is in flight.
TEST(BudgetStage, InFlightEstimatesAreReserved) {
  Fixture f("  - {scope: key, match: k1, usd: 1}\n");
  ASSERT_TRUE(f.stage);
  auto a = f.ctx("k1");
  a.request.estimated_input_tokens = 500;   // 500 * 1000 / 1e6 = $0.50
  a.request.estimated_output_tokens = 250;  // 250 * 2000 / 1e6 = $0.50
  ASSERT_FALSE(f.stage->on_routed(a));
  ASSERT_TRUE(a.accounting.budget_ticket);
  EXPECT_DOUBLE_EQ(a.accounting.budget_ticket->reserved, 1.0);
  auto b = f.ctx("k1");
  EXPECT_TRUE(f.stage->on_routed(b));  // $1 reserved: nothing left
  a.accounting.cost_usd = 0.2;
  f.stage->on_complete(a);
  EXPECT_DOUBLE_EQ(f.ledger.spent("key:k1", limit::Period::kMonthly), 0.2);
  auto c = f.ctx("k1");
  EXPECT_FALSE(f.stage->on_routed(c));
  // A model without a price reserves nothing.
  auto free = f.ctx("k1", "", "free-model");
  free.request.estimated_input_tokens = 1'000'000;
  ASSERT_FALSE(f.stage->on_routed(free));
  EXPECT_DOUBLE_EQ(free.accounting.budget_ticket->reserved, 0);
}

// Spend is followed for keys and projects without a budget (a reload may add one).
TEST(BudgetStage, SpendIsFollowedWithoutABudget) {
  Fixture f("  - {scope: project, match: other, usd: 1}\n");
  ASSERT_TRUE(f.stage);
  EXPECT_TRUE(f.spend("k1", 0.3, "p1"));
  EXPECT_DOUBLE_EQ(f.ledger.spent("key:k1", limit::Period::kMonthly), 0.3);
  EXPECT_DOUBLE_EQ(f.ledger.spent("project:p1", limit::Period::kMonthly), 0.3);
  auto not_model = f.ctx("k1");
  not_model.request.model_request = false;
  EXPECT_FALSE(f.stage->on_routed(not_model));
  EXPECT_FALSE(not_model.accounting.budget_ticket);
  // on_complete twice settles once.
  auto c = f.ctx("k1");
  ASSERT_FALSE(f.stage->on_routed(c));
  c.accounting.cost_usd = 0.1;
  f.stage->on_complete(c);
  f.stage->on_complete(c);
  EXPECT_DOUBLE_EQ(f.ledger.spent("key:k1", limit::Period::kMonthly), 0.4);
}

}  // namespace
}  // namespace gatehouse::pipeline
