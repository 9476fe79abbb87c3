#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/key_watcher.h"
#include "store/store_executor.h"
#include "temp_dir.h"

namespace gatehouse::store {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test_util::TempDir;

std::unique_ptr<KeyStore> open_or_fail(const std::string& path) {
  auto opened = open_sqlite(path);
  if (auto* e = std::get_if<std::string>(&opened)) {
    ADD_FAILURE() << *e;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<KeyStore>>(opened));
}

StoredKey key_named(const std::string& name, const std::string& secret = new_secret()) {
  StoredKey k;
  k.name = name;
  k.digest = config::sha256(secret);
  k.prefix = secret_prefix(secret);
  return k;
}

std::vector<StoredKey> list_of(KeyStore& s) {
  auto r = s.list();
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<std::vector<StoredKey>>(std::move(r));
}

std::uint64_t version_of(KeyStore& s) {
  auto r = s.version();
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<std::uint64_t>(r);
}

StoredKey created(KeyStore& s, const StoredKey& k) {
  auto r = s.create(k);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<StoredKey>(std::move(r));
}

TEST(StoreSecret, IsGhAnd43Base64UrlCharactersOf32RandomBytes) {
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 2000; ++i) {
    std::string s = new_secret();
    ASSERT_EQ(s.size(), 46u) << s;
    ASSERT_TRUE(s.starts_with("gh_")) << s;
    for (char c : s.substr(3)) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << s;
      chars.insert(c);
    }
    // 43 characters carry 258 bits; the last one only 4 (256 = 42 * 6 + 4): base64 of a
    // 2-byte tail sets the two low bits of the last character to zero.
    EXPECT_EQ(std::string("AEIMQUYcgkosw048").find(s.back()) != std::string::npos, true) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(chars.size(), 64u) << "2000 random keys use every base64url character";
  EXPECT_EQ(secret_prefix("gh_AbCdEfGhIjK"), "AbCdEfGh");
}

TEST(StoreKeyRules, NamesLifetimesDatesStatus) {
  EXPECT_FALSE(check_key_name("ci-bot_2.prod"));
  EXPECT_TRUE(check_key_name(""));
  EXPECT_TRUE(check_key_name("has space"));
  EXPECT_TRUE(check_key_name("slash/no"));
  EXPECT_TRUE(check_key_name(std::string(kMaxNameLength + 1, 'a')));

  EXPECT_EQ(parse_lifetime("90m"), 90 * 60);
  EXPECT_EQ(parse_lifetime("12h"), 12 * 3600);
  EXPECT_EQ(parse_lifetime("30d"), 30 * 86400);
  for (const char* bad : {"", "d", "30", "0d", "-1d", "1.5h", "30s", "1y", " 3d", "99999999999d"}) {
    EXPECT_FALSE(parse_lifetime(bad)) << bad;
  }

  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(1735689600 + 3661), "2025-01-01T01:01:01Z");

  StoredKey k = key_named("k");
  EXPECT_EQ(status_of(k, 100), KeyStatus::kActive);
  k.expires_at = 100;
  EXPECT_EQ(status_of(k, 99), KeyStatus::kActive);
  EXPECT_EQ(status_of(k, 100), KeyStatus::kExpired);
  k.revoked_at = 50;
  EXPECT_EQ(status_of(k, 10), KeyStatus::kRevoked);
  EXPECT_EQ(to_string(KeyStatus::kExpired), "expired");

  StoredKey tagged = key_named("t");
  tagged.tags = {{"team", "a"}, {"team", "b"}};
  ASSERT_TRUE(check_new_key(tagged));
  EXPECT_NE(check_new_key(tagged)->find("twice"), std::string::npos);
  tagged.tags = {{"bad tag", "a"}};
  EXPECT_TRUE(check_new_key(tagged));
  tagged.tags = {{"ok", "line\nbreak"}};
  EXPECT_TRUE(check_new_key(tagged));
}

