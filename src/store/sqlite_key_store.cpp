// The SQLite key store: one file shared by the `keys` CLI and every gateway process on the host.
// WAL lets readers (the gateways' watchers) run while a writer commits; the busy timeout makes a
// second writer wait instead of failing. Writes take the write lock up front (BEGIN IMMEDIATE) so
// two writers never deadlock on a read-to-write upgrade.
#include <sqlite3.h>

#include <cstring>
#include <map>
#include <mutex>

#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

class SqliteKeyStore final : public KeyStore {
 public:
  SqliteKeyStore(std::string path, Db db) : path_(std::move(path)), db_(std::move(db)) {}

  // Prepares every statement; an error message when the schema is not what this code expects.
  std::optional<std::string> prepare() {
    struct {
      Stmt* stmt;
      const char* sql;
    } all[] = {
        {&begin_read_, "BEGIN"},
        {&begin_write_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
        {&find_name_, "SELECT revoked_at FROM keys WHERE name = ?1"},
        {&insert_key_,
         "INSERT INTO keys (name, digest, prefix, role, project, created_at, expires_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&insert_tag_,
         "INSERT INTO key_tags (key_id, position, name, value) VALUES (?1, ?2, ?3, ?4)"},
        {&bump_, "UPDATE key_events SET version = version + 1 WHERE id = 1"},
        {&select_keys_,
         "SELECT id, name, digest, prefix, role, project, created_at, expires_at, revoked_at "
         "FROM keys ORDER BY id"},
        {&select_tags_, "SELECT key_id, name, value FROM key_tags ORDER BY key_id, position"},
        {&revoke_, "UPDATE keys SET revoked_at = ?1 WHERE name = ?2 AND revoked_at = 0"},
        {&version_, "SELECT version FROM key_events WHERE id = 1"},
    };
    for (auto& [stmt, sql] : all) {
      if (!sqlite::prepare(db_.get(), sql, *stmt)) return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  std::variant<StoredKey, std::string> create(const StoredKey& key) override {
    if (auto e = check_new_key(key)) return *e;
    StoredKey stored = key;
    if (stored.created_at == 0) stored.created_at = unix_now();
    stored.revoked_at = 0;

    std::lock_guard lock(mu_);
    auto tx = begin(begin_write_);
    if (!tx) return failure("starting a transaction");
    {
      Use find(find_name_);
      bind_text(find, 1, stored.name);
      int rc = sqlite3_step(find);
      if (rc == SQLITE_ROW) {
        bool revoked = sqlite3_column_int64(find, 0) != 0;
        return "a key named '" + stored.name + "' already exists in the store" +
               (revoked ? " (revoked; a name is never reused)" : "");
      }
      if (rc != SQLITE_DONE) return failure("looking up the name");
    }
    std::int64_t id = 0;
    {
      Use ins(insert_key_);
      bind_text(ins, 1, stored.name);
      sqlite3_bind_blob(ins, 2, stored.digest.data(), static_cast<int>(stored.digest.size()),
                        SQLITE_TRANSIENT);
      bind_text(ins, 3, stored.prefix);
      bind_text(ins, 4, stored.role);
      bind_text(ins, 5, stored.project);
      sqlite3_bind_int64(ins, 6, stored.created_at);
      sqlite3_bind_int64(ins, 7, stored.expires_at);
      int rc = sqlite3_step(ins);
      if (rc == SQLITE_CONSTRAINT_UNIQUE && std::strstr(sqlite3_errmsg(db_.get()), "keys.digest")) {
        return std::string("a key with this secret is already in the store");
      }
      if (rc != SQLITE_DONE) return failure("inserting the key");
      id = sqlite3_last_insert_rowid(db_.get());
    }
    for (std::size_t i = 0; i < stored.tags.size(); ++i) {
      Use tag(insert_tag_);
      sqlite3_bind_int64(tag, 1, id);
      sqlite3_bind_int64(tag, 2, static_cast<std::int64_t>(i));
      bind_text(tag, 3, stored.tags[i].first);
      bind_text(tag, 4, stored.tags[i].second);
      if (sqlite3_step(tag) != SQLITE_DONE) return failure("inserting tag " + stored.tags[i].first);
    }
    if (!bump()) return failure("counting the change");
    if (auto e = tx.commit()) return *e;
    return stored;
  }

  std::variant<std::vector<StoredKey>, std::string> list() override {
    std::lock_guard lock(mu_);
    // One read transaction: keys and tags from the same snapshot.
    auto tx = begin(begin_read_);
    if (!tx) return failure("starting a transaction");
    std::vector<StoredKey> keys;
    std::map<std::int64_t, std::size_t> index_of;
    {
      Use sel(select_keys_);
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        StoredKey k;
        k.name = column_text(sel, 1);
        const void* blob = sqlite3_column_blob(sel, 2);
        if (blob == nullptr || sqlite3_column_bytes(sel, 2) != static_cast<int>(k.digest.size())) {
          return "key store " + path_ + ": the digest of key '" + k.name + "' is damaged";
        }
        std::memcpy(k.digest.data(), blob, k.digest.size());
        k.prefix = column_text(sel, 3);
        k.role = column_text(sel, 4);
        k.project = column_text(sel, 5);
        k.created_at = sqlite3_column_int64(sel, 6);
        k.expires_at = sqlite3_column_int64(sel, 7);
        k.revoked_at = sqlite3_column_int64(sel, 8);
        index_of[sqlite3_column_int64(sel, 0)] = keys.size();
        keys.push_back(std::move(k));
      }
      if (rc != SQLITE_DONE) return failure("reading keys");
    }
    {
      Use sel(select_tags_);
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        auto it = index_of.find(sqlite3_column_int64(sel, 0));
        if (it == index_of.end()) continue;
        keys[it->second].tags.emplace_back(column_text(sel, 1), column_text(sel, 2));
      }
      if (rc != SQLITE_DONE) return failure("reading tags");
    }
    tx.commit();  // a read: nothing to lose if this fails
    return keys;
  }

  std::variant<bool, std::string> revoke(const std::string& name, std::int64_t now) override {
    std::lock_guard lock(mu_);
    auto tx = begin(begin_write_);
    if (!tx) return failure("starting a transaction");
    {
      Use upd(revoke_);
      sqlite3_bind_int64(upd, 1, now > 0 ? now : 1);  // 0 would mean "not revoked"
      bind_text(upd, 2, name);
      if (sqlite3_step(upd) != SQLITE_DONE) return failure("revoking");
    }
    if (sqlite3_changes(db_.get()) == 0) return false;
    if (!bump()) return failure("counting the change");
    if (auto e = tx.commit()) return *e;
    return true;
  }

  std::variant<std::uint64_t, std::string> version() override {
    std::lock_guard lock(mu_);
    Use sel(version_);
    if (sqlite3_step(sel) != SQLITE_ROW) return failure("reading the change counter");
    return static_cast<std::uint64_t>(sqlite3_column_int64(sel, 0));
  }

 private:
  // A transaction that rolls back unless committed.
  class Transaction {
   public:
    Transaction(SqliteKeyStore* store, bool ok) : store_(ok ? store : nullptr) {}
    Transaction(Transaction&& o) noexcept : store_(std::exchange(o.store_, nullptr)) {}
    ~Transaction() {
      if (store_) {
        Use rb(store_->rollback_);
        sqlite3_step(rb);
      }
    }
    explicit operator bool() const { return store_ != nullptr; }
    // An error message when the commit fails (the transaction is then rolled back).
    std::optional<std::string> commit() {
      SqliteKeyStore* s = std::exchange(store_, nullptr);
      {
        Use c(s->commit_);
        if (sqlite3_step(c) == SQLITE_DONE) return std::nullopt;
      }
      std::string e = s->failure("committing");
      if (!sqlite3_get_autocommit(s->db_.get())) {
        Use rb(s->rollback_);
        sqlite3_step(rb);
      }
      return e;
    }

   private:
    SqliteKeyStore* store_;
  };

  Transaction begin(const Stmt& how) {
    Use b(how);
    return Transaction(this, sqlite3_step(b) == SQLITE_DONE);
  }

  bool bump() {
    Use u(bump_);
    return sqlite3_step(u) == SQLITE_DONE && sqlite3_changes(db_.get()) == 1;
  }

  std::string failure(const std::string& doing) const {
    return "key store " + path_ + ": " + doing + ": " + sqlite3_errmsg(db_.get());
  }

  std::mutex mu_;  // one call at a time: the statements below are shared state
  const std::string path_;
  Db db_;
  Stmt begin_read_, begin_write_, commit_, rollback_, find_name_, insert_key_, insert_tag_, bump_,
      select_keys_, select_tags_, revoke_, version_;
};

}  // namespace

std::variant<std::unique_ptr<KeyStore>, std::string> open_sqlite(const std::string& path) {
  if (path.empty()) return std::string("key store: no file named (store.sqlite is empty)");
  const std::string what = "key store " + path;
  // FULL: a revoke survives a power cut. Writes are rare; the cost does not matter.
  auto opened = sqlite::open(path, what, "FULL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  if (auto e = sqlite::migrate(db.get(), what, schema::kKeys.version_name, schema::kKeys.steps)) return *e;

  auto store = std::make_unique<SqliteKeyStore>(path, std::move(db));
  if (auto e = store->prepare()) return *e;
  return std::unique_ptr<KeyStore>(std::move(store));
}

}  // namespace gatehouse::store
