#include <gtest/gtest.h>

#include "pipeline/kill_switch.h"

namespace gatehouse::pipeline {
namespace {

// ---- kill_error: what a caller covered by a kill is told.

// A 503 kill_switch from the gateway naming scope, value, reason and the kill's id.
TEST(KillSwitchError, NamesScopeValueReasonAndId) {
  Kill k{"kill-7", "model", "gpt-4o", "runaway costs", "admin@example.com", 1'700'000'000};
  Error e = kill_error(k);
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.code, "kill_switch");
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_EQ(e.source, ErrorSource::kGateway);
  EXPECT_EQ(e.message, "model 'gpt-4o' is switched off by an administrator: runaway costs (kill-7)");
  // Who switched it off is for the admin API, not for every caller.
  EXPECT_EQ(e.message.find("admin@example.com"), std::string::npos);
}

// Without a reason there is no dangling ": ".
TEST(KillSwitchError, WithoutReason) {
  Kill k{"kill-2", "provider", "openai", "", "ops", 0};
  EXPECT_EQ(kill_error(k).message, "provider 'openai' is switched off by an administrator (kill-2)");
}

// ---- KillSwitch: add, match, lift.

// A kill covers exactly its scope and value; ids are distinct; lifting it lets requests through.
TEST(KillSwitchError, AddMatchLift) {
  KillSwitch ks;
  EXPECT_FALSE(ks.match("m", "p", "proj", "key"));
  Kill a = ks.add("provider", "p", "outage", "ops");
  Kill b = ks.add("key", "k9", "leaked", "sec");
  EXPECT_NE(a.id, b.id);
  EXPECT_GT(a.at, 0);
  ASSERT_EQ(ks.list().size(), 2u);
  auto hit = ks.match("m", "p", "", "");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->id, a.id);
  EXPECT_FALSE(ks.match("m", "q", "", "k1"));
  EXPECT_EQ(ks.match("m", "q", "", "k9")->id, b.id);
  EXPECT_FALSE(ks.match("p", "", "p", "p"));  // the value "p" in another scope is not covered
  EXPECT_TRUE(ks.lift(a.id));
  EXPECT_FALSE(ks.lift(a.id));
  EXPECT_FALSE(ks.match("m", "p", "", ""));
  EXPECT_TRUE(ks.lift(b.id));
  EXPECT_FALSE(ks.match("m", "q", "", "k9"));
  EXPECT_TRUE(KillSwitch::valid_scope("project"));
  EXPECT_FALSE(KillSwitch::valid_scope("user"));
}

// Shared with other replicas: adds and lifts are told (with the replica's id prefix); the shared
// store's list replaces this one's without being told again.
TEST(KillSwitchShared, ObserverHearsAddsAndLiftsAndReplaceIsSilent) {
  KillSwitch ks;
  std::vector<std::string> heard;
  ks.set_observer([&](const Kill* added, std::string_view lifted) { heard.push_back(added ? "add " + added->id : "lift " + std::string(lifted)); },
                  "kill-r1-");
  Kill k = ks.add("model", "m", "why", "ops");
  EXPECT_EQ(k.id, "kill-r1-1");
  EXPECT_TRUE(ks.lift(k.id));
  EXPECT_FALSE(ks.lift("kill-none"));
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], "add kill-r1-1");
  EXPECT_EQ(heard[1], "lift kill-r1-1");

  ks.replace({Kill{"kill-r2-4", "model", "other", "elsewhere", "ops", 1}});
  EXPECT_EQ(heard.size(), 2u);
  ASSERT_TRUE(ks.match("other", "p", "", ""));
  EXPECT_EQ(ks.match("other", "p", "", "")->reason, "elsewhere");
  ks.replace({});
  EXPECT_FALSE(ks.match("other", "p", "", ""));
}

}  // namespace
}  // namespace gatehouse::pipeline