TEST(SqliteKeyStore, CreateListRevokeAndTheVersionThatCountsThem) {
  TempDir dir;
  auto store = open_or_fail(dir.file("keys.db"));
  ASSERT_TRUE(store);
  std::uint64_t v0 = version_of(*store);
  EXPECT_TRUE(list_of(*store).empty());

  std::string secret = new_secret();
  StoredKey k = key_named("ci-bot", secret);
  k.role = "developer";
  k.project = "search";
  k.tags = {{"team", "platform"}, {"env", "prod"}, {"a", ""}};
  k.expires_at = 4102444800;  // 2100
  StoredKey stored = created(*store, k);
  EXPECT_GT(stored.created_at, 1700000000);
  std::uint64_t v1 = version_of(*store);
  EXPECT_NE(v1, v0);

  auto keys = list_of(*store);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].name, "ci-bot");
  EXPECT_EQ(keys[0].digest, config::sha256(secret));
  EXPECT_EQ(keys[0].prefix, secret.substr(3, 8));
  EXPECT_EQ(keys[0].role, "developer");
  EXPECT_EQ(keys[0].project, "search");
  EXPECT_EQ(keys[0].tags, k.tags);  // in the order given
  EXPECT_EQ(keys[0].created_at, stored.created_at);
  EXPECT_EQ(keys[0].expires_at, 4102444800);
  EXPECT_EQ(keys[0].revoked_at, 0);

  created(*store, key_named("second"));
  EXPECT_EQ(list_of(*store).size(), 2u);
  EXPECT_EQ(list_of(*store)[1].name, "second");  // oldest first
  std::uint64_t v2 = version_of(*store);
  EXPECT_NE(v2, v1);

  EXPECT_EQ(std::get<bool>(store->revoke("ci-bot", 1800000000)), true);
  std::uint64_t v3 = version_of(*store);
  EXPECT_NE(v3, v2);
  EXPECT_EQ(list_of(*store)[0].revoked_at, 1800000000);
  EXPECT_EQ(status_of(list_of(*store)[0], 1800000001), KeyStatus::kRevoked);

  // Revoking again, or a name that does not exist: false, and nothing changed.
  EXPECT_EQ(std::get<bool>(store->revoke("ci-bot", 1900000000)), false);
  EXPECT_EQ(std::get<bool>(store->revoke("nobody", 1900000000)), false);
  EXPECT_EQ(version_of(*store), v3);
  EXPECT_EQ(list_of(*store)[0].revoked_at, 1800000000);
}

TEST(SqliteKeyStore, NamesAreUniqueForEverAndBadKeysAreRefused) {
  TempDir dir;
  auto store = open_or_fail(dir.file("keys.db"));
  ASSERT_TRUE(store);
  created(*store, key_named("dup"));
  std::uint64_t v = version_of(*store);

  auto again = store->create(key_named("dup"));
  ASSERT_TRUE(std::holds_alternative<std::string>(again));
  EXPECT_NE(std::get<std::string>(again).find("a key named 'dup' already exists"),
            std::string::npos);

  ASSERT_TRUE(std::get<bool>(store->revoke("dup", 1800000000)));
  auto after_revoke = store->create(key_named("dup"));
  ASSERT_TRUE(std::holds_alternative<std::string>(after_revoke));
  EXPECT_NE(std::get<std::string>(after_revoke).find("revoked"), std::string::npos);

  std::string secret = new_secret();
  created(*store, key_named("one", secret));
  auto same_secret = store->create(key_named("two", secret));
  ASSERT_TRUE(std::holds_alternative<std::string>(same_secret));
  EXPECT_NE(std::get<std::string>(same_secret).find("secret"), std::string::npos);

  EXPECT_TRUE(std::holds_alternative<std::string>(store->create(key_named("bad name"))));
  StoredKey no_prefix = key_named("p");
  no_prefix.prefix.clear();
  EXPECT_TRUE(std::holds_alternative<std::string>(store->create(no_prefix)));

  // The failed creates left nothing behind: no row, no tag, no version change but the revoke's
  // and "one"'s.
  auto keys = list_of(*store);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[1].name, "one");
  EXPECT_NE(version_of(*store), v);
}

TEST(SqliteKeyStore, TwoConnectionsShareTheFileAndItsVersion) {
  TempDir dir;
  std::string path = dir.file("shared.db");
  auto a = open_or_fail(path);
  auto b = open_or_fail(path);
  ASSERT_TRUE(a && b);
  std::uint64_t v = version_of(*b);
  created(*a, key_named("from-a"));
  EXPECT_NE(version_of(*b), v) << "b sees a's change through the key_events counter";
  ASSERT_EQ(list_of(*b).size(), 1u);
  EXPECT_TRUE(std::get<bool>(b->revoke("from-a", 1800000000)));
  EXPECT_EQ(list_of(*a)[0].revoked_at, 1800000000);

  a.reset();
  b.reset();
  auto reopened = open_or_fail(path);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(list_of(*reopened).size(), 1u);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(SqliteKeyStore, RecordsItsSchemaVersionAndRefusesNewerOrForeignFiles) {
  TempDir dir;
  std::string path = dir.file("schema.db");
  ASSERT_TRUE(open_or_fail(path));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'keys.schema_version'", -1,
                               &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "1");
  sqlite3_finalize(s);
  // WAL: the journal mode is a property of the file.
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE name = 'keys.schema_version'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  auto newer = open_sqlite(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(newer));
  EXPECT_NE(std::get<std::string>(newer).find("schema version is 99"), std::string::npos)
      << std::get<std::string>(newer);

  std::string text = dir.file("not-a-db.db");
  std::ofstream(text) << "this is a text file, not a database, and long enough to have a header\n";
  auto foreign = open_sqlite(text);
  ASSERT_TRUE(std::holds_alternative<std::string>(foreign));
  EXPECT_NE(std::get<std::string>(foreign).find(text), std::string::npos);

  auto missing_dir = open_sqlite(dir.file("no/such/dir/keys.db"));
  ASSERT_TRUE(std::holds_alternative<std::string>(missing_dir));
  EXPECT_NE(std::get<std::string>(missing_dir).find("cannot open or create"), std::string::npos);
}

