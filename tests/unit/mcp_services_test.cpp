// The MCP governance services in the registry of long-lived services: built with mcp.servers,
// kept across a reload on the same store (a held call survives it), rebuilt for another store.
#include <gtest/gtest.h>

#include "app/services.h"
#include "config/load.h"
#include "mcp/approvals.h"
#include "mcp/pins.h"
#include "temp_dir.h"

namespace gatehouse::app {
namespace {

using test_util::TempDir;

std::shared_ptr<const config::Config> config_of(const std::string& db, const std::string& mcp) {
  std::string yaml =
      "providers:\n  local: {kind: openai-compatible, base_url: \"http://127.0.0.1:9/v1\"}\n"
      "models:\n  chat-small: {provider: local}\n";
  if (!db.empty()) yaml += "store:\n  sqlite: \"" + db + "\"\n";
  yaml += mcp;
  auto r = config::load_string(yaml, "g.yaml", [](const std::string&) { return std::nullopt; });
  for (const auto& d : r.diagnostics) ADD_FAILURE() << d.to_string();
  return r.config;
}

runtime::Services services_of(const config::Config& c, const runtime::Services* previous) {
  auto made = make_services(c, previous);
  if (auto* e = std::get_if<std::string>(&made)) {
    ADD_FAILURE() << *e;
    return {};
  }
  return std::get<runtime::Services>(std::move(made));
}

constexpr const char* kMcp =
    "mcp:\n  servers:\n    crm: {url: \"http://127.0.0.1:9/mcp\"}\n"
    "  approvals: {tools: [\"crm/delete_*\"]}\n";

TEST(McpServices, PinsAndApprovalsAreBuiltWithMcpServersAndKeptAcrossAReload) {
  TempDir dir;
  auto c = config_of(dir.file("g.db"), kMcp);
  ASSERT_TRUE(c);
  auto first = services_of(*c, nullptr);
  ASSERT_TRUE(first.pins);
  ASSERT_TRUE(first.approvals);
  auto reloaded = services_of(*c, &first);
  EXPECT_EQ(reloaded.pins, first.pins);
  EXPECT_EQ(reloaded.approvals, first.approvals);

  auto off = config_of(dir.file("g.db"), std::string(kMcp) + "  pinning: false\n");
  auto unpinned = services_of(*off, &reloaded);
  EXPECT_FALSE(unpinned.pins) << "mcp.pinning: false";
  EXPECT_EQ(unpinned.approvals, first.approvals);

  auto moved = config_of(dir.file("other.db"), kMcp);
  auto elsewhere = services_of(*moved, &unpinned);
  ASSERT_TRUE(elsewhere.pins);
  EXPECT_NE(elsewhere.approvals, first.approvals) << "another store, other approvals";
}

TEST(McpServices, NoneWithoutMcpServers) {
  TempDir dir;
  auto c = config_of(dir.file("g.db"), "");
  auto s = services_of(*c, nullptr);
  EXPECT_FALSE(s.pins);
  EXPECT_FALSE(s.approvals);
}

TEST(McpServices, WithoutAStorePinsLiveInMemoryAndSurviveAReload) {
  auto c = config_of("", "mcp:\n  servers:\n    crm: {url: \"http://127.0.0.1:9/mcp\"}\n");
  auto first = services_of(*c, nullptr);
  ASSERT_TRUE(first.pins);
  EXPECT_FALSE(first.approvals);
  auto reloaded = services_of(*c, &first);
  EXPECT_EQ(reloaded.pins, first.pins);
}

}  // namespace
}  // namespace gatehouse::app