TEST(KeyIndex, HoldsActiveKeysAndChecksExpiryAtLookup) {
  std::string live = new_secret(), soon = new_secret(), revoked = new_secret(), gone = new_secret();
  StoredKey a = key_named("live", live);
  StoredKey b = key_named("soon", soon);
  b.expires_at = 1000;
  StoredKey c = key_named("revoked", revoked);
  c.revoked_at = 10;
  StoredKey d = key_named("gone", gone);
  d.expires_at = 500;
  KeyIndex index({a, b, c, d}, 600);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.next_expiry(), 1000);
  ASSERT_TRUE(index.find(config::sha256(live), 600));
  EXPECT_EQ(index.find(config::sha256(live), 600)->name, "live");
  EXPECT_TRUE(index.find(config::sha256(soon), 999));
  EXPECT_FALSE(index.find(config::sha256(soon), 1000)) << "expired after the index was built";
  EXPECT_FALSE(index.find(config::sha256(revoked), 600));
  EXPECT_FALSE(index.find(config::sha256(gone), 600));
  EXPECT_FALSE(index.find(config::sha256("gh_unknown"), 600));
}

// An expired key is told it expired, and when (its holder then knows to ask for a new one rather
// than check the key it pasted); a revoked or unknown key is not distinguished from a wrong one.
TEST(KeyIndex, SaysWhenAKeyExpired) {
  std::string soon = new_secret(), revoked = new_secret(), gone = new_secret();
  StoredKey b = key_named("soon", soon);
  b.expires_at = 1000;
  StoredKey c = key_named("revoked", revoked);
  c.revoked_at = 10;
  c.expires_at = 400;
  StoredKey d = key_named("gone", gone);
  d.expires_at = 500;
  KeyIndex index({b, c, d}, 600);
  EXPECT_EQ(index.expired_at(config::sha256(gone), 600), 500) << "expired before the index was built";
  EXPECT_EQ(index.expired_at(config::sha256(soon), 999), 0) << "still active";
  EXPECT_EQ(index.expired_at(config::sha256(soon), 1000), 1000) << "expired after the index was built";
  EXPECT_EQ(index.expired_at(config::sha256(revoked), 600), 0) << "revoked: not said";
  EXPECT_EQ(index.expired_at(config::sha256("gh_unknown"), 600), 0);
}

// Waits up to `limit` for `pred`; returns how long it took, or nullopt.
template <class Pred>
std::optional<std::chrono::milliseconds> within(std::chrono::milliseconds limit, Pred pred) {
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (pred()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST(KeyWatcher, SeesACreateAndARevokeByAnotherConnectionWithinASecondAndAHalf) {
  TempDir dir;
  std::string path = dir.file("watched.db");
  auto writer = open_or_fail(path);
  ASSERT_TRUE(writer);
  std::string before = new_secret();
  created(*writer, key_named("before", before));

  auto opened = open_sqlite(path);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyStore>>(opened));
  std::shared_ptr<KeyStore> watched = std::move(std::get<std::unique_ptr<KeyStore>>(opened));
  auto started = KeyWatcher::start(watched);  // the real 500 ms interval
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyWatcher>>(started));
  auto& watcher = *std::get<std::unique_ptr<KeyWatcher>>(started);
  // Loaded before start() returned.
  EXPECT_TRUE(watcher.current()->find(config::sha256(before), unix_now()));

  std::string secret = new_secret();
  created(*writer, key_named("new-key", secret));
  auto seen =
      within(1500ms, [&] { return watcher.current()->find(config::sha256(secret), unix_now()); });
  ASSERT_TRUE(seen) << "a created key is not seen within 1.5 s";

  ASSERT_TRUE(std::get<bool>(writer->revoke("new-key", unix_now())));
  auto gone =
      within(1500ms, [&] { return !watcher.current()->find(config::sha256(secret), unix_now()); });
  ASSERT_TRUE(gone) << "a revoked key is still accepted after 1.5 s";
  EXPECT_TRUE(watcher.current()->find(config::sha256(before), unix_now()));
}

TEST(KeyWatcher, RepublishesWhenAnExpiryPassesWithoutAnyChange) {
  TempDir dir;
  auto store = open_or_fail(dir.file("expiry.db"));
  ASSERT_TRUE(store);
  StoredKey k = key_named("short");
  k.expires_at = 2000;
  created(*store, k);
  std::shared_ptr<KeyStore> shared = std::move(store);

  std::atomic<std::int64_t> now{1000};
  auto started = KeyWatcher::start(shared, {20ms, [&] { return now.load(); }});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyWatcher>>(started));
  auto& watcher = *std::get<std::unique_ptr<KeyWatcher>>(started);
  EXPECT_EQ(watcher.current()->size(), 1u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(watcher.publications(), 1u) << "no change, no expiry: nothing to publish";

  now = 2000;
  ASSERT_TRUE(within(1000ms, [&] { return watcher.current()->size() == 0; }));
  EXPECT_EQ(watcher.current()->next_expiry(), 0);
}

// A store whose calls fail while `failing` is set.
class FlakyStore final : public KeyStore {
 public:
  std::atomic<bool> failing{false};
  std::atomic<std::uint64_t> v{1};
  StoredKey key = key_named("only");

  std::variant<StoredKey, std::string> create(const StoredKey& k) override { return k; }
  std::variant<std::vector<StoredKey>, std::string> list() override {
    if (failing) return std::string("flaky: disk on fire");
    return std::vector<StoredKey>{key};
  }
  std::variant<bool, std::string> revoke(const std::string&, std::int64_t) override {
    return false;
  }
  std::variant<std::uint64_t, std::string> version() override {
    if (failing) return std::string("flaky: disk on fire");
    return v.load();
  }
};

TEST(KeyWatcher, KeepsTheLastGoodIndexWhileTheStoreFails) {
  auto flaky = std::make_shared<FlakyStore>();
  auto started = KeyWatcher::start(flaky, {10ms, {}});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyWatcher>>(started));
  auto& watcher = *std::get<std::unique_ptr<KeyWatcher>>(started);
  auto first = watcher.current();
  ASSERT_EQ(first->size(), 1u);

  flaky->failing = true;
  flaky->v = 2;
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(watcher.current(), first);

  flaky->failing = false;
  ASSERT_TRUE(within(1000ms, [&] { return watcher.current() != first; }));
  EXPECT_EQ(watcher.current()->size(), 1u);

  auto broken = std::make_shared<FlakyStore>();
  broken->failing = true;
  auto refused = KeyWatcher::start(broken);
  ASSERT_TRUE(std::holds_alternative<std::string>(refused));
  EXPECT_NE(std::get<std::string>(refused).find("disk on fire"), std::string::npos);
}

TEST(StoreExecutor, RunsOnTheStoreThreadAndResumesOnTheCallersThread) {
  TempDir dir;
  auto opened = open_sqlite(dir.file("exec.db"));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyStore>>(opened));
  std::shared_ptr<KeyStore> store = std::move(std::get<std::unique_ptr<KeyStore>>(opened));
  StoreExecutor executor(store);

  boost::asio::io_context io;  // the "worker": run by this test's thread
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on, resumed_on;
  std::string created_name;
  bool threw = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        auto r = co_await executor.run<std::variant<StoredKey, std::string>>([&](KeyStore& s) {
          ran_on = std::this_thread::get_id();
          return s.create(key_named("via-executor"));
        });
        resumed_on = std::this_thread::get_id();
        if (auto* k = std::get_if<StoredKey>(&r)) created_name = k->name;
        try {
          co_await executor.run<int>([](KeyStore&) -> int { throw std::runtime_error("boom"); });
        } catch (const std::runtime_error& e) {
          threw = std::string(e.what()) == "boom";
        }
      },
      boost::asio::detached);
  // run() returns only when the coroutine finished: the calls in flight count as work.
  io.run();
  EXPECT_EQ(ran_on, executor.thread_id());
  EXPECT_NE(ran_on, caller);
  EXPECT_EQ(resumed_on, caller);
  EXPECT_EQ(created_name, "via-executor");
  EXPECT_TRUE(threw);
  EXPECT_EQ(list_of(*store).size(), 1u);
}

}  // namespace
}  // namespace gatehouse::store
